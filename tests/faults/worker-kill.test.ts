import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { type ChildService, startChildService } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import {
  cleanUp,
  duplicatedTraces,
  eventStatuses,
  queueCounts,
  range,
  sendTraces,
  sleep,
  traceCount,
  traceIds,
} from './fault-helpers.js';
import { deleteKeys } from '../support/redis-keys.js';

/**
 * A persist worker SIGKILLed while it is writing is restarted: every acknowledged event ends up stored exactly
 * once. The API runs in this process (ROLE=api), the workers are child processes (ROLE=worker) whose short
 * lock makes the jobs the dead worker held come back quickly.
 */

const TOTAL_BATCHES = 50;
const EVENTS_PER_BATCH = 100;
const TOTAL = TOTAL_BATCHES * EVENTS_PER_BATCH;
/** The worker is killed once this many traces are stored (and the rest still on their way). */
const KILL_AT = 1000;
/** Batches sent before the kill is awaited: the rest are sent while no worker runs. */
const BATCHES_BEFORE_KILL = 35;

const WORKER_ENV = {
  WORKER_LOCK_DURATION_MS: '3000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  // Smaller transactions than the default, so the worker is caught with several of them in flight.
  PERSIST_BATCH_SIZE: '200',
};

describe('persist worker killed mid-batch', () => {
  const redisUrl = inject('redisUrl');
  const queuePrefix = uniquePrefix('kill');
  let db: TestDatabase | undefined;
  let api: TestService | undefined;
  const workers: ChildService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startTestService(db.url, { ROLE: 'api', QUEUE_PREFIX: queuePrefix, WEBHOOK_RATE_LIMIT_MAX: '1000000' });
  });

  afterAll(async () => {
    await cleanUp(
      ...workers.map((w) => () => w.stop(2000)),
      () => api?.stop(),
      () => deleteKeys(redisUrl, queuePrefix),
      () => db?.drop(),
    );
  });

  it('loses and duplicates nothing when the worker is SIGKILLed and restarted', async () => {
    onTestFailed(() => {
      for (const w of workers) console.error(w.output());
    });
    const pool = db!.pool;
    const startWorker = async (name: string) => {
      const worker = await startChildService({ databaseUrl: db!.url, redisUrl, queuePrefix, role: 'worker', name, env: WORKER_ENV });
      workers.push(worker);
      return worker;
    };
    const first = await startWorker('worker-1');

    // Senders: two at a time, 100 known ids per delivery. Each id answered 202 is acknowledged.
    const acknowledged = new Set<string>();
    const rejected: { status: number; body: unknown }[] = [];
    let next = 0;
    let killed: (() => void) | undefined;
    const killDone = new Promise<void>((resolve) => (killed = resolve));
    const sender = async () => {
      while (next < TOTAL_BATCHES) {
        const batch = next++;
        if (batch >= BATCHES_BEFORE_KILL) await killDone;
        const ids = range('kill', batch * EVENTS_PER_BATCH, (batch + 1) * EVENTS_PER_BATCH);
        const reply = await sendTraces(api!.baseUrl, ids);
        if (reply.status === 202) ids.forEach((id) => acknowledged.add(id));
        else rejected.push({ status: reply.status, body: reply.body });
      }
    };
    const sending = Promise.all([sender(), sender()]);

    // Some rows but not all: kill the worker while it writes.
    const before = await waitFor(async () => {
      const n = await traceCount(pool);
      return n >= KILL_AT ? n : 0;
    }, 20_000, 10);
    expect(before).toBeLessThan(TOTAL);
    expect(first.kill('SIGKILL')).toBe(true);
    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');
    const counts = await queueCounts(redisUrl, queuePrefix);
    killed!();

    // Nothing is written any more: what was in flight is either committed already or rolled back.
    await sleep(300);
    const afterKill = await traceCount(pool);
    await sleep(1500);
    expect(await traceCount(pool)).toBe(afterKill);
    expect(afterKill).toBeLessThan(TOTAL);

    await sending;
    expect(rejected).toEqual([]);
    expect(acknowledged.size).toBe(TOTAL);
    // The rest of the events wait in the queue while no worker runs.
    expect(await traceCount(pool)).toBe(afterKill);

    await startWorker('worker-2');
    await waitFor(async () => (await traceCount(pool)) === acknowledged.size, 30_000, 100);

    const stored = await traceIds(pool);
    expect(stored.length).toBe(acknowledged.size);
    expect(new Set(stored)).toEqual(acknowledged);
    expect(await duplicatedTraces(pool)).toEqual([]);
    // Every event has its row, processed; none is left half-stored as `received`.
    await waitFor(async () => (await eventStatuses(pool)).processed === TOTAL, 10_000, 100);
    expect(await eventStatuses(pool)).toEqual({ processed: TOTAL });
    const { rows } = await pool.query<{ n: string; redelivered: string }>(
      'SELECT count(*) AS n, count(*) FILTER (WHERE attempts > 1) AS redelivered FROM webhook_events',
    );
    expect(Number(rows[0]!.n)).toBe(TOTAL);
    // The queue is empty: nothing waiting, nothing given up on.
    await waitFor(async () => {
      const c = await queueCounts(redisUrl, queuePrefix);
      return c.waiting === 0 && c.active === 0 && c.delayed === 0 && c.prioritized === 0;
    }, 10_000, 100);
    expect((await queueCounts(redisUrl, queuePrefix)).failed).toBe(0);
    console.info(
      `worker-kill: killed at ${before} rows (${afterKill} after the kill; queue then: ${JSON.stringify(counts)}); ` +
        `${rows[0]!.redelivered} events redelivered after the restart`,
    );
  });
});
