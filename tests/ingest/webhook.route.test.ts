import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { SECRETS, startTestService, type TestService } from '../support/test-runtime.js';
import { customTrace, fixture, post, sendSigned, signedHeaders } from '../support/webhook-client.js';
import { customSignature, timestampedSignature } from '../support/signing.js';
import { waitFor } from '../support/wait-for.js';

let db: TestDatabase;
let service: TestService;

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url, { CUSTOM_WEBHOOK_SECRET: `old-secret-123,${SECRETS.custom}` });
});

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const traceRow = async (externalId: string, source = 'custom') =>
  (await db.pool.query('SELECT * FROM live_traces WHERE source = $1 AND external_id = $2', [source, externalId])).rows[0];

const eventRows = async (source: string, deliveryId: string) =>
  (await db.pool.query('SELECT * FROM webhook_events WHERE source = $1 AND delivery_id = $2', [source, deliveryId])).rows;

/**
 * Proves a rejected request stored nothing: a sentinel sent after it lands, and then the rejected id is absent.
 * Events are processed in order of arrival, so once the sentinel is stored, the rejected one would be too.
 */
async function expectNothingStored(rejectedIds: string[]) {
  const sentinel = `sentinel-${Math.random().toString(36).slice(2)}`;
  expect((await sendSigned(service.baseUrl, 'custom', customTrace(sentinel))).status).toBe(202);
  await waitFor(() => traceRow(sentinel));
  const { rows } = await db.pool.query(
    `SELECT external_id FROM live_traces WHERE external_id = ANY($1)
     UNION ALL SELECT delivery_id FROM webhook_events WHERE delivery_id = ANY($1) OR payload->'data'->>'id' = ANY($1)`,
    [rejectedIds],
  );
  expect(rows).toEqual([]);
}

describe('custom source (X-Signature HMAC)', () => {
  it('accepts a signed trace and stores it with every field', async () => {
    const body = fixture('custom-trace-created.json');
    const reply = await sendSigned(service.baseUrl, 'custom', body);
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ status: 'accepted', delivery_id: 'evt-2026-11-20-000123', events: 1 });
    const row = await waitFor(() => traceRow('trace-8f14e45f'));
    expect(row).toMatchObject({
      name: 'summarise_meeting',
      model: 'gemini-1.5-pro',
      provider: 'google',
      status: 'success',
      latency_ms: 2310,
      input_tokens: 5120,
      output_tokens: 402,
      cost_usd: 0.0071,
      user_id: 'user-42',
      session_id: 'meeting-2026-11-20-standup',
      metadata: { prompt_version: 7, environment: 'production' },
    });
    expect(row.updated_at.toISOString()).toBe('2026-11-20T16:20:31.120Z');
    const event = await waitFor(async () => {
      const [row] = await eventRows('custom', 'evt-2026-11-20-000123');
      return row?.status === 'processed' ? row : undefined;
    });
    expect(event).toMatchObject({ event_type: 'trace.created', attempts: 1, error: null });
  });

  it('applies a batch in one delivery: update, evaluation and delete', async () => {
    // Older than the batch's delete (16:22), so the delete applies.
    await sendSigned(service.baseUrl, 'custom', customTrace('trace-0000dead', {}, { timestamp: '2026-11-20T16:00:00.000Z' }));
    await waitFor(() => traceRow('trace-0000dead'));
    const reply = await sendSigned(service.baseUrl, 'custom', fixture('custom-batch.json'));
    expect(reply.status).toBe(202);
    expect(reply.body.events).toBe(3);
    await waitFor(async () => (await eventRows('custom', 'evt-000126'))[0]?.status === 'processed');
    expect(await traceRow('trace-0000dead')).toBeUndefined();
    const updated = await traceRow('trace-8f14e45f');
    expect(updated.status).toBe('error');
    expect(updated.metadata).toMatchObject({ environment: 'production', error: 'safety filter' });
    expect(updated.model).toBe('gemini-1.5-pro'); // absent from the update: kept
    expect((await eventRows('custom', 'evt-000125'))[0].status).toBe('processed');
  });

  it('accepts sha1 signatures and any of the rotated secrets', async () => {
    const body = customTrace('sha1-trace');
    const sha1 = await post(service.baseUrl, 'custom', body, { 'content-type': 'application/json', 'x-signature': customSignature(SECRETS.custom, body, 'sha1') });
    expect(sha1.status).toBe(202);
    const body2 = customTrace('old-secret-trace');
    const old = await post(service.baseUrl, 'custom', body2, { 'content-type': 'application/json', 'x-signature': customSignature('old-secret-123', body2) });
    expect(old.status).toBe(202);
    await waitFor(() => traceRow('old-secret-trace'));
  });

  it('rejects a wrong or missing signature with 401 and stores nothing', async () => {
    const body = customTrace('forged-trace');
    const wrong = await post(service.baseUrl, 'custom', body, { 'content-type': 'application/json', 'x-signature': customSignature('not-the-secret', body) });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: 'invalid_signature', message: 'signature does not match the body' } });
    const tampered = await post(service.baseUrl, 'custom', body.replace('gpt-4o-mini', 'gpt-4o'), signedHeaders('custom', body));
    expect(tampered.status).toBe(401);
    const missing = await post(service.baseUrl, 'custom', body, { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('missing_signature');
    expect(missing.body.error.message).toMatch(/X-Signature/);
    const malformed = await post(service.baseUrl, 'custom', body, { 'content-type': 'application/json', 'x-signature': 'md5=abc' });
    expect(malformed.status).toBe(401);
    await expectNothingStored(['forged-trace', 'evt-forged-trace']);
  });
});

