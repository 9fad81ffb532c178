import { type Firestore, Timestamp } from '@google-cloud/firestore';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrate.js';
import { CollectionReader } from '../../src/sync/collection-reader.js';
import { CollectionSync } from '../../src/sync/collection-sync.js';
import { type CollectionMapping, parseMappings } from '../../src/sync/mapping.js';
import { DEFAULT_MAPPINGS } from '../../src/sync/default-mappings.js';
import { readCursor } from '../../src/sync/sync-status.repository.js';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestore-emulator.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * The sync run against the Firestore emulator and PostgreSQL: pages, ties on the cursor across page boundaries,
 * an interrupted run resumed, malformed documents, and a full sync that deletes what Firestore no longer has.
 */

const logger = pino({ level: 'silent' });
const BASE = Date.parse('2026-11-20T00:00:00Z');
const at = (offsetMs: number) => Timestamp.fromMillis(BASE + offsetMs);

let emulator: FirestoreEmulator;
let firestore: Firestore;
let db: TestDatabase;
let counter = 0;
/** Trace ids are per collection: two collections of one source share the trace id space. */
let prefix = '';

beforeAll(async () => {
  emulator = await startFirestoreEmulator();
  firestore = emulator.client();
  db = await createTestDatabase();
  await migrate(db.url, logger);
});
afterAll(async () => {
  await emulator?.stop();
  await db?.drop();
});

/** A collection of its own per test, mapped like the shipped `traces` mapping. */
function newCollection(overrides: Partial<CollectionMapping> = {}): CollectionMapping {
  const base = parseMappings(DEFAULT_MAPPINGS)[0]!;
  prefix = `c${++counter}:`;
  return { ...base, collection: `traces_${counter}`, ...overrides };
}

function syncFor(mapping: CollectionMapping, batchSize: number, reader = new CollectionReader(firestore, mapping, { attempts: 3, baseMs: 10, maxMs: 50 })) {
  return new CollectionSync({ pool: db.pool, reader, batchSize, logger });
}

async function writeDocs(collection: string, docs: { id: string; data: Record<string, unknown> }[]) {
  for (let i = 0; i < docs.length; i += 400) {
    const batch = firestore.batch();
    for (const d of docs.slice(i, i + 400)) batch.set(firestore.collection(collection).doc(d.id), d.data);
    await batch.commit();
  }
}

const trace = (i: number, updatedAt: Timestamp, extra: Record<string, unknown> = {}) => ({
  traceId: `${prefix}t-${i}`,
  name: 'chat',
  model: 'gpt-4o-mini',
  status: 'completed',
  latencyMs: 100 + i,
  usage: { inputTokens: 10, outputTokens: 5 },
  costUsd: 0.001,
  updatedAt,
  ...extra,
});

async function traceIds(collection: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ external_id: string }>(
    `SELECT external_id FROM live_traces WHERE metadata->'firestore'->>'collection' = $1 ORDER BY external_id`,
    [collection],
  );
  return rows.map((r) => r.external_id.slice(r.external_id.indexOf(':') + 1));
}

async function eventCounts(collection: string): Promise<{ events: number; distinct: number }> {
  const { rows } = await db.pool.query<{ events: number; distinct: number }>(
    `SELECT count(*)::int AS events, count(DISTINCT payload->>'document')::int AS distinct
       FROM webhook_events WHERE source = 'firestore' AND payload->>'collection' = $1`,
    [collection],
  );
  return rows[0]!;
}

