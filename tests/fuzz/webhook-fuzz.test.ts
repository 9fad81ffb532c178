import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FUZZ_SERVICE_ENV } from '../../scripts/fuzz.js';
import { auditStorage, waitForDrain } from '../../scripts/fuzz/audit.js';
import { HEAP_PROBE_FLAGS, heapAfterGc, heapFile, heapGrowthLimit, sampleRss } from '../../scripts/fuzz/heap.js';
import { Ledger, type Violation } from '../../scripts/fuzz/ledger.js';
import { runCorpus, runProperty, type Target } from '../../scripts/fuzz/run.js';
import { type ChildService, startChildService } from '../support/child-service.js';
import { deleteKeys } from '../support/redis-keys.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { PROPERTIES } from './arbitraries.js';
import { CORPUS } from './corpus.js';

/**
 * The webhook fuzzer, briefly: the whole hand-written corpus and FUZZ_RUNS (default 200) fast-check runs of each
 * property against the service as a child process, then the heap after GC and the storage audit. The
 * long run is `npm run fuzz -- --requests 100000` (scripts/fuzz.ts). FUZZ_SEED=<n> replays a run.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 4;
const MB = 1024 * 1024;

let db: TestDatabase;
let service: ChildService;
let queuePrefix: string;
let target: Target;
let heapStart: NodeJS.MemoryUsage;
let rss: ReturnType<typeof sampleRss>;
const ledger = new Ledger();
const heap = heapFile();

const show = (violations: readonly Violation[]) => violations.map((v) => `${v.label}:\n  ${v.problems.join('\n  ')}`).join('\n\n');

beforeAll(async () => {
  db = await createTestDatabase();
  queuePrefix = uniquePrefix('fuzz');
  service = await startChildService({
    databaseUrl: db.url,
    redisUrl: inject('redisUrl'),
    queuePrefix,
    name: 'fuzzed',
    env: { ...FUZZ_SERVICE_ENV, NODE_OPTIONS: HEAP_PROBE_FLAGS.join(' '), FUZZ_HEAP_FILE: heap },
  });
  target = { baseUrl: service.baseUrl, ledger, timeoutMs: 20_000, alive: () => service.running };
  rss = sampleRss(service.pid);
});

afterAll(async () => {
  rss?.stop();
  const replies = [...ledger.replies].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} × ${k}`).join(', ');
  const samples = rss?.samples ?? [];
  console.log(`webhook fuzz (seed ${SEED}): ${ledger.requests} requests; ${replies}\n`
    + `RSS ${samples[0]?.toFixed(0)} → ${samples.at(-1)?.toFixed(0)} MB (peak ${Math.max(...samples).toFixed(0)} MB)`);
  await service?.stop();
  rmSync(heap, { force: true });
  await deleteKeys(inject('redisUrl'), queuePrefix);
  await db?.drop();
});

describe(`webhook fuzzing (FUZZ_SEED=${SEED})`, () => {
  it(`answers the ${CORPUS.length} hand-written nasties as documented`, async () => {
    await runCorpus(target, CONCURRENCY);
    await waitForDrain(service.baseUrl);
    heapStart = await heapAfterGc(service.pid, heap);
    expect(show(ledger.violations)).toBe('');
  });

  for (const property of PROPERTIES) {
    it(property.name, async () => {
      const failure = await runProperty(target, property, RUNS, SEED);
      expect(failure ?? '').toBe('');
    });
  }

  it('keeps running, with a flat heap after GC', async () => {
    await waitForDrain(service.baseUrl);
    const end = await heapAfterGc(service.pid, heap);
    expect(service.running).toBe(true);
    const growth = end.heapUsed - heapStart.heapUsed;
    expect(growth / MB, `heap after GC ${(heapStart.heapUsed / MB).toFixed(1)} → ${(end.heapUsed / MB).toFixed(1)} MB`)
      .toBeLessThan(heapGrowthLimit(heapStart.heapUsed) / MB);
  });

  it('stores every accepted event, and nothing of a rejected request', async () => {
    await waitForDrain(service.baseUrl);
    await sleep(1000); // failed jobs mark their events a moment after the job fails
    const before = ledger.violations.length;
    await auditStorage(db.pool, ledger);
    expect(show(ledger.violations.slice(before))).toBe('');
  });
});
