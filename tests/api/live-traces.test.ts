import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/**
 * `GET /live-data/api/live-traces` and `/live-traces/:id` on the running service, over rows inserted with SQL
 * (explicit received_at, ties to the microsecond) so that order, paging and filters are checked exactly.
 */

let db: TestDatabase;
let service: TestService;
let viewer: { authorization: string };

beforeAll(async () => {
  db = await createTestDatabase();
  // Paging a few hundred times must not meet the API's rate limits.
  service = await startTestService(db.url, { API_RATE_LIMIT_PER_KEY: '0', API_RATE_LIMIT_PER_IP: '0' });
  viewer = await apiKeyHeader(db.pool, 'viewer');
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE live_traces');
});

const BASE = '/live-data/api/live-traces';

// Replies are checked field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function get(path: string, headers: Record<string, string> = viewer): Promise<{ status: number; body: any }> {
  const res = await fetch(`${service.baseUrl}${path}`, { headers });
  return { status: res.status, body: await res.json() };
}
const list = (query = '') => get(`${BASE}?${query}`);

interface TraceRow {
  external_id: string;
  received_at: string;
  source?: string;
  name?: string | null;
  model?: string | null;
  provider?: string | null;
  status?: string;
  latency_ms?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_usd?: number | null;
  user_id?: string | null;
  session_id?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  metadata?: Record<string, unknown>;
  updated_at?: string;
}

/** Inserts rows one by one (ids follow the array) and returns their ids. */
async function insert(rows: TraceRow[]): Promise<string[]> {
  const ids: string[] = [];
  for (const r of rows) {
    const { rows: out } = await db.pool.query<{ id: string }>(
      `INSERT INTO live_traces (source, external_id, name, model, provider, status, latency_ms, input_tokens, output_tokens,
         cost_usd, user_id, session_id, started_at, ended_at, metadata, received_at, updated_at, last_event_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'evt')
       RETURNING id::text AS id`,
      [
        r.source ?? 'custom', r.external_id, r.name ?? null, r.model ?? null, r.provider ?? null, r.status ?? 'success',
        r.latency_ms ?? null, r.input_tokens ?? null, r.output_tokens ?? null, r.cost_usd ?? null, r.user_id ?? null,
        r.session_id ?? null, r.started_at ?? null, r.ended_at ?? null, JSON.stringify(r.metadata ?? {}), r.received_at,
        r.updated_at ?? r.received_at,
      ],
    );
    ids.push(out[0]!.id);
  }
  return ids;
}