describe('incremental sync', () => {
  it('reads many pages in cursor order and stores every document once', async () => {
    const mapping = newCollection();
    const docs = Array.from({ length: 1250 }, (_, i) => ({ id: `doc-${String(i).padStart(5, '0')}`, data: trace(i, at(i * 1000)) }));
    await writeDocs(mapping.collection, docs);

    const result = await syncFor(mapping, 100).run({ mode: 'incremental', hoursBack: 24 * 365 * 5 });
    expect(result.status).toBe('done');
    expect(result.documents).toBe(1250);
    expect(result.outcomes.written).toBe(1250);
    const ids = await traceIds(mapping.collection);
    expect(ids).toHaveLength(1250);
    expect(new Set(ids).size).toBe(1250);
    const { rows } = await db.pool.query(
      `SELECT model, status, latency_ms, input_tokens, output_tokens, cost_usd, updated_at FROM live_traces WHERE external_id = $2 AND metadata->'firestore'->>'collection' = $1`,
      [mapping.collection, `${prefix}t-7`],
    );
    expect(rows[0]).toMatchObject({ model: 'gpt-4o-mini', status: 'success', latency_ms: 107, input_tokens: 10, output_tokens: 5, cost_usd: 0.001 });
    expect((rows[0].updated_at as Date).toISOString()).toBe(new Date(BASE + 7000).toISOString());
    // The cursor rests on the newest document, all of its ties read.
    expect(await readCursor(db.pool, 'firestore', mapping.collection)).toEqual({ value: '2026-11-20T00:20:49.000000000Z', documentId: null });

    // A second run finds nothing new and writes nothing.
    const again = await syncFor(mapping, 100).run({ mode: 'incremental', hoursBack: 24 });
    expect(again.documents).toBe(0);
    expect(await eventCounts(mapping.collection)).toEqual({ events: 1250, distinct: 1250 });
  });

  it('loses nothing when many documents share one cursor value across page boundaries', async () => {
    const mapping = newCollection();
    // 5 before, 230 sharing one instant (more than two pages of 100), 5 after; ids not in insertion order.
    const docs = [
      ...Array.from({ length: 5 }, (_, i) => ({ id: `a-${i}`, data: trace(i, at(i)) })),
      ...Array.from({ length: 230 }, (_, i) => ({ id: `tie-${String((i * 37) % 230).padStart(3, '0')}`, data: trace(100 + i, at(10_000)) })),
      ...Array.from({ length: 5 }, (_, i) => ({ id: `z-${i}`, data: trace(900 + i, at(20_000 + i)) })),
    ];
    await writeDocs(mapping.collection, docs);

    const result = await syncFor(mapping, 100).run({ mode: 'incremental', hoursBack: 24 * 365 * 5 });
    expect(result.documents).toBe(240);
    expect(await traceIds(mapping.collection)).toHaveLength(240);
    expect(await eventCounts(mapping.collection)).toEqual({ events: 240, distinct: 240 });
  });

  it('resumes an interrupted run after its last committed page: nothing missing, nothing twice', async () => {
    const mapping = newCollection();
    const docs = [
      ...Array.from({ length: 300 }, (_, i) => ({ id: `d-${String(i).padStart(4, '0')}`, data: trace(i, at(i * 10)) })),
      // A group of ties the interruption falls into.
      ...Array.from({ length: 150 }, (_, i) => ({ id: `tie-${String(i).padStart(4, '0')}`, data: trace(1000 + i, at(5000)) })),
      ...Array.from({ length: 100 }, (_, i) => ({ id: `e-${String(i).padStart(4, '0')}`, data: trace(2000 + i, at(6000 + i)) })),
    ];
    await writeDocs(mapping.collection, docs);

    // The reader breaks for good after a few reads, as a process killed mid-run would stop.
    const reader = new CollectionReader(firestore, mapping, { attempts: 1, baseMs: 10, maxMs: 10 });
    let reads = 0;
    for (const method of ['after', 'at'] as const) {
      const original = reader[method].bind(reader) as (...args: unknown[]) => Promise<unknown>;
      (reader as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        if (++reads > 5) throw Object.assign(new Error('connection reset'), { code: 14 });
        return original(...args);
      };
    }
    await expect(syncFor(mapping, 50, reader).run({ mode: 'incremental', hoursBack: 24 * 365 * 5 })).rejects.toThrow(/connection reset/);
    const partial = (await traceIds(mapping.collection)).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(550);
    const { rows } = await db.pool.query(`SELECT last_error, records_total FROM sync_status WHERE collection = $1`, [mapping.collection]);
    expect(rows[0].last_error).toMatch(/connection reset/);
    expect(rows[0].records_total).toBe(partial);

    const resumed = await syncFor(mapping, 50).run({ mode: 'incremental', hoursBack: 24 });
    expect(resumed.documents).toBe(550 - partial);
    expect(await traceIds(mapping.collection)).toHaveLength(550);
    expect(await eventCounts(mapping.collection)).toEqual({ events: 550, distinct: 550 });
  });

  it('records a malformed document with its id and reason and goes on', async () => {
    const mapping = newCollection();
    await writeDocs(mapping.collection, [
      { id: 'good-1', data: trace(1, at(1)) },
      { id: 'bad-tokens', data: trace(2, at(2), { usage: { inputTokens: -5 } }) },
      { id: 'bad-status', data: trace(3, at(3), { status: 'exploded' }) },
      { id: 'good-2', data: trace(4, at(4)) },
    ]);
    const result = await syncFor(mapping, 10).run({ mode: 'incremental', hoursBack: 24 * 365 * 5 });
    expect(result.outcomes).toMatchObject({ written: 2, malformed: 2 });
    expect(await traceIds(mapping.collection)).toEqual(['t-1', 't-4']);
    const { rows } = await db.pool.query(
      `SELECT payload->>'document' AS document, status, error FROM webhook_events
        WHERE payload->>'collection' = $1 AND status = 'ignored' ORDER BY 1`,
      [mapping.collection],
    );
    expect(rows).toEqual([
      { document: 'bad-status', status: 'ignored', error: expect.stringMatching(/^malformed: status: must be one of/) },
      { document: 'bad-tokens', status: 'ignored', error: 'malformed: usage.inputTokens: must not be negative' },
    ]);
    const status = await db.pool.query(`SELECT malformed_last_run, last_error FROM sync_status WHERE collection = $1`, [mapping.collection]);
    expect(status.rows[0]).toEqual({ malformed_last_run: 2, last_error: null });
  });

  it('starts hours_back before now on the first run', async () => {
    const mapping = newCollection();
    const now = Date.now();
    await writeDocs(mapping.collection, [
      { id: 'old', data: trace(1, Timestamp.fromMillis(now - 30 * 3600_000)) },
      { id: 'recent', data: trace(2, Timestamp.fromMillis(now - 2 * 3600_000)) },
    ]);
    await syncFor(mapping, 10).run({ mode: 'incremental', hoursBack: 24 });
    expect(await traceIds(mapping.collection)).toEqual(['t-2']);
  });
});

