import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FirestoreEmulator, startFirestoreEmulator } from '../support/firestore-emulator.js';
import { sample } from '../support/prometheus-text.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { post, sendSigned } from '../support/webhook-client.js';
import { waitFor } from '../support/wait-for.js';

let db: TestDatabase;
let service: TestService;
let emulator: FirestoreEmulator;

beforeAll(async () => {
  db = await createTestDatabase();
  // The Firestore sync is on, so its metrics are checked by promtool with the rest.
  emulator = await startFirestoreEmulator();
  service = await startTestService(db.url, { METRICS_MAX_MODELS: '2', ...emulator.env, ENABLE_FIRESTORE_SYNC: 'true' });
});
afterAll(async () => {
  await service?.stop();
  await emulator?.stop();
  await db?.drop();
});

const metricsText = async () => (await fetch(`${service.baseUrl}/metrics`)).text();

const trace = (id: string, at: string, data: Record<string, unknown>) =>
  JSON.stringify({ event_type: 'trace.created', event_id: id, timestamp: at, data: { id, ...data } });

describe('GET /metrics after a known set of events', () => {
  it('counts requests, outcomes, tokens, cost and latency exactly once per trace', async () => {
    const t0 = '2026-11-21T10:00:00.000Z';
    const bodies = [
      trace('m-1', t0, { model: 'gpt-4o', status: 'success', latency_ms: 1500, input_tokens: 100, output_tokens: 40, cost_usd: 0.25 }),
      trace('m-2', t0, { model: 'gpt-4o', status: 'error', latency_ms: 300, input_tokens: 50 }),
      trace('m-3', t0, { model: 'claude', status: 'success', latency_ms: 20, input_tokens: 7, output_tokens: 3, cost_usd: 0.5 }),
      trace('m-4', t0, { model: 'gemini', status: 'success', latency_ms: 10 }), // third model: folded into "other"
      trace('m-5', t0, { model: 'gpt-4o', status: 'running' }), // not final: not counted yet
    ];
    // The model cap keeps the first models it sees: let the first two land before the third one is sent.
    for (const body of bodies.slice(0, 3)) expect((await sendSigned(service.baseUrl, 'custom', body)).status).toBe(202);
    await waitFor(async () => (await db.pool.query("SELECT 1 FROM live_traces WHERE external_id IN ('m-1', 'm-2', 'm-3')")).rowCount === 3);
    for (const body of bodies.slice(3)) expect((await sendSigned(service.baseUrl, 'custom', body)).status).toBe(202);
    expect((await sendSigned(service.baseUrl, 'custom', bodies[0]!)).status).toBe(202); // redelivery
    const later = '2026-11-21T10:00:05.000Z';
    const finish = JSON.stringify({ event_type: 'trace.updated', event_id: 'm-5-done', timestamp: later, data: { id: 'm-5', status: 'success', latency_ms: 800, output_tokens: 9 } });
    const touch = JSON.stringify({ event_type: 'trace.updated', event_id: 'm-1-touch', timestamp: later, data: { id: 'm-1', metadata: { reviewed: true } } });
    await waitFor(async () => (await db.pool.query("SELECT 1 FROM live_traces WHERE external_id = 'm-5'")).rowCount);
    for (const body of [finish, touch]) expect((await sendSigned(service.baseUrl, 'custom', body)).status).toBe(202);
    expect((await post(service.baseUrl, 'custom', bodies[0]!, { 'content-type': 'application/json', 'x-signature': 'sha256=00' })).status).toBe(401);

    await waitFor(async () => (await db.pool.query("SELECT 1 FROM webhook_events WHERE delivery_id = 'm-1-touch' AND status = 'processed'")).rowCount
      && (await db.pool.query("SELECT 1 FROM webhook_events WHERE delivery_id = 'm-1' AND attempts = 2")).rowCount);
    const text = await metricsText();
    const m = (name: string, labels: Record<string, string>) => sample(text, name, labels);

    expect(m('vertigo_webhook_requests_total', { source: 'custom', outcome: 'accepted' })).toBe(8);
    expect(m('vertigo_webhook_requests_total', { source: 'custom', outcome: 'invalid_signature' })).toBe(1);
    expect(m('vertigo_webhook_events_total', { source: 'custom', event_type: 'trace.created' })).toBe(6);
    expect(m('vertigo_webhook_request_duration_seconds_count', { source: 'custom' })).toBe(8);
    expect(m('vertigo_persist_events_total', { source: 'custom', status: 'processed' })).toBe(7);
    expect(m('vertigo_persist_events_total', { source: 'custom', status: 'duplicate' })).toBe(1);

    expect(m('gen_ai_client_requests_total', { source: 'custom', model: 'gpt-4o', status: 'success' })).toBe(2);
    expect(m('gen_ai_client_requests_total', { source: 'custom', model: 'gpt-4o', status: 'error' })).toBe(1);
    expect(m('gen_ai_client_requests_total', { source: 'custom', model: 'claude', status: 'success' })).toBe(1);
    expect(m('gen_ai_client_requests_total', { source: 'custom', model: 'other', status: 'success' })).toBe(1);
    expect(m('gen_ai_client_errors_total', { source: 'custom', model: 'gpt-4o' })).toBe(1);
    expect(m('gen_ai_client_token_usage_total', { source: 'custom', model: 'gpt-4o', token_type: 'input' })).toBe(150);
    expect(m('gen_ai_client_token_usage_total', { source: 'custom', model: 'gpt-4o', token_type: 'output' })).toBe(49);
    expect(m('gen_ai_client_cost_usd_total', { source: 'custom', model: 'claude' })).toBe(0.5);
    expect(m('gen_ai_client_cost_usd_total', { source: 'custom', model: 'gpt-4o' })).toBe(0.25);
    expect(m('gen_ai_client_operation_duration_seconds_count', { source: 'custom', model: 'gpt-4o', status: 'success' })).toBe(2);
    expect(m('gen_ai_client_operation_duration_seconds_sum', { source: 'custom', model: 'gpt-4o', status: 'success' })).toBeCloseTo(2.3);
    expect(m('gen_ai_client_operation_duration_seconds_bucket', { source: 'custom', model: 'gpt-4o', status: 'success', le: '1.28' })).toBe(1);

    expect(m('vertigo_queue_up', { queue: 'persist' })).toBe(1);
    expect(m('vertigo_dependency_up', { dependency: 'postgres' })).toBe(1);
    expect(m('vertigo_dependency_up', { dependency: 'redis' })).toBe(1);
    expect(m('vertigo_ingest_freshness_seconds_count', { source: 'custom' })).toBe(8);
    expect(m('vertigo_ingest_freshness_seconds_bucket', { source: 'custom', le: '+Inf' })).toBe(8);
    expect(m('vertigo_queue_jobs', { queue: 'persist', state: 'failed' })).toBe(0);
    expect(m('vertigo_persist_rows_total', { table: 'webhook_events', operation: 'insert' })).toBe(7);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('passes promtool check metrics, apart from prom-client default metrics', async (context) => {
    const promtool = process.env.PROMTOOL ?? 'promtool';
    if (spawnSync(promtool, ['--version']).error) {
      if (process.env.CI) throw new Error('promtool is not installed (apt-get install prometheus)');
      context.skip();
    }
    let output = '';
    const text = await metricsText();
    expect(text).toMatch(/^vertigo_sync_documents_total\{/m);
    try {
      execFileSync(promtool, ['check', 'metrics'], { input: text, stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
    }
    // prom-client's own gauges named *_total; known and not ours to rename.
    const allowed = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
    const problems = output.split('\n').filter((l) => l.trim() && !allowed.some((name) => l.startsWith(`${name} `) || l.startsWith(`${name}:`)));
    expect(problems).toEqual([]);
  });
});