/** `2026-11-21T10:00:00.000000Z` plus `micros` microseconds, in the API's canonical text. */
function at(micros: number): string {
  const ms = Date.UTC(2026, 10, 21, 10) + Math.floor(micros / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(((micros % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0')}Z`;
}

/** The order the API promises: received_at descending, then id descending. */
function newestFirst(rows: { id: string; received_at: string }[]): string[] {
  return [...rows]
    .sort((a, b) => (a.received_at !== b.received_at ? (a.received_at < b.received_at ? 1 : -1) : BigInt(a.id) < BigInt(b.id) ? 1 : -1))
    .map((r) => r.id);
}

/** Every id a query yields, page after page, checking each page on the way. */
async function allPages(query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const reply = await list(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(reply.status).toBe(200);
    expect(reply.body.page.limit).toBe(limit);
    ids.push(...reply.body.data.map((t: { id: string }) => t.id));
    cursor = reply.body.page.next_cursor;
    if (cursor === null) {
      expect(reply.body.data.length).toBeLessThanOrEqual(limit);
      return ids;
    }
    expect(reply.body.data.length).toBe(limit);
  }
  throw new Error('paging did not end');
}

const externalIds = (body: { data: { external_id: string }[] }) => body.data.map((t) => t.external_id);

describe('GET /live-data/api/live-traces', () => {
  it('lists traces newest first with every field as stored, received_at to the microsecond', async () => {
    const [full] = await insert([
      {
        external_id: 'trace-full', source: 'langwatch', name: 'Chat summary', model: 'gpt-4o-mini', provider: 'openai',
        status: 'error', latency_ms: 840.5, input_tokens: 1200, output_tokens: 300, cost_usd: 0.00036, user_id: 'user-1',
        session_id: 'session-1', started_at: '2026-11-21T10:00:00Z', ended_at: '2026-11-21T11:00:00.8405+01:00',
        metadata: { env: 'prod', tags: ['a', 'b'], nested: { n: 1 } }, received_at: at(1_123_456), updated_at: '2026-11-21T10:00:00.9Z',
      },
    ]);
    await insert([
      { external_id: 'older', received_at: at(1_123_455) },
      { external_id: 'tie-low-id', received_at: at(2_000_000) },
      { external_id: 'tie-high-id', received_at: at(2_000_000) },
    ]);
    const reply = await list();
    expect(reply.status).toBe(200);
    expect(externalIds(reply.body)).toEqual(['tie-high-id', 'tie-low-id', 'trace-full', 'older']);
    expect(reply.body.page).toEqual({ limit: 50, next_cursor: null });
    expect(reply.body.data[2]).toEqual({
      id: full,
      source: 'langwatch',
      external_id: 'trace-full',
      name: 'Chat summary',
      model: 'gpt-4o-mini',
      provider: 'openai',
      status: 'error',
      latency_ms: 840.5,
      input_tokens: 1200,
      output_tokens: 300,
      cost_usd: 0.00036,
      user_id: 'user-1',
      session_id: 'session-1',
      started_at: '2026-11-21T10:00:00.000000Z',
      ended_at: '2026-11-21T10:00:00.840500Z',
      received_at: '2026-11-21T10:00:01.123456Z',
      updated_at: '2026-11-21T10:00:00.900000Z',
      metadata: { env: 'prod', tags: ['a', 'b'], nested: { n: 1 } },
    });
    expect(reply.body.data[3]).toMatchObject({ name: null, model: null, latency_ms: null, cost_usd: null, started_at: null, metadata: {} });
  });

  it('pages through every row exactly once, across ties and microsecond neighbours at page boundaries', async () => {
    // 37 rows: groups of three share one received_at, neighbouring groups are 1 µs apart.
    const rows = Array.from({ length: 37 }, (_, i) => ({ external_id: `t-${i}`, received_at: at(Math.floor(i / 3)) }));
    const ids = await insert(rows);
    const expected = newestFirst(ids.map((id, i) => ({ id, received_at: rows[i]!.received_at })));
    for (const limit of [1, 2, 3, 4, 7, 36, 37]) {
      expect(await allPages('', limit), `limit ${limit}`).toEqual(expected);
    }
    // One more row than the limit is what tells a last page from a full one.
    const exact = await list('limit=37');
    expect(exact.body.data).toHaveLength(37);
    expect(exact.body.page.next_cursor).toBeNull();
    const short = await list('limit=36');
    expect(short.body.page.next_cursor).toEqual(expect.any(String));
  });

  it('keeps page 2 as it was when newer rows arrive after page 1 was read', async () => {
    const old = Array.from({ length: 10 }, (_, i) => ({ external_id: `old-${i}`, received_at: at(i * 1000) }));
    await insert(old);
    const page1 = await list('limit=4');
    expect(externalIds(page1.body)).toEqual(['old-9', 'old-8', 'old-7', 'old-6']);
    const cursor = page1.body.page.next_cursor as string;
    const before = await list(`limit=4&cursor=${cursor}`);

    // Newer rows, and one at the very instant of page 1's last row: a higher id sorts it before that row.
    await insert([
      ...Array.from({ length: 5 }, (_, i) => ({ external_id: `new-${i}`, received_at: at(1_000_000 + i) })),
      { external_id: 'new-tie', received_at: at(6000) },
    ]);
    const page2 = await list(`limit=4&cursor=${cursor}`);
    expect(page2.body).toEqual(before.body);
    expect(externalIds(page2.body)).toEqual(['old-5', 'old-4', 'old-3', 'old-2']);
    const page3 = await list(`limit=4&cursor=${page2.body.page.next_cursor}`);
    expect(externalIds(page3.body)).toEqual(['old-1', 'old-0']);
    expect(page3.body.page.next_cursor).toBeNull();
    // A fresh first page shows the new rows.
    expect(externalIds((await list('limit=10')).body)).toEqual(['new-4', 'new-3', 'new-2', 'new-1', 'new-0', 'old-9', 'old-8', 'old-7', 'new-tie', 'old-6']);
  });

  it('filters by status, model, source, received_at range and text, alone and together, and pages filtered lists', async () => {
    await insert([
      { external_id: 'a', status: 'success', model: 'gpt-4o', source: 'custom', name: 'Chat Summary', received_at: at(1) },
      { external_id: 'b', status: 'error', model: 'gpt-4o', source: 'langfuse', user_id: 'alice@example.com', received_at: at(2) },
      { external_id: 'c', status: 'error', model: 'claude-3', source: 'custom', session_id: 'sess-CHAT-9', received_at: at(3) },
      { external_id: 'd', status: 'running', model: null, source: 'firestore', name: 'discount 50%', received_at: at(4) },
      { external_id: 'e', status: 'cancelled', model: 'gpt-4o', source: 'standard', name: 'discount 500', received_at: at(5) },
      { external_id: 'order_chat_1', status: 'error', model: 'gpt-4o-mini', source: 'custom', received_at: at(6) },
      { external_id: 'orderXchat', status: 'success', model: 'gpt-4o-mini', source: 'custom', received_at: at(7) },
    ]);
    const ids = async (query: string) => {
      const reply = await list(query);
      expect(reply.status, query).toBe(200);
      return externalIds(reply.body);
    };
    expect(await ids('status=error')).toEqual(['order_chat_1', 'c', 'b']);
    expect(await ids('model=gpt-4o')).toEqual(['e', 'b', 'a']);
    expect(await ids('model=GPT-4O')).toEqual([]);
    expect(await ids('source=custom')).toEqual(['orderXchat', 'order_chat_1', 'c', 'a']);
    expect(await ids('status=error&source=custom')).toEqual(['order_chat_1', 'c']);
    expect(await ids('status=error&model=gpt-4o&source=langfuse')).toEqual(['b']);

    // since inclusive, until exclusive, to the microsecond; any offset names the same instant.
    expect(await ids(`since=${at(3)}`)).toEqual(['orderXchat', 'order_chat_1', 'e', 'd', 'c']);
    expect(await ids(`until=${at(3)}`)).toEqual(['b', 'a']);
    expect(await ids(`since=${at(2)}&until=${at(4)}`)).toEqual(['c', 'b']);
    expect(await ids(`since=${encodeURIComponent('2026-11-21T12:00:00.000003+02:00')}&until=${encodeURIComponent('2026-11-21T05:00:00.000004-05:00')}`)).toEqual(['c']);
    expect(await ids(`since=${at(3)}&until=${at(3)}`)).toEqual([]);

    // Case-insensitive substring of name, external_id, user_id or session_id; % and _ are literal.
    expect(await ids('q=chat')).toEqual(['orderXchat', 'order_chat_1', 'c', 'a']);
    expect(await ids('q=ALICE')).toEqual(['b']);
    expect(await ids('q=50%25')).toEqual(['d']);
    expect(await ids('q=r_c')).toEqual(['order_chat_1']);
    expect(await ids('q=chat&status=success')).toEqual(['orderXchat', 'a']);
    expect(await ids('q=nothing-like-this')).toEqual([]);

    // A filtered list pages like the whole one.
    const pages = await allPages('status=error', 1);
    expect(pages).toHaveLength(3);
    const errorIds = (await list('status=error')).body.data.map((t: { id: string }) => t.id);
    expect(pages).toEqual(errorIds);
  });

  it('answers 400 naming the parameter for values out of bounds, and invalid_cursor / invalid_range', async () => {
    const cases: [string, string, RegExp][] = [
      ['limit=0', 'invalid_request', /limit/],
      ['limit=501', 'invalid_request', /limit must be <= 500/],
      ['limit=ten', 'invalid_request', /limit/],
      ['status=done', 'invalid_request', /status/],
      ['source=openai', 'invalid_request', /source/],
      [`model=${'m'.repeat(201)}`, 'invalid_request', /model/],
      ['model=', 'invalid_request', /model/],
      ['q=', 'invalid_request', /q must NOT have fewer than 1 characters/],
      [`q=${'x'.repeat(201)}`, 'invalid_request', /q must NOT have more than 200 characters/],
      ['since=yesterday', 'invalid_request', /since/],
      ['since=2026-02-30T00:00:00Z', 'invalid_request', /since/],
      ['until=2026-11-21T10:00:00', 'invalid_request', /until/],
      ['since=0001-01-01T00:00:00%2B01:00', 'invalid_request', /since must be a date-time between years 1 and 9999/],
      ['since=2026-11-21T10:00:00.000002Z&until=2026-11-21T10:00:00.000001Z', 'invalid_range', /since .* is after until/],
      ['cursor=', 'invalid_cursor', /cursor/],
      ['cursor=not-a-cursor!', 'invalid_cursor', /cursor/],
      [`cursor=${b64({ r: '2026-13-01T00:00:00.000000Z', i: '1' })}`, 'invalid_cursor', /cursor/],
      [`cursor=${b64({ r: '2026-11-21T10:00:00Z', i: '1' })}`, 'invalid_cursor', /cursor/],
      [`cursor=${b64({ r: '2026-11-21T10:00:00.000000Z', i: '1 OR 1=1' })}`, 'invalid_cursor', /cursor/],
      [`cursor=${b64({ r: '2026-11-21T10:00:00.000000Z', i: '9223372036854775808' })}`, 'invalid_cursor', /cursor/],
      [`cursor=${b64(['2026-11-21T10:00:00.000000Z', '1'])}`, 'invalid_cursor', /cursor/],
    ];
    for (const [query, code, message] of cases) {
      const reply = await list(query);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code, query).toBe(code);
      expect(reply.body.error.message, query).toMatch(message);
      expect(Object.keys(reply.body), query).toEqual(['error']);
    }
  });

  it('needs a credential', async () => {
    const reply = await get(BASE, {});
    expect(reply.status).toBe(401);
    expect(reply.body.error.code).toEqual(expect.any(String));
  });
});

describe('GET /live-data/api/live-traces/:id', () => {
  it('answers the trace as the list shows it, 404 trace_not_found, and 400 for an id that is not a number', async () => {
    const [id] = await insert([{ external_id: 'one', model: 'gpt-4o', cost_usd: 1.5, received_at: at(42) }]);
    const reply = await get(`${BASE}/${id}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ data: (await list()).body.data[0] });
    expect(reply.body.data).toMatchObject({ id, external_id: 'one', received_at: '2026-11-21T10:00:00.000042Z', cost_usd: 1.5 });

    const missing = await get(`${BASE}/${BigInt(id!) + 1000n}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'trace_not_found', message: `no trace with id ${BigInt(id!) + 1000n}` } });
    // Larger than any bigint: no such trace, and no query error.
    expect((await get(`${BASE}/9223372036854775808`)).body.error.code).toBe('trace_not_found');

    for (const bad of ['abc', '-1', '1.5', '1e3', '123456789012345678901']) {
      const r = await get(`${BASE}/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code, bad).toBe('invalid_request');
      expect(r.body.error.message, bad).toMatch(/id/);
    }
    expect((await get(`${BASE}/${id}`, {})).status).toBe(401);
  });
});

describe('the API description', () => {
  it('documents both routes under the traces tag with every status they answer', async () => {
    const doc = (await (await fetch(`${service.baseUrl}/docs/json`)).json()) as {
      paths: Record<string, { get: { tags: string[]; summary: string; responses: Record<string, unknown> } }>;
    };
    for (const path of ['/live-data/api/live-traces', '/live-data/api/live-traces/{id}']) {
      const op = doc.paths[path]!.get;
      expect(op.tags, path).toEqual(['traces']);
      expect(op.summary, path).toEqual(expect.any(String));
      expect(Object.keys(op.responses), path).toEqual(expect.arrayContaining(['200', '400', '401', '403', '429']));
    }
    expect(Object.keys(doc.paths['/live-data/api/live-traces/{id}']!.get.responses)).toContain('404');
  });
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