describe('langfuse source', () => {
  it('records prompt-version and monitor-alert events', async () => {
    for (const name of ['langfuse-prompt-version.json', 'langfuse-monitor-alert.json']) {
      const reply = await sendSigned(service.baseUrl, 'langfuse', fixture(name));
      expect(reply.status).toBe(202);
    }
    const prompt = await waitFor(async () => (await eventRows('langfuse', '4c5b2f3e-7d1a-4e0b-9a57-2b1f0c9d8e11'))[0]);
    await waitFor(async () => (await eventRows('langfuse', 'b2d0e6a1-1f3c-4a2e-8c55-0d9e7f6a5b44'))[0]?.status === 'processed');
    expect(prompt.event_type).toBe('prompt-version.created');
    expect(prompt.payload.prompt.name).toBe('meeting-summary');
  });

  it('rejects a stale timestamp (replay) with 401', async () => {
    const body = fixture('langfuse-prompt-version.json').replace('4c5b2f3e', 'aaaaaaaa');
    const stale = Math.floor(Date.now() / 1000) - 301;
    const reply = await post(service.baseUrl, 'langfuse', body, {
      'content-type': 'application/json',
      'x-langfuse-signature': timestampedSignature(SECRETS.langfuse, body, stale),
    });
    expect(reply.status).toBe(401);
    expect(reply.body.error.code).toBe('stale_timestamp');
    const future = await post(service.baseUrl, 'langfuse', body, {
      'content-type': 'application/json',
      'x-langfuse-signature': timestampedSignature(SECRETS.langfuse, body, stale + 602),
    });
    expect(future.status).toBe(401);
    await expectNothingStored(['aaaaaaaa-7d1a-4e0b-9a57-2b1f0c9d8e11']);
  });
});

describe('langwatch source', () => {
  it('turns gateway requests into traces and verifies any v1 during rotation', async () => {
    const body = fixture('langwatch-batch.json');
    const reply = await post(service.baseUrl, 'langwatch', body, {
      'content-type': 'application/json',
      'x-langwatch-signature': timestampedSignature(['retired-secret', SECRETS.langwatch], body),
      'x-langwatch-delivery-id': 'dlv_123',
    });
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ status: 'accepted', delivery_id: 'dlv_123', events: 2 });
    const row = await waitFor(() => traceRow('req_01JD4X8Q2V', 'langwatch'));
    expect(row).toMatchObject({ model: 'gpt-4o-mini', provider: 'openai', status: 'success', latency_ms: 1840, input_tokens: 1203, output_tokens: 311, cost_usd: 0.000367, user_id: 'u_19' });
    await waitFor(async () => (await eventRows('langwatch', 'evt_01JD4X8R7M1B2C3D'))[0]?.status === 'processed');
  });

  it('names the offending field of a schema violation', async () => {
    const body = JSON.stringify({ batch: [{ id: 'evt_bad', type: 'gateway.request.completed', created: 1763651000, data: { model: 'x', usage: { input_tokens: 'many' } } }] });
    const reply = await sendSigned(service.baseUrl, 'langwatch', body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('invalid_payload');
    expect(reply.body.error.message).toMatch(/^batch\[0\]\.data\.usage\.input_tokens: /);
  });
});

