import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webhookEventsRoutes from '../../src/api/webhook-events/webhook-events.routes.js';
import errorHandler from '../../src/http/error-handler.js';
import { serviceUnavailable } from '../../src/http/errors.js';
import type { IngestEvent } from '../../src/ingest/ingest-event.js';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { customTrace, fixture, sendSigned } from '../support/webhook-client.js';

let db: TestDatabase;
let service: TestService;
let operator: { authorization: string };
let viewer: { authorization: string };

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url, {
    // A delivery the database keeps refusing fails for good quickly.
    PERSIST_MAX_ATTEMPTS: '2',
    PERSIST_BACKOFF_MS: '20',
    PERSIST_MAX_BACKOFF_MS: '100',
  });
  operator = await apiKeyHeader(db.pool, 'operator');
  viewer = await apiKeyHeader(db.pool, 'viewer');
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const BASE = '/live-data/api/webhook-events';

async function call(method: 'GET' | 'POST', path: string, headers: Record<string, string> = operator) {
  const res = await fetch(`${service.baseUrl}${path}`, { method, headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}
const list = (query: string, headers?: Record<string, string>) => call('GET', `${BASE}?${query}`, headers);
const replay = (id: string, headers?: Record<string, string>) => call('POST', `${BASE}/${id}/replay`, headers);

/** Every id a query yields, page after page, checking each page on the way. */
async function allPages(query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const reply = await list(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(reply.status).toBe(200);
    expect(reply.body.page.limit).toBe(limit);
    expect(reply.body.data.length).toBeLessThanOrEqual(limit);
    ids.push(...reply.body.data.map((e: { id: string }) => e.id));
    cursor = reply.body.page.next_cursor;
    if (cursor === null) return ids;
    expect(reply.body.data.length).toBe(limit);
  }
  throw new Error('paging did not end');
}

/** A row as the persister leaves one; `received_at` is SQL so tests can make ties to the microsecond. */
async function insertEvent(row: {
  source: string;
  delivery_id: string;
  event_type: string;
  payload: unknown;
  status?: string;
  error?: string | null;
  event_at?: string;
}): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO webhook_events (source, delivery_id, event_type, payload, status, error, event_at, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now()) RETURNING id::text AS id`,
    [row.source, row.delivery_id, row.event_type, JSON.stringify(row.payload), row.status ?? 'failed', row.error ?? 'job failed for good', row.event_at ?? new Date().toISOString()],
  );
  return rows[0]!.id;
}

const eventRow = async (id: string) =>
  (await db.pool.query('SELECT status, error, attempts, processed_at FROM webhook_events WHERE id = $1', [id])).rows[0];
const traceRow = async (source: string, externalId: string) =>
  (await db.pool.query('SELECT * FROM live_traces WHERE source = $1 AND external_id = $2', [source, externalId])).rows[0];

describe('GET /live-data/api/webhook-events', () => {
  const SOURCES = ['custom', 'langwatch', 'langfuse', 'standard', 'firestore'];
  const STATUSES = ['received', 'processed', 'duplicate', 'ignored', 'failed'];

  beforeAll(async () => {
    // Groups of four rows share a received_at, and neighbouring groups are 1 µs apart (the same millisecond):
    // the cursor must keep microseconds and break ties by id.
    await db.pool.query(
      `INSERT INTO webhook_events (source, delivery_id, event_type, payload, status, attempts, event_at, received_at)
       SELECT ($1::text[])[1 + (i / 3) % 5], 'page-' || i, 'page.test', jsonb_build_object('n', i),
              ($2::text[])[1 + i % 5], 1, '2026-01-01T00:00:00Z',
              '2026-01-01T00:00:00.000100Z'::timestamptz + (i / 4) * interval '1 microsecond'
       FROM generate_series(0, 52) AS i`,
      [SOURCES, STATUSES],
    );
  });

  const expectedIds = async (where: string, values: unknown[] = []) =>
    (await db.pool.query(`SELECT id FROM webhook_events WHERE ${where} ORDER BY received_at DESC, id DESC`, values)).rows.map((r) => String(r.id));

  it('pages newest first, every row exactly once, with microsecond ties', async () => {
    const expected = await expectedIds("event_type = 'page.test'");
    expect(expected).toHaveLength(53);
    for (const limit of [1, 4, 7, 53, 500]) {
      const ids = await allPages('event_type=page.test', limit);
      expect(ids, `limit ${limit}`).toEqual(expected);
    }
  });

  it('pages the whole table without filters, 50 a page by default', async () => {
    const reply = await list('');
    expect(reply.body.page).toMatchObject({ limit: 50 });
    expect(reply.body.data).toHaveLength(50);
    expect(await allPages('', 10)).toEqual(await expectedIds('true'));
  });

  it('filters by status, source and event type, together', async () => {
    for (const status of STATUSES) {
      expect(await allPages(`event_type=page.test&status=${status}`, 3)).toEqual(await expectedIds("event_type = 'page.test' AND status = $1", [status]));
    }
    for (const source of SOURCES) {
      expect(await allPages(`event_type=page.test&source=${source}`, 3)).toEqual(await expectedIds("event_type = 'page.test' AND source = $1", [source]));
    }
    const both = await allPages('status=failed&source=langwatch&event_type=page.test', 2);
    expect(both.length).toBeGreaterThan(0);
    expect(both).toEqual(await expectedIds("status = 'failed' AND source = 'langwatch' AND event_type = 'page.test'"));
    expect((await list('event_type=no.such.type')).body).toEqual({ data: [], page: { limit: 50, next_cursor: null } });
  });

  it('answers items without payload unless include_payload=true', async () => {
    const [id] = await expectedIds("delivery_id = 'page-2'");
    const plain = (await list('event_type=page.test&status=duplicate&source=custom&limit=500')).body.data;
    const item = plain.find((e: { id: string }) => e.id === id);
    expect(item).toEqual({
      id,
      source: 'custom',
      delivery_id: 'page-2',
      event_type: 'page.test',
      status: 'duplicate',
      error: null,
      attempts: 1,
      event_at: '2026-01-01T00:00:00.000Z',
      received_at: '2026-01-01T00:00:00.000Z',
      processed_at: null,
    });
    for (const e of plain) expect(e).not.toHaveProperty('payload');
    const full = (await list('event_type=page.test&status=duplicate&source=custom&limit=500&include_payload=true')).body.data;
    expect(full.find((e: { id: string }) => e.id === id)).toEqual({ ...item, payload: { n: 2 } });
  });

  it('refuses malformed cursors and parameters out of range', async () => {
    const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const cursors = [
      'not-a-cursor!',
      enc('not json'),
      enc([1, 2]),
      enc({ r: '2026-01-01T00:00:00.000100Z' }),
      enc({ r: '2026-01-01T00:00:00.000Z', i: '1' }),
      enc({ r: '2026-13-01T00:00:00.000100Z', i: '1' }),
      enc({ r: '2026-02-30T00:00:00.000100Z', i: '1' }),
      enc({ r: '2026-01-01T00:00:00.000100Z', i: 1 }),
      enc({ r: '2026-01-01T00:00:00.000100Z', i: '99999999999999999999' }),
    ];
    for (const cursor of cursors) {
      const reply = await list(`cursor=${encodeURIComponent(cursor)}`);
      expect(reply.status, cursor).toBe(400);
      expect(reply.body.error.code, cursor).toBe('invalid_cursor');
    }
    for (const query of ['limit=0', 'limit=501', 'limit=ten', 'status=done', 'source=zapier', 'include_payload=maybe']) {
      const reply = await list(query);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code, query).toBe('invalid_request');
    }
  });

  it('needs a credential; a viewer may list', async () => {
    expect((await list('', {})).status).toBe(401);
    expect((await list('limit=1', viewer)).status).toBe(200);
  });
});

describe('POST /live-data/api/webhook-events/:id/replay', () => {
  it('replays a delivery that failed for good: its row heals and its trace is stored', async () => {
    // PostgreSQL refuses this one model until the constraint is dropped: a failure no retry can fix.
    await db.pool.query("ALTER TABLE live_traces ADD CONSTRAINT refuse_poison CHECK (model IS DISTINCT FROM 'poison')");
    try {
      expect((await sendSigned(service.baseUrl, 'custom', customTrace('replayed-1', { model: 'poison' }))).status).toBe(202);
      await waitFor(async () => (await db.pool.query("SELECT 1 FROM webhook_events WHERE delivery_id = 'evt-replayed-1' AND status = 'failed'")).rowCount);
    } finally {
      await db.pool.query('ALTER TABLE live_traces DROP CONSTRAINT refuse_poison');
    }
    const failed = (await list('status=failed&source=custom&event_type=trace.created')).body.data;
    const listed = failed.find((e: { delivery_id: string }) => e.delivery_id === 'evt-replayed-1');
    expect(listed.error).toMatch(/refuse_poison/);

    const reply = await replay(listed.id);
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ data: { id: listed.id, delivery_id: 'evt-replayed-1', status: 'queued' } });

    const healed = await waitFor(async () => {
      const row = await eventRow(listed.id);
      return row.status === 'processed' ? row : undefined;
    });
    expect(healed).toMatchObject({ error: null, attempts: 2 });
    expect(healed.processed_at).toBeInstanceOf(Date);
    expect(await traceRow('custom', 'replayed-1')).toMatchObject({ model: 'poison', status: 'success', input_tokens: 10, last_event_id: 'evt-replayed-1' });

    // Processed now: a second replay is refused.
    const again = await replay(listed.id);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'not_failed', message: `webhook event ${listed.id} is processed; only failed events are replayed` } });
  });

  it('replays a LangWatch batch item left failed, into its gateway trace', async () => {
    const item = JSON.parse(fixture('langwatch-batch.json')).batch[0];
    const id = await insertEvent({
      source: 'langwatch',
      delivery_id: item.id,
      event_type: item.type,
      payload: item,
      event_at: new Date(item.created * 1000).toISOString(),
    });
    const reply = await replay(id);
    expect(reply.status).toBe(202);
    expect(reply.body.data).toEqual({ id, delivery_id: item.id, status: 'queued' });
    await waitFor(async () => (await eventRow(id)).status === 'processed');
    const trace = await traceRow('langwatch', 'req_01JD4X8Q2V');
    expect(trace).toMatchObject({ model: 'gpt-4o-mini', provider: 'openai', latency_ms: 1840, input_tokens: 1203, output_tokens: 311 });
    expect(trace.updated_at.toISOString()).toBe(new Date(item.created * 1000).toISOString());
  });

  it('refuses events that cannot be rebuilt with 409 not_replayable and the reason', async () => {
    const document = await insertEvent({
      source: 'firestore',
      delivery_id: 'firestore:traces/doc-1@2026-11-20T10:00:00.000000Z',
      event_type: 'firestore.document',
      payload: { collection: 'traces', document: 'doc-1', data: {} },
    });
    const reply = await replay(document);
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('not_replayable');
    expect(reply.body.error.message).toMatch(/sync reads them again/);

    const invalid = await insertEvent({
      source: 'custom',
      delivery_id: 'evt-invalid',
      event_type: 'trace.created',
      payload: { event_type: 'trace.created', event_id: 'evt-invalid', data: { id: 't', input_tokens: -5 } },
    });
    expect((await replay(invalid)).body).toEqual({
      error: {
        code: 'not_replayable',
        message: `webhook event ${invalid} cannot be replayed: the stored payload no longer validates: data.input_tokens: must not be negative`,
      },
    });
    expect((await eventRow(invalid)).status).toBe('failed');
  });

  it('answers 404 for an unknown id, 400 for one that is not a number, 403 to a viewer', async () => {
    for (const id of ['987654321', '99999999999999999999']) {
      const reply = await replay(id);
      expect(reply.status).toBe(404);
      expect(reply.body).toEqual({ error: { code: 'event_not_found', message: `no webhook event with id ${id}` } });
    }
    const bad = await replay('abc');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');

    const id = await insertEvent({ source: 'custom', delivery_id: 'evt-viewer', event_type: 'alert.triggered', payload: { event_type: 'alert.triggered', data: {} } });
    const forbidden = await replay(id, viewer);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect((await replay(id, {})).status).toBe(401);
    expect((await eventRow(id)).status).toBe('failed');
  });
});

describe('replay and the queue (the plugin alone, with a queue that is made to fail)', () => {
  async function appWith(enqueue: (events: IngestEvent[]) => Promise<void>) {
    const app = Fastify();
    await app.register(errorHandler, { report: () => undefined });
    await app.register(webhookEventsRoutes, { pool: db.pool, producer: { enqueue } });
    return app;
  }
  const failedEvent = (deliveryId: string) =>
    insertEvent({ source: 'custom', delivery_id: deliveryId, event_type: 'trace.deleted', payload: { event_type: 'trace.deleted', event_id: deliveryId, data: { id: 'gone' } } });

  it('answers 503 queue_unavailable with Retry-After when the queue does not take the event', async () => {
    const id = await failedEvent('evt-redis-down');
    for (const failure of [new Error('Connection is closed.'), serviceUnavailable('queue_unavailable', 'the event queue is unavailable; retry later', 5)]) {
      const app = await appWith(async () => {
        throw failure;
      });
      const reply = await app.inject({ method: 'POST', url: `${BASE}/${id}/replay` });
      expect(reply.statusCode).toBe(503);
      expect(reply.headers['retry-after']).toBe('5');
      expect(reply.json()).toEqual({ error: { code: 'queue_unavailable', message: 'the event queue is unavailable; retry later' } });
      await app.close();
    }
    expect((await eventRow(id)).status).toBe('failed');
  });

  it('answers 202 only once the queue has the event, and queues it as the webhook route would', async () => {
    const id = await failedEvent('evt-slow-queue');
    let release!: () => void;
    const queued: IngestEvent[][] = [];
    const app = await appWith((events) => {
      queued.push(events);
      return new Promise((resolve) => {
        release = resolve;
      });
    });
    let answered = false;
    const reply = app.inject({ method: 'POST', url: `${BASE}/${id}/replay` }).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => queued.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    release();
    expect((await reply).statusCode).toBe(202);
    expect(queued[0]).toEqual([
      expect.objectContaining({
        source: 'custom',
        deliveryId: 'evt-slow-queue',
        eventType: 'trace.deleted',
        action: { kind: 'delete', externalId: 'gone' },
        payload: { event_type: 'trace.deleted', event_id: 'evt-slow-queue', data: { id: 'gone' } },
      }),
    ]);
    await app.close();
  });
});
