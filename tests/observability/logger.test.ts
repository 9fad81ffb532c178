import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { unusedAccess } from '../support/api-auth.js';
import { loadConfig } from '../../src/config/config.js';
import { Lifecycle } from '../../src/health/lifecycle.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { WebhookMetrics } from '../../src/metrics/webhook.metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { createErrorReporter } from '../../src/observability/sentry.js';
import { SECRETS } from '../support/test-runtime.js';
import { customTrace, signedHeaders } from '../support/webhook-client.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('carry the request id on every line of a request and never a signature or secret', async () => {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'debug', role: 'api', version: 'test' }, stream);
    const config = loadConfig({ NODE_ENV: 'test', CUSTOM_WEBHOOK_SECRET: SECRETS.custom });
    const registry = createMetricsRegistry({ version: 'test', role: 'api' });
    const app = await buildApp({
      config, logger, registry, lifecycle: new Lifecycle(), checks: [], reporter: await createErrorReporter(config), access: unusedAccess(),
      ingest: { producer: { enqueue: () => Promise.resolve() }, metrics: new WebhookMetrics(registry) },
    });
    const body = customTrace('logged');
    const headers = { ...signedHeaders('custom', body), authorization: 'Bearer top-secret-token', 'x-request-id': 'req-abc-123' };
    const ok = await app.inject({ method: 'POST', url: '/live-data/webhooks/custom', payload: body, headers });
    expect(ok.statusCode).toBe(202);
    expect(ok.headers['x-request-id']).toBe('req-abc-123');
    const bad = await app.inject({ method: 'POST', url: '/live-data/webhooks/custom', payload: body, headers: { ...headers, 'x-signature': 'sha256=00', 'x-request-id': 'req-bad-1' } });
    expect(bad.statusCode).toBe(401);
    logger.info({ req: { headers } }, 'a careless line that logs headers');
    await app.close();

    const ofRequest = lines.filter((l) => l.reqId === 'req-abc-123');
    expect(ofRequest.length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((l) => l.reqId === 'req-bad-1').some((l) => l.code === 'invalid_signature')).toBe(true);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('top-secret-token');
    expect(text).not.toContain(signedHeaders('custom', body)['x-signature']);
    expect(text).not.toContain(SECRETS.custom);
    expect(text).toContain('[redacted]');
    expect(lines.every((l) => l.service === 'vertigo-live' && typeof l.time === 'string' && typeof l.level === 'string')).toBe(true);
  });
});