describe('standard source (Standard Webhooks, signed with svix)', () => {
  it('accepts a signed delivery and uses webhook-id for events without an id', async () => {
    const body = JSON.stringify({ event_type: 'trace.created', data: { id: 'std-trace-1', model: 'claude-3-5-sonnet', status: 'success' } });
    const headers = signedHeaders('standard', body, { id: 'msg_std_1' });
    const reply = await post(service.baseUrl, 'standard', body, headers);
    expect(reply.status).toBe(202);
    expect(reply.body.delivery_id).toBe('msg_std_1');
    await waitFor(() => traceRow('std-trace-1', 'standard'));
    expect((await eventRows('standard', 'msg_std_1'))).toHaveLength(1);
  });

  it('rejects a wrong secret, a stale timestamp and missing headers with 401', async () => {
    const body = JSON.stringify({ event_type: 'trace.created', data: { id: 'std-forged' } });
    const headers = signedHeaders('standard', body);
    const wrong = await post(service.baseUrl, 'standard', body, { ...headers, 'webhook-signature': 'v1,' + Buffer.from('x'.repeat(32)).toString('base64') });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_signature');
    const stale = await post(service.baseUrl, 'standard', body, signedHeaders('standard', body, { t: Math.floor(Date.now() / 1000) - 600 }));
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe('stale_timestamp');
    const { 'webhook-id': _omit, ...noId } = headers;
    const missing = await post(service.baseUrl, 'standard', body, noId);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toEqual({ code: 'missing_signature', message: 'missing webhook-id header' });
    await expectNothingStored(['std-forged']);
  });
});

describe('bad input', () => {
  it('answers 404 for an unknown source', async () => {
    const reply = await post(service.baseUrl, 'github', '{}', { 'content-type': 'application/json' });
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('unknown_source');
  });

  it('answers 400 for invalid JSON and empty bodies, after the signature', async () => {
    const body = '{"event_type": "trace.created", "data": {';
    const reply = await post(service.baseUrl, 'custom', body, signedHeaders('custom', body));
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('invalid_json');
    const empty = await post(service.baseUrl, 'custom', '', signedHeaders('custom', ''));
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_json');
  });

  it('answers 400 naming the field for schema violations, and stores none of the batch', async () => {
    const cases: [string, RegExp][] = [
      [customTrace('bad-latency', { latency_ms: 'slow' }), /^data\.latency_ms: /],
      [customTrace('bad-status', { status: 'exploded' }), /^data\.status: must be one of/],
      [JSON.stringify({ event_type: 'trace.created', data: { name: 'no id' } }), /^data\.id: /],
      [customTrace('bad-time', {}, { timestamp: 'yesterday' }), /^timestamp: /],
      [JSON.stringify({ events: [JSON.parse(customTrace('batch-ok')), JSON.parse(customTrace('batch-bad', { input_tokens: -1 }))] }), /^events\[1\]\.data\.input_tokens: /],
      [JSON.stringify([1, 2]), /body must be a JSON object/],
    ];
    for (const [body, message] of cases) {
      const reply = await post(service.baseUrl, 'custom', body, signedHeaders('custom', body));
      expect(reply.status, body).toBe(400);
      expect(reply.body.error.code).toBe('invalid_payload');
      expect(reply.body.error.message).toMatch(message);
    }
    await expectNothingStored(['bad-latency', 'bad-status', 'bad-time', 'batch-ok', 'batch-bad']);
  });

  it('answers 413 for a body over the limit and 415 for a wrong content type', async () => {
    const huge = customTrace('huge', { metadata: { blob: 'x'.repeat(1024 * 1024) } });
    const tooLarge = await post(service.baseUrl, 'custom', huge, signedHeaders('custom', huge));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('payload_too_large');
    const body = customTrace('form');
    const form = await post(service.baseUrl, 'custom', body, { ...signedHeaders('custom', body), 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    await expectNothingStored(['huge', 'form']);
  });

  it('refuses nesting deeper than 64 levels and stores NUL characters as U+FFFD', async () => {
    const deep = JSON.stringify({ event_type: 'trace.created', data: { id: 'deep', metadata: JSON.parse('{"a":'.repeat(70) + '1' + '}'.repeat(70)) } });
    const reply = await post(service.baseUrl, 'custom', deep, signedHeaders('custom', deep));
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toMatch(/deeper than 64/);
    const nul = customTrace('nul-trace', { name: 'a\u0000b', metadata: { 'k\u0000': '\ud800' } });
    expect((await sendSigned(service.baseUrl, 'custom', nul)).status).toBe(202);
    const row = await waitFor(() => traceRow('nul-trace'));
    expect(row.name).toBe('a\uFFFDb');
    expect(row.metadata).toEqual({ 'k\uFFFD': '\uFFFD' });
  });
});

describe('idempotency and ordering', () => {
  it('stores a redelivered event once and counts its attempts', async () => {
    const body = customTrace('dup-trace');
    const first = await sendSigned(service.baseUrl, 'custom', body);
    const second = await sendSigned(service.baseUrl, 'custom', body);
    expect([first.status, second.status]).toEqual([202, 202]);
    await waitFor(async () => (await eventRows('custom', 'evt-dup-trace'))[0]?.attempts === 2);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM live_traces WHERE external_id = 'dup-trace'");
    expect(rows[0].n).toBe(1);
  });

  it('never lets an older update overwrite a newer one', async () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 12, 0, s)).toISOString();
    const newer = JSON.stringify({ event_type: 'trace.updated', event_id: 'ooo-2', timestamp: at(30), data: { id: 'ooo', status: 'error', latency_ms: 900 } });
    const older = JSON.stringify({ event_type: 'trace.created', event_id: 'ooo-1', timestamp: at(10), data: { id: 'ooo', status: 'running', model: 'gpt-4o', latency_ms: 1 } });
    expect((await sendSigned(service.baseUrl, 'custom', newer)).status).toBe(202);
    await waitFor(() => traceRow('ooo'));
    expect((await sendSigned(service.baseUrl, 'custom', older)).status).toBe(202);
    const olderEvent = await waitFor(async () => (await eventRows('custom', 'ooo-1'))[0]?.status !== 'received' && (await eventRows('custom', 'ooo-1'))[0]);
    expect(olderEvent.status).toBe('ignored');
    expect(olderEvent.error).toMatch(/superseded/);
    const row = await traceRow('ooo');
    expect(row).toMatchObject({ status: 'error', latency_ms: 900 });
    expect(row.updated_at.toISOString()).toBe(at(30));
  });

  it('does not resurrect a trace with an update older than its deletion', async () => {
    const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 13, 0, s)).toISOString();
    await sendSigned(service.baseUrl, 'custom', JSON.stringify({ event_type: 'trace.created', event_id: 'z-1', timestamp: at(1), data: { id: 'zombie' } }));
    await waitFor(() => traceRow('zombie'));
    await sendSigned(service.baseUrl, 'custom', JSON.stringify({ event_type: 'trace.deleted', event_id: 'z-3', timestamp: at(3), data: { id: 'zombie' } }));
    await waitFor(async () => !(await traceRow('zombie')));
    await sendSigned(service.baseUrl, 'custom', JSON.stringify({ event_type: 'trace.updated', event_id: 'z-2', timestamp: at(2), data: { id: 'zombie', status: 'error' } }));
    await waitFor(async () => (await eventRows('custom', 'z-2'))[0]?.status === 'ignored');
    expect(await traceRow('zombie')).toBeUndefined();
  });

  it('accepts unknown event types, marks them ignored and never retries them', async () => {
    const body = JSON.stringify({ event_type: 'model.fine_tuned', event_id: 'unknown-1', data: { id: 'x' } });
    const reply = await sendSigned(service.baseUrl, 'custom', body);
    expect(reply.status).toBe(202);
    const row = await waitFor(async () => (await eventRows('custom', 'unknown-1'))[0]?.status === 'ignored' && (await eventRows('custom', 'unknown-1'))[0]);
    expect(row.error).toMatch(/unknown event type/);
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/vertigo_webhook_events_total\{source="custom",event_type="other"\} [1-9]/);
    expect(metrics).toMatch(/vertigo_persist_events_total\{source="custom",status="ignored"\} [1-9]/);
  });
});

