import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

let db: TestDatabase;
let service: TestService;

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url);
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

describe('GET /health/detailed', () => {
  it('gives a viewer the components, this process, its lifecycle and the queue counts', async () => {
    expect((await fetch(`${service.baseUrl}/health/detailed`)).status).toBe(401);
    // A job waiting on the queue shows in the counts (the worker of this service is paused for that moment).
    await service.runtime.queue.pause();
    await service.runtime.queue.add('persist', { deliveries: [] });
    const res = await fetch(`${service.baseUrl}/health/detailed`, { headers: await apiKeyHeader(db.pool, 'viewer') });
    await service.runtime.queue.resume();
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(body.status).toBe('ok');
    expect(body.components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['postgres', 'redis']));
    expect(body.process).toMatchObject({ role: 'all', pid: process.pid, node_version: process.version });
    expect(body.process.rss_bytes).toBeGreaterThan(10 * 2 ** 20);
    expect(body.lifecycle).toEqual({ started: true, migrated: true, shutting_down: false });
    expect(body.queues.persist).toMatchObject({ waiting: 1, failed: 0 });
  });
});
