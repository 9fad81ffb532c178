import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMappings, MappingError, parseMappings } from '../../src/sync/mapping.js';

const dir = mkdtempSync(join(tmpdir(), 'vertigo-mappings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { collection: 'calls', cursor: { field: 'updatedAt' }, fields: {} };

describe('collection mappings', () => {
  it('ships valid defaults for traces and meetings', () => {
    const mappings = loadMappings(undefined);
    expect(mappings.map((m) => m.collection)).toEqual(['traces', 'meetings']);
    expect(mappings[0]).toMatchObject({ source: 'firestore', cursor: { field: 'updatedAt', type: 'timestamp' }, live: true });
  });

  it('fills defaults for the optional parts', () => {
    expect(parseMappings({ collections: [minimal] })[0]).toEqual({ ...minimal, source: 'firestore', cursor: { field: 'updatedAt', type: 'timestamp' }, live: true, metadata: [] });
  });

  it('names the wrong field of a bad mapping', () => {
    const bad = (collections: unknown[]) => () => parseMappings({ collections }, 'm.json');
    expect(bad([{ ...minimal, source: 'kafka' }])).toThrow(/^m\.json: collections\[0\]\.source: /);
    expect(bad([{ ...minimal, fields: { tokens: 'x' } }])).toThrow(/collections\[0\]\.fields: .*tokens/);
    expect(bad([{ ...minimal, fields: { model: { path: 'a', paths: ['b'] } } }])).toThrow(/give exactly one of path or paths/);
    expect(bad([{ ...minimal, fields: { status: { path: 's', transform: 'upper' } } }])).toThrow(/collections\[0\]\.fields\.status\.transform/);
    expect(bad([{ ...minimal, collection: 'a/b' }])).toThrow(/top-level collection id/);
    expect(bad([minimal, minimal])).toThrow(/mapped twice/);
    expect(bad([])).toThrow(/collections/);
  });

  it('reads a file, and says which file and why it cannot', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ collections: [minimal] }));
    expect(loadMappings(good).map((m) => m.collection)).toEqual(['calls']);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"collections": [');
    expect(() => loadMappings(broken)).toThrow(MappingError);
    expect(() => loadMappings(broken)).toThrow(/broken\.json: not valid JSON/);
    expect(() => loadMappings(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read \(ENOENT\)/);
  });

  it('documents mappings with an example that is itself valid', () => {
    const doc = readFileSync(new URL('../../docs/firestore-sync.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    expect(parseMappings(JSON.parse(example!)).length).toBeGreaterThan(0);
  });
});