describe('sources without a secret and rate limits', () => {
  let limited: TestService;
  beforeAll(async () => {
    limited = await startTestService(db.url, {
      LANGFUSE_WEBHOOK_SECRET: '',
      WEBHOOK_RATE_LIMIT_MAX: '3',
      WEBHOOK_RATE_LIMIT_WINDOW_SECONDS: '60',
    });
  });
  afterAll(() => limited?.stop());

  it('answers 503 "source not configured" for a source without a secret', async () => {
    const reply = await post(limited.baseUrl, 'langfuse', fixture('langfuse-monitor-alert.json'), signedHeaders('langfuse', fixture('langfuse-monitor-alert.json')));
    expect(reply.status).toBe(503);
    expect(reply.body.error.code).toBe('source_not_configured');
    expect(reply.body.error.message).toMatch(/LANGFUSE_WEBHOOK_SECRET/);
  });

  it('answers 429 with Retry-After and RateLimit headers over the limit', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await sendSigned(limited.baseUrl, 'custom', customTrace(`rl-${i}`));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(last!.body.error.code).toBe('rate_limited');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.get('ratelimit-limit')).toBe('3');
    const metrics = await (await fetch(`${limited.baseUrl}/metrics`)).text();
    expect(metrics).toContain('vertigo_webhook_requests_total{source="custom",outcome="rate_limited"} 2');
    expect(metrics).toContain('vertigo_webhook_requests_total{source="langfuse",outcome="source_not_configured"} 1');
  });
});
