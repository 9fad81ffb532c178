import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { unusedAccess } from '../support/api-auth.js';
import { loadConfig } from '../../src/config/config.js';
import { Lifecycle } from '../../src/health/lifecycle.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { WebhookMetrics } from '../../src/metrics/webhook.metrics.js';
import { createErrorReporter } from '../../src/observability/sentry.js';
import { signedHeaders, customTrace } from '../support/webhook-client.js';
import { SECRETS } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';

/** A local Sentry ingest endpoint: collects the envelopes the real SDK posts to /api/<project>/envelope/. */
let sink: Server;
const envelopes: string[] = [];
beforeAll(async () => {
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      envelopes.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
});
afterAll(() => new Promise<void>((resolve) => sink.close(() => resolve())));

describe('unexpected errors', () => {
  it('are answered 500 without internals and reported to Sentry', async () => {
    const { port } = sink.address() as { port: number };
    const config = loadConfig({ NODE_ENV: 'test', CUSTOM_WEBHOOK_SECRET: SECRETS.custom, SENTRY_DSN: `http://public@127.0.0.1:${port}/1` });
    const registry = createMetricsRegistry({ version: 'test', role: 'api' });
    const reporter = await createErrorReporter(config);
    const app = await buildApp({
      config,
      logger: pino({ level: 'silent' }),
      registry,
      lifecycle: new Lifecycle(),
      checks: [],
      reporter,
      access: unusedAccess(),
      ingest: {
        // Forces the failure: a bug deep in the enqueue path, with a secret in its message.
        producer: { enqueue: () => Promise.reject(new Error('enqueue exploded: password=hunter2')) },
        metrics: new WebhookMetrics(registry),
      },
    });
    const body = customTrace('boom');
    const unauthorized = await app.inject({ method: 'POST', url: '/live-data/webhooks/custom', payload: body, headers: { 'content-type': 'application/json' } });
    expect(unauthorized.statusCode).toBe(401);
    const reply = await app.inject({ method: 'POST', url: '/live-data/webhooks/custom', payload: body, headers: signedHeaders('custom', body) });
    expect(reply.statusCode).toBe(500);
    expect(reply.json()).toEqual({ error: { code: 'internal_error', message: 'internal server error' } });
    expect(reply.body).not.toContain('hunter2');
    await reporter.flush(5000);
    const envelope = await waitFor(() => envelopes.find((e) => e.includes('enqueue exploded')));
    expect(envelope).toContain('"type":"event"');
    expect(envelope).toContain(reply.headers['x-request-id'] as string);
    // Client errors are the sender's problem, not ours: the 401 sent first was not reported.
    expect(envelopes.filter((e) => e.includes('"type":"event"'))).toHaveLength(1);
    const metrics = await registry.metrics();
    expect(metrics).toContain('vertigo_webhook_requests_total{source="custom",outcome="internal_error"} 1');
    await app.close();
  });
});
