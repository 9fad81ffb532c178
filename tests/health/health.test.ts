import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createRuntime } from '../../src/runtime.js';
import { uniquePrefix, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { deleteKeys } from '../support/redis-keys.js';
import { startTestService } from '../support/test-runtime.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('health probes', () => {
  it('answers startup 503 until started, then every probe 200 with components', async () => {
    const config = loadConfig({ NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', QUEUE_PREFIX: uniquePrefix('h') });
    const runtime = await createRuntime(config, pino({ level: 'silent' }), { databaseUrl: db.url, redisUrl: inject('redisUrl') });
    try {
      expect((await runtime.app.inject('/health/startup')).statusCode).toBe(503);
      expect((await runtime.app.inject('/health/ready')).json()).toEqual({ status: 'not_ready', reason: 'starting' });
      expect((await runtime.app.inject('/health/live')).statusCode).toBe(200);
      await runtime.start();
      for (const path of ['/health/live', '/health/ready', '/health/startup']) {
        const reply = await runtime.app.inject(path);
        expect(reply.statusCode, path).toBe(200);
        expect(reply.json()).toEqual({ status: 'ok' });
      }
      const health = (await runtime.app.inject('/health')).json();
      expect(health).toMatchObject({ status: 'ok', version: '0.0.0' });
      expect(new Date(health.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(health.components.map((c: { name: string }) => c.name)).toEqual(['postgres', 'redis', 'persist-worker']);
      for (const c of health.components) {
        expect(c.status).toBe('ok');
        expect(c.response_time_ms).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await runtime.stop();
      await deleteKeys(inject('redisUrl'), config.queuePrefix);
    }
  });

  it('turns readiness 503 first on shutdown while liveness stays 200', async () => {
    const service = await startTestService(db.url, { SHUTDOWN_DELAY_MS: '400' });
    const stopping = service.runtime.stop();
    const ready = await fetch(`${service.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', reason: 'shutting down' });
    expect((await fetch(`${service.baseUrl}/health/live`)).status).toBe(200);
    expect((await fetch(`${service.baseUrl}/health`)).status).toBe(503);
    expect(await stopping).toBe(true);
  });

  it('runs the api and worker roles apart, each with its own metrics and health', async () => {
    const api = await startTestService(db.url, { ROLE: 'api' });
    const worker = await startTestService(db.url, { ROLE: 'worker', QUEUE_PREFIX: api.queuePrefix });
    try {
      const apiHealth = (await (await fetch(`${api.baseUrl}/health`)).json()) as { components: { name: string }[] };
      expect(apiHealth.components.map((c) => c.name)).toEqual(['postgres', 'redis']);
      const workerHealth = (await (await fetch(`${worker.baseUrl}/health`)).json()) as { components: { name: string }[] };
      expect(workerHealth.components.map((c) => c.name)).toContain('persist-worker');
      expect((await fetch(`${worker.baseUrl}/live-data/webhooks/custom`, { method: 'POST' })).status).toBe(404);
      expect(await (await fetch(`${api.baseUrl}/metrics`)).text()).toContain('vertigo_build_info{version="0.0.0",role="api"');
      const workerMetrics = await (await fetch(`${worker.baseUrl}/metrics`)).text();
      expect(workerMetrics).toContain('role="worker"');
      expect(workerMetrics).toContain('# TYPE vertigo_persist_batch_duration_seconds histogram');
    } finally {
      await worker.stop();
      await api.stop();
    }
  });
});