describe('full sync', () => {
  it('re-reads the window and deletes the traces whose documents were deleted in Firestore', async () => {
    const mapping = newCollection();
    const now = Date.now();
    const docs = Array.from({ length: 30 }, (_, i) => ({ id: `doc-${i}`, data: trace(i, Timestamp.fromMillis(now - (i + 1) * 60_000)) }));
    await writeDocs(mapping.collection, docs);
    await syncFor(mapping, 10).run({ mode: 'incremental', hoursBack: 24 });
    expect(await traceIds(mapping.collection)).toHaveLength(30);

    for (const id of ['doc-3', 'doc-4', 'doc-17']) await firestore.collection(mapping.collection).doc(id).delete();
    const result = await syncFor(mapping, 10).run({ mode: 'full', hoursBack: 168 });
    expect(result.deleted).toBe(3);
    expect(result.outcomes.unchanged).toBe(27);
    const ids = await traceIds(mapping.collection);
    expect(ids).toHaveLength(27);
    expect(ids).not.toContain('t-3');
    const tombstones = await db.pool.query(`SELECT external_id FROM live_trace_tombstones WHERE source = 'firestore' AND external_id LIKE $1 ORDER BY 1`, [`${prefix}%`]);
    expect(tombstones.rows.map((r) => r.external_id)).toEqual(['t-17', 't-3', 't-4'].map((t) => prefix + t));
    // The incremental cursor is where the incremental run left it.
    expect((await readCursor(db.pool, 'firestore', mapping.collection))?.documentId).toBeNull();
  });

  it('deletes nothing when the re-read does not finish', async () => {
    const mapping = newCollection();
    const now = Date.now();
    await writeDocs(mapping.collection, Array.from({ length: 20 }, (_, i) => ({ id: `doc-${i}`, data: trace(i, Timestamp.fromMillis(now - (i + 1) * 60_000)) })));
    await syncFor(mapping, 5).run({ mode: 'incremental', hoursBack: 24 });
    await firestore.collection(mapping.collection).doc('doc-0').delete();
    const controller = new AbortController();
    const result = await syncFor(mapping, 5).run({
      mode: 'full',
      hoursBack: 168,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(result.status).toBe('stopped');
    expect(result.deleted).toBe(0);
    expect(await traceIds(mapping.collection)).toHaveLength(20);
  });
});
