import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Firestore, Timestamp } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../src/sync/default-mappings.js';
import { releaseRunLock, tryRunLock } from '../../src/sync/sync-status.repository.js';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestore-emulator.js';
import { sample } from '../support/prometheus-text.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { customTrace, sendSigned } from '../support/webhook-client.js';

/**
 * The whole service with ENABLE_FIRESTORE_SYNC=true against the Firestore emulator: the sync API, live mode,
 * the webhook/Firestore conflict both ways round, and /metrics.
 */

const TOKEN = 'admin-token-for-tests-0123';
let emulator: FirestoreEmulator;
let firestore: Firestore;
let db: TestDatabase;
let service: TestService;
let dir: string;

beforeAll(async () => {
  emulator = await startFirestoreEmulator();
  firestore = emulator.client();
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'vertigo-sync-'));
  const mappings = {
    collections: [
      ...DEFAULT_MAPPINGS.collections,
      // The app writes its traces to Firestore and sends them by webhook as well: one trace, two paths.
      { ...DEFAULT_MAPPINGS.collections[0], collection: 'shared', source: 'custom', live: false },
    ],
  };
  writeFileSync(join(dir, 'mappings.json'), JSON.stringify(mappings));
  service = await startTestService(db.url, {
    ...emulator.env,
    ENABLE_FIRESTORE_SYNC: 'true',
    FIRESTORE_SYNC_MAPPINGS_FILE: join(dir, 'mappings.json'),
    // Only the live listener or a trigger brings documents in during these tests.
    FIRESTORE_SYNC_INTERVAL_SECONDS: '3600',
    ADMIN_API_TOKEN: TOKEN,
  });
});
afterAll(async () => {
  await service?.stop();
  await emulator?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
  fetch(`${service.baseUrl}/live-data/api/${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });

const trigger = async (body: Record<string, unknown>) => {
  const res = await api('sync/trigger', { method: 'POST', body: JSON.stringify({ sync_type: 'firestore', ...body }) });
  expect(res.status).toBe(202);
  return (await res.json()) as { data: { jobs: { collection: string; job_id: string }[] } };
};

async function statusOf(collection: string) {
  const res = await api('sync-status');
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: Record<string, unknown>[] };
  return body.data.find((s) => s.collection === collection)!;
}

async function traceRow(source: string, id: string) {
  const { rows } = await db.pool.query('SELECT model, status, latency_ms, updated_at, last_event_id FROM live_traces WHERE source = $1 AND external_id = $2', [source, id]);
  return rows[0] as { model: string; status: string; latency_ms: number; updated_at: Date; last_event_id: string } | undefined;
}

describe('sync API', () => {
  it('refuses requests without the admin bearer token, and bad bodies, with the JSON error shape', async () => {
    const none = await api('sync-status', {}, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/bearer credential/) } });
    expect((await api('sync-status', {}, 'wrong-token-wrong-token')).status).toBe(401);

    const unknown = await api('sync/trigger', { method: 'POST', body: JSON.stringify({ sync_type: 'firestore', collection: 'nope' }) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'unknown_collection', message: expect.stringContaining('"nope"') } });

    const bad = await api('sync/trigger', { method: 'POST', body: JSON.stringify({ sync_type: 'firestore', hours_back: 'lots' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'invalid_request', message: expect.stringContaining('hours_back') } });
  });

  it('runs a triggered sync and reports it in sync-status and on /metrics', async () => {
    const now = Date.now();
    const batch = firestore.batch();
    for (let i = 0; i < 40; i++) {
      batch.set(firestore.collection('meetings').doc(`m-${i}`), {
        meetingId: `meeting-${i}`,
        title: 'Weekly sync',
        processingStatus: i === 0 ? 'failed' : 'done',
        processing: { model: 'whisper-large-v3', provider: 'openai', durationSeconds: 42.5, tokens: { input: 1200, output: 300 }, costUsd: 0.02 },
        updatedAt: Timestamp.fromMillis(now - 3600_000 + i * 1000),
      });
    }
    await batch.commit();
    const { data } = await trigger({ collection: 'meetings', hours_back: 24 });
    expect(data.jobs).toEqual([{ collection: 'meetings', job_id: expect.any(String) }]);

    const status = await waitFor(async () => {
      const s = await statusOf('meetings');
      return s.last_success_at && s.records_total === 40 && !s.running ? s : undefined;
    });
    expect(status).toMatchObject({ running: false, last_error: null, records_last_run: 40, last_run_mode: 'incremental', cursor: { value: expect.stringMatching(/Z$/), document_id: null } });
    expect(status.lag_seconds).toBeLessThan(60);

    const row = await traceRow('firestore', 'meeting-1');
    expect(row).toMatchObject({ model: 'whisper-large-v3', status: 'success', latency_ms: 42500 });
    expect((await traceRow('firestore', 'meeting-0'))?.status).toBe('error');

    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    expect(sample(metrics, 'vertigo_sync_documents_total', { collection: 'meetings', outcome: 'written' })).toBe(40);
    expect(sample(metrics, 'vertigo_sync_runs_total', { collection: 'meetings', mode: 'incremental', result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'vertigo_sync_last_success_timestamp_seconds', { collection: 'meetings' })).toBeGreaterThan(now / 1000 - 60);
    expect(sample(metrics, 'vertigo_sync_lag_seconds', { collection: 'meetings' })).toBeLessThan(60);
    expect(sample(metrics, 'vertigo_sync_errors_total', { collection: 'meetings', reason: 'unavailable' })).toBe(0);
    expect(sample(metrics, 'gen_ai_client_operation_duration_seconds_count', { source: 'firestore', model: 'whisper-large-v3', status: 'success' })).toBe(39);
    expect(sample(metrics, 'gen_ai_client_errors_total', { source: 'firestore', model: 'whisper-large-v3' })).toBe(1);
  });
});

describe('a triggered run while the collection is busy', () => {
  it('waits for the active run to finish, then runs', async () => {
    const holder = await db.pool.connect();
    try {
      expect(await tryRunLock(holder, 'firestore', 'meetings')).toBe(true);
      const before = (await statusOf('meetings')).last_success_at as string | null;
      expect((await statusOf('meetings')).running).toBe(true);
      await trigger({ collection: 'meetings' });
      await new Promise((r) => setTimeout(r, 1500));
      expect((await statusOf('meetings')).last_success_at).toBe(before);
      await releaseRunLock(holder, 'firestore', 'meetings');
      await waitFor(async () => ((await statusOf('meetings')).last_success_at as string | null) !== before, 20_000, 100);
    } finally {
      holder.release();
    }
  });
});

describe('live mode', () => {
  it('brings a written document in as a row, and a deleted one out, with no scheduled run', async () => {
    await waitFor(async () => /vertigo_sync_listener_up\{[^}]*collection="traces"[^}]*\} 1/.test(await (await fetch(`${service.baseUrl}/metrics`)).text()));
    const ref = firestore.collection('traces').doc('live-1');
    await ref.set({ traceId: 'live-1', model: 'gpt-4o', status: 'success', latencyMs: 900, updatedAt: Timestamp.now() });
    expect(await waitFor(() => traceRow('firestore', 'live-1'), 10_000, 20)).toMatchObject({ model: 'gpt-4o', status: 'success' });

    await ref.set({ traceId: 'live-1', model: 'gpt-4o', status: 'error', latencyMs: 950, updatedAt: Timestamp.now() });
    await waitFor(async () => (await traceRow('firestore', 'live-1'))?.status === 'error', 10_000, 20);

    await ref.delete();
    await waitFor(async () => (await traceRow('firestore', 'live-1')) === undefined, 10_000, 20);
    const { rows } = await db.pool.query(`SELECT 1 FROM live_trace_tombstones WHERE source = 'firestore' AND external_id = 'live-1'`);
    expect(rows).toHaveLength(1);
  });
});

describe('a trace that arrives by webhook and from Firestore', () => {
  const send = async (id: string, at: Date, latency: number) => {
    const body = JSON.parse(customTrace(id, { latency_ms: latency, model: 'gpt-4o-mini' })) as Record<string, unknown>;
    body.timestamp = at.toISOString();
    body.event_id = `evt-${id}-${latency}`;
    expect((await sendSigned(service.baseUrl, 'custom', JSON.stringify(body))).status).toBe(202);
  };
  const writeDoc = (id: string, at: Date, latency: number) =>
    firestore.collection('shared').doc(id).set({ traceId: id, model: 'gpt-4o-mini', status: 'success', latencyMs: latency, updatedAt: Timestamp.fromDate(at) });
  const syncShared = async () => {
    const before = ((await statusOf('shared')).last_success_at as string | null) ?? '';
    await trigger({ collection: 'shared', hours_back: 24 });
    await waitFor(async () => (((await statusOf('shared')).last_success_at as string | null) ?? '') > before);
  };

  // "Newest" is the version's own time: the webhook event's timestamp, the document's cursor field (updatedAt).
  // Document times only grow from one case to the next, as a server-set updatedAt does: the incremental sync
  // reads forward from its cursor.
  const t = Date.now() - 120_000;

  it('keeps the newer Firestore document when the older webhook arrives first or last', async () => {
    await send('conflict-a', new Date(t), 100); // older webhook first
    await waitFor(() => traceRow('custom', 'conflict-a'));
    await writeDoc('conflict-a', new Date(t + 10_000), 200); // newer document after
    await syncShared();
    expect((await traceRow('custom', 'conflict-a'))?.latency_ms).toBe(200);

    await writeDoc('conflict-b', new Date(t + 20_000), 200); // newer document first
    await syncShared();
    expect((await traceRow('custom', 'conflict-b'))?.latency_ms).toBe(200);
    await send('conflict-b', new Date(t + 5_000), 100); // older webhook after
    await waitFor(async () => (await db.pool.query(`SELECT 1 FROM webhook_events WHERE delivery_id = 'evt-conflict-b-100' AND status = 'ignored'`)).rowCount === 1);
    expect((await traceRow('custom', 'conflict-b'))?.latency_ms).toBe(200);
  });

  it('keeps the newer webhook when the older Firestore document arrives first or last', async () => {
    await writeDoc('conflict-c', new Date(t + 30_000), 100); // older document first
    await syncShared();
    expect((await traceRow('custom', 'conflict-c'))?.latency_ms).toBe(100);
    await send('conflict-c', new Date(t + 40_000), 300); // newer webhook after
    await waitFor(async () => (await traceRow('custom', 'conflict-c'))?.latency_ms === 300);

    await send('conflict-d', new Date(t + 50_000), 300); // newer webhook first
    await waitFor(() => traceRow('custom', 'conflict-d'));
    await writeDoc('conflict-d', new Date(t + 45_000), 100); // older document after
    await syncShared();
    expect((await traceRow('custom', 'conflict-d'))?.latency_ms).toBe(300);
    const { rows } = await db.pool.query(`SELECT status, error FROM webhook_events WHERE source = 'custom' AND delivery_id LIKE 'firestore:shared/conflict-d@%'`);
    expect(rows).toEqual([{ status: 'ignored', error: expect.stringMatching(/^superseded/) }]);
  });
});
