import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTcpProxy, type TcpProxy, throughProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { cleanUp, duplicatedTraces, metricValue, probe, sendTraces, sleep, traceIds } from './fault-helpers.js';

/**
 * Redis unreachable: a webhook cannot be made durable, so it is answered 503 with Retry-After (the sender
 * retries later) and never stored; once Redis is back, webhooks are accepted and stored again.
 */

const ENQUEUE_TIMEOUT_MS = 1500;

describe('Redis outage', () => {
  let db: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  let service: TestService | undefined;
  const queuePrefix = uniquePrefix('redis-outage');

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(inject('redisUrl'));
    proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    service = await startTestService(
      db.url,
      { QUEUE_PREFIX: queuePrefix, ENQUEUE_TIMEOUT_MS: String(ENQUEUE_TIMEOUT_MS) },
      { redisUrl: throughProxy(inject('redisUrl'), proxy) },
    );
  });

  afterAll(async () => {
    await cleanUp(
      () => proxy?.resume(),
      () => service?.stop(),
      () => proxy?.close(),
      () => db?.drop(),
    );
  });

  it('answers 503 queue_unavailable while Redis is unreachable, stores none of it, and recovers', async () => {
    const pool = db!.pool;
    const baseUrl = service!.baseUrl;
    const queueUnavailable = () => metricValue(baseUrl, 'vertigo_webhook_requests_total', { source: 'custom', outcome: 'queue_unavailable' });

    // Redis up: accepted and stored.
    expect((await sendTraces(baseUrl, ['redis-before'])).status).toBe(202);
    await waitFor(async () => (await traceIds(pool)).includes('redis-before'));
    expect(await queueUnavailable()).toBe(0);

    // Redis unreachable: 503 with Retry-After and the JSON error, within a few seconds.
    await proxy!.pause();
    const refused = ['redis-down-1', 'redis-down-2', 'redis-down-3'];
    const started = Date.now();
    const single = await sendTraces(baseUrl, [refused[0]!]);
    const elapsed = Date.now() - started;
    expect(single.status, JSON.stringify(single.body)).toBe(503);
    expect(elapsed).toBeLessThan(ENQUEUE_TIMEOUT_MS + 2000);
    expect(single.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(single.headers.get('content-type')).toMatch(/^application\/json/);
    expect(single.body).toEqual({ error: { code: 'queue_unavailable', message: expect.any(String) } });
    const batch = await sendTraces(baseUrl, refused.slice(1));
    expect(batch.status).toBe(503);
    expect(batch.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(batch.body).toEqual({ error: { code: 'queue_unavailable', message: expect.any(String) } });

    // Counted on /metrics, which still answers (without queue depths); readiness says Redis is down.
    expect(await queueUnavailable()).toBe(2);
    expect(await metricValue(baseUrl, 'vertigo_queue_up', { queue: 'persist' })).toBe(0);
    const ready = await probe(baseUrl, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.reason).toMatch(/^redis: /);
    expect((await probe(baseUrl, '/health/live')).status).toBe(200);

    // Redis back: accepted again, and the sentinel sent after the refused events lands...
    await sleep(500);
    await proxy!.resume();
    await waitFor(async () => (await probe(baseUrl, '/health/ready')).status === 200, 15_000, 100);
    const sentinel = await sendTraces(baseUrl, ['redis-after']);
    expect(sentinel.status, JSON.stringify(sentinel.body)).toBe(202);
    expect(sentinel.body).toMatchObject({ status: 'accepted', delivery_id: 'evt-redis-after', events: 1 });
    await waitFor(async () => (await traceIds(pool)).includes('redis-after'), 15_000, 100);
    const more = await sendTraces(baseUrl, ['redis-after-2', 'redis-after-3']);
    expect(more.status).toBe(202);
    await waitFor(async () => (await traceIds(pool)).length === 4, 15_000, 100);
    // ...nothing is left in the queue that could still bring the refused ones in...
    await waitFor(async () => {
      const c = await service!.runtime.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(c).every((n) => n === 0);
    });
    // ...and the refused events are nowhere.
    expect(await traceIds(pool)).toEqual(['redis-after', 'redis-after-2', 'redis-after-3', 'redis-before']);
    const { rows } = await pool.query<{ delivery_id: string }>('SELECT delivery_id FROM webhook_events ORDER BY delivery_id');
    expect(rows.map((r) => r.delivery_id)).toEqual(['evt-redis-after', 'evt-redis-after-2', 'evt-redis-after-3', 'evt-redis-before']);
    expect(await duplicatedTraces(pool)).toEqual([]);
    expect(await queueUnavailable()).toBe(2);
    expect(await metricValue(baseUrl, 'vertigo_webhook_requests_total', { source: 'custom', outcome: 'accepted' })).toBe(3);
    expect(await metricValue(baseUrl, 'vertigo_queue_up', { queue: 'persist' })).toBe(1);
  });
});
