import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample } from '../support/prometheus-text.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { customTrace, sendSigned } from '../support/webhook-client.js';
import { waitFor } from '../support/wait-for.js';

let db: TestDatabase;
let service: TestService;

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url, {
    PERSIST_MAX_ATTEMPTS: '3',
    PERSIST_BACKOFF_MS: '20',
    PERSIST_MAX_BACKOFF_MS: '100',
    // A long flush interval, so that the events sent together below are written in one transaction.
    PERSIST_FLUSH_INTERVAL_MS: '300',
  });
  // Forces a failure that no retry can fix: PostgreSQL refuses this one model.
  await db.pool.query("ALTER TABLE live_traces ADD CONSTRAINT refuse_poison CHECK (model IS DISTINCT FROM 'poison')");
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

describe('persist worker', () => {
  it('keeps a job that keeps failing in the failed set, marks the refused events failed, and stores the rest', async () => {
    const replies = await Promise.all([
      sendSigned(service.baseUrl, 'custom', customTrace('healthy-1')),
      sendSigned(service.baseUrl, 'custom', customTrace('poisoned', { model: 'poison' })),
      sendSigned(service.baseUrl, 'custom', customTrace('healthy-2')),
    ]);
    expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);

    const failed = await waitFor(async () => (await service.runtime.queue.getFailed())[0]);
    expect(failed.failedReason).toMatch(/refuse_poison/);
    expect(failed.attemptsMade).toBe(3);
    // Deliveries that arrived together may share the job: only the refused one failed.
    expect(failed.data.deliveries.flat().map((e) => e.deliveryId)).toContain('evt-poisoned');

    const { rows } = await db.pool.query('SELECT external_id FROM live_traces ORDER BY 1');
    expect(rows.map((r) => r.external_id)).toEqual(['healthy-1', 'healthy-2']);
    const event = await waitFor(async () =>
      (await db.pool.query("SELECT status, error FROM webhook_events WHERE delivery_id = 'evt-poisoned' AND status = 'failed'")).rows[0]);
    expect(event.error).toMatch(/refuse_poison/);
    const { rows: statuses } = await db.pool.query("SELECT delivery_id, status FROM webhook_events WHERE delivery_id LIKE 'evt-healthy-%' ORDER BY 1");
    expect(statuses).toEqual([{ delivery_id: 'evt-healthy-1', status: 'processed' }, { delivery_id: 'evt-healthy-2', status: 'processed' }]);

    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    expect(sample(metrics, 'vertigo_queue_job_failures_total', { queue: 'persist', final: 'true' })).toBe(1);
    expect(sample(metrics, 'vertigo_queue_job_failures_total', { queue: 'persist', final: 'false' })).toBe(2);
    expect(sample(metrics, 'vertigo_queue_jobs', { queue: 'persist', state: 'failed' })).toBe(1);
    expect(sample(metrics, 'vertigo_persist_events_total', { source: 'custom', status: 'failed' })).toBe(1);
    expect(sample(metrics, 'vertigo_persist_batch_duration_seconds_count', { result: 'error' })).toBeGreaterThanOrEqual(1);
  });

  it('writes the events of concurrent jobs in shared transactions', async () => {
    const before = sample(await (await fetch(`${service.baseUrl}/metrics`)).text(), 'vertigo_persist_batch_events_count') ?? 0;
    const ids = Array.from({ length: 40 }, (_, i) => `together-${i}`);
    const replies = await Promise.all(ids.map((id) => sendSigned(service.baseUrl, 'custom', customTrace(id))));
    expect(replies.every((r) => r.status === 202)).toBe(true);
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM live_traces WHERE external_id LIKE 'together-%'")).rows[0].n === 40);
    const after = sample(await (await fetch(`${service.baseUrl}/metrics`)).text(), 'vertigo_persist_batch_events_count')!;
    expect(after - before).toBeLessThan(10);
  });
});
