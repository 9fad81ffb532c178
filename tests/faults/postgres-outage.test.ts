import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy, throughProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import {
  cleanUp,
  duplicatedTraces,
  eventStatuses,
  metricValue,
  probe,
  range,
  sendTraces,
  sleep,
  traceCount,
  traceIds,
} from './fault-helpers.js';

/**
 * PostgreSQL unreachable for a few seconds: webhooks are still accepted (the API needs only Redis), readiness
 * says the database is down, nothing is written, and once the database is back every event lands once.
 */

const OUTAGE_MS = 5000;

describe('PostgreSQL outage', () => {
  let db: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  let service: TestService | undefined;
  const queuePrefix = uniquePrefix('pg-outage');

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(inject('databaseUrl'));
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    service = await startTestService(throughProxy(db.url, proxy), {
      QUEUE_PREFIX: queuePrefix,
      PERSIST_BACKOFF_MS: '200',
      PERSIST_MAX_BACKOFF_MS: '1000',
    });
  });

  afterAll(async () => {
    await cleanUp(
      () => proxy?.resume(),
      () => service?.stop(),
      () => proxy?.close(),
      () => db?.drop(),
    );
  });

  it('accepts events while the database is down and stores each of them once it is back', async () => {
    const pool = db!.pool;
    const baseUrl = service!.baseUrl;
    const failedAttempts = () => metricValue(baseUrl, 'vertigo_queue_job_failures_total', { queue: 'persist', final: 'false' });

    // Database up: events land.
    const before = range('pg-before', 0, 10);
    expect((await sendTraces(baseUrl, before.slice(0, 5))).status).toBe(202);
    for (const id of before.slice(5)) expect((await sendTraces(baseUrl, [id])).status).toBe(202);
    await waitFor(async () => (await traceCount(pool)) === before.length);
    expect((await probe(baseUrl, '/health/ready')).status).toBe(200);
    expect(await failedAttempts()).toBe(0);

    // Database unreachable: the API still answers 202, readiness 503, and no row appears.
    await proxy!.pause();
    const outageStarted = Date.now();
    const during = range('pg-during', 0, 30);
    for (let i = 0; i < during.length; i += 10) {
      const batch = await sendTraces(baseUrl, during.slice(i, i + 5));
      expect(batch.status, JSON.stringify(batch.body)).toBe(202);
      expect(batch.body).toMatchObject({ status: 'accepted', events: 5 });
      for (const id of during.slice(i + 5, i + 10)) {
        const single = await sendTraces(baseUrl, [id]);
        expect(single.status, JSON.stringify(single.body)).toBe(202);
        expect(single.body).toMatchObject({ status: 'accepted', delivery_id: `evt-${id}`, events: 1 });
      }
    }
    const ready = await probe(baseUrl, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not_ready' });
    expect(ready.body.reason).toMatch(/^postgres: /);
    expect((await probe(baseUrl, '/health/live')).status).toBe(200);
    const health = await probe(baseUrl, '/health');
    expect(health.status).toBe(503);
    expect(health.body.components).toContainEqual(expect.objectContaining({ name: 'postgres', status: 'down' }));
    expect(health.body.components).toContainEqual(expect.objectContaining({ name: 'redis', status: 'ok' }));

    // The worker keeps trying, and says so on /metrics.
    await waitFor(async () => (await failedAttempts()) > 0, OUTAGE_MS);
    while (Date.now() - outageStarted < OUTAGE_MS) {
      expect(await traceCount(pool)).toBe(before.length);
      await sleep(250);
    }
    expect((await probe(baseUrl, '/health/ready')).status).toBe(503);
    const failuresDuringOutage = await failedAttempts();
    expect(failuresDuringOutage).toBeGreaterThan(0);

    // Database back: everything lands exactly once, readiness recovers, no job was given up on.
    await proxy!.resume();
    const all = [...before, ...during];
    await waitFor(async () => (await traceCount(pool)) === all.length, 15_000, 100);
    await waitFor(async () => (await probe(baseUrl, '/health/ready')).status === 200, 10_000, 100);
    expect(await traceIds(pool)).toEqual([...all].sort());
    expect(await duplicatedTraces(pool)).toEqual([]);
    await waitFor(async () => (await eventStatuses(pool)).processed === all.length, 5000);
    expect(await eventStatuses(pool)).toEqual({ processed: all.length });
    expect(await failedAttempts()).toBeGreaterThanOrEqual(failuresDuringOutage);
    expect(await metricValue(baseUrl, 'vertigo_queue_job_failures_total', { queue: 'persist', final: 'true' })).toBe(0);
    const counts = await service!.runtime.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });
});
