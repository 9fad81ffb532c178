import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/**
 * `GET /live-data/api/live-metrics` on the running service: rows are inserted with SQL at known distances
 * from now, and every number of the reply is computed again here from those rows.
 */

let db: TestDatabase;
let service: TestService;
let viewer: { authorization: string };

beforeAll(async () => {
  db = await createTestDatabase();
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

const BASE = '/live-data/api/live-metrics';

// Replies are checked field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function get(query = '', headers: Record<string, string> = viewer): Promise<{ status: number; body: any }> {
  const res = await fetch(`${service.baseUrl}${BASE}${query ? `?${query}` : ''}`, { headers });
  return { status: res.status, body: await res.json() };
}

interface Row {
  /** Minutes before the test's "now" (negative: in the future). */
  minutesAgo: number;
  model: string | null;
  source: string;
  status: 'success' | 'error' | 'running' | 'cancelled';
  latency: number | null;
  input: number | null;
  output: number | null;
  cost: number | null;
  receivedAt?: number;
}

/** A morning of traffic: several models and sources, every status, missing values, and rows outside 24 h. */
const ROWS: Row[] = [
  { minutesAgo: 2, model: 'gpt-4o', source: 'custom', status: 'success', latency: 100, input: 10, output: 5, cost: 0.001 },
  { minutesAgo: 3, model: 'gpt-4o', source: 'custom', status: 'error', latency: 250, input: 20, output: 0, cost: 0.002 },
  { minutesAgo: 7, model: 'gpt-4o', source: 'langfuse', status: 'running', latency: null, input: null, output: null, cost: null },
  { minutesAgo: 16, model: 'claude-3', source: 'langfuse', status: 'success', latency: 900, input: 1000, output: 200, cost: 0.05 },
  { minutesAgo: 45, model: null, source: 'firestore', status: 'cancelled', latency: 40, input: 1, output: 1, cost: 0 },
  { minutesAgo: 50, model: 'llama-3', source: 'standard', status: 'running', latency: null, input: 7, output: null, cost: null },
  { minutesAgo: 61, model: 'claude-3', source: 'custom', status: 'error', latency: 5000, input: 300, output: 0, cost: 0.0123456789 },
  { minutesAgo: 125, model: 'gpt-4o', source: 'standard', status: 'success', latency: 333.3, input: 64, output: 32, cost: 0.0004 },
  { minutesAgo: 300, model: 'gpt-4o', source: 'custom', status: 'success', latency: 120, input: 5, output: 5, cost: 0.0001 },
  { minutesAgo: 700, model: null, source: 'custom', status: 'error', latency: 12, input: null, output: null, cost: null },
  { minutesAgo: 1430, model: 'claude-3', source: 'langfuse', status: 'success', latency: 777, input: 100, output: 100, cost: 0.01 },
  // Outside the default window: older than 24 h, and in the future.
  { minutesAgo: 1450, model: 'gpt-4o', source: 'custom', status: 'error', latency: 99_999, input: 1, output: 1, cost: 9 },
  { minutesAgo: 60 * 24 * 29, model: 'old-model', source: 'langwatch', status: 'success', latency: 1, input: 1, output: 1, cost: 1 },
  { minutesAgo: -30, model: 'gpt-4o', source: 'custom', status: 'error', latency: 88_888, input: 1, output: 1, cost: 8 },
];

/** Inserts the rows at their distance from now and returns them with their received_at (ms). */
async function insertRows(rows: Row[]): Promise<Row[]> {
  const now = Date.now();
  const placed = rows.map((r) => ({ ...r, receivedAt: now - r.minutesAgo * 60_000 }));
  for (const [i, r] of placed.entries()) {
    await db.pool.query(
      `INSERT INTO live_traces (source, external_id, model, status, latency_ms, input_tokens, output_tokens, cost_usd,
         received_at, updated_at, last_event_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 'evt')`,
      [r.source, `t-${i}`, r.model, r.status, r.latency, r.input, r.output, r.cost, new Date(r.receivedAt).toISOString()],
    );
  }
  return placed;
}

/** PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks. */
function percentileCont(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const position = p * (sorted.length - 1);
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  return sorted[lo]! + (position - lo) * (sorted[hi]! - sorted[lo]!);
}

function expected(rows: Row[]) {
  const errors = rows.filter((r) => r.status === 'error').length;
  const finished = rows.filter((r) => r.status !== 'running').length;
  const latencies = rows.flatMap((r) => (r.latency === null ? [] : [r.latency])).sort((a, b) => a - b);
  const sum = (pick: (r: Row) => number | null) => rows.reduce((s, r) => s + (pick(r) ?? 0), 0);
  return {
    traces: rows.length,
    errors,
    error_rate: finished > 0 ? errors / finished : null,
    latency_ms: { p50: percentileCont(latencies, 0.5), p95: percentileCont(latencies, 0.95), p99: percentileCont(latencies, 0.99) },
    input_tokens: sum((r) => r.input),
    output_tokens: sum((r) => r.output),
    cost_usd: sum((r) => r.cost),
  };
}

/** Everything exactly, but the cost: a sum of doubles here against PostgreSQL's exact numeric sum. */
function expectAggregate(actual: { cost_usd: number }, rows: Row[], label: string) {
  const { cost_usd, ...rest } = expected(rows);
  expect(actual, label).toEqual({ ...rest, cost_usd: expect.any(Number) });
  expect(actual.cost_usd, label).toBeCloseTo(cost_usd, 10);
}

const inWindow = (rows: Row[], window: { from: string; to: string }) =>
  rows.filter((r) => r.receivedAt! >= Date.parse(window.from) && r.receivedAt! < Date.parse(window.to));

const groupBy = <K>(rows: Row[], key: (r: Row) => K) => {
  const groups = new Map<K, Row[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return groups;
};

/** Checks a whole reply against the rows inserted: window, totals, both breakdowns and every bucket. */
function checkReply(data: any, rows: Row[], hours: number, step: number) {
  expect(data.window.hours).toBe(hours);
  expect(data.window.step_seconds).toBe(step);
  const to = Date.parse(data.window.to);
  expect(Date.now() - to).toBeLessThan(60_000);
  expect(to - Date.parse(data.window.from)).toBe(hours * 3_600_000);
  const inside = inWindow(rows, data.window);

  expectAggregate(data.totals, inside, 'totals');

  const byModel = [...groupBy(inside, (r) => r.model)].sort(
    ([a, ra], [b, rb]) => rb.length - ra.length || (a === null ? 1 : b === null ? -1 : a < b ? -1 : 1),
  );
  expect(data.by_model.map((m: { model: string | null }) => m.model)).toEqual(byModel.map(([m]) => m));
  for (const [i, [model, group]] of byModel.entries()) {
    const { model: m, ...aggregate } = data.by_model[i];
    expect(m).toBe(model);
    expectAggregate(aggregate, group, `model ${model}`);
  }
  const bySource = [...groupBy(inside, (r) => r.source)].sort(([a, ra], [b, rb]) => rb.length - ra.length || (a < b ? -1 : 1));
  expect(data.by_source.map((s: { source: string }) => s.source)).toEqual(bySource.map(([s]) => s));
  for (const [i, [source, group]] of bySource.entries()) {
    const { source: s, ...aggregate } = data.by_source[i];
    expect(s).toBe(source);
    expectAggregate(aggregate, group, `source ${source}`);
  }

  // Buckets aligned to the epoch, one per step from the one holding `from` to the one holding the last
  // instant before `to`, none missing.
  const stepMs = step * 1000;
  const first = Math.floor(Date.parse(data.window.from) / stepMs) * stepMs;
  const last = Math.floor((to - 1) / stepMs) * stepMs;
  const starts = Array.from({ length: (last - first) / stepMs + 1 }, (_, i) => first + i * stepMs);
  expect(data.series.map((p: { bucket_start: string }) => Date.parse(p.bucket_start))).toEqual(starts);
  const byBucket = groupBy(inside, (r) => Math.floor(r.receivedAt! / stepMs) * stepMs);
  for (const point of data.series) {
    const group = byBucket.get(Date.parse(point.bucket_start)) ?? [];
    const e = expected(group);
    expect(point, point.bucket_start).toEqual({
      bucket_start: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      traces: e.traces,
      errors: e.errors,
      error_rate: e.error_rate,
      latency_p95_ms: e.latency_ms.p95,
      cost_usd: expect.any(Number),
    });
    expect(point.cost_usd, point.bucket_start).toBeCloseTo(e.cost_usd, 10);
  }
  expect(data.series.reduce((s: number, p: { traces: number }) => s + p.traces, 0)).toBe(inside.length);
  return inside;
}

describe('GET /live-data/api/live-metrics', () => {
  it('answers totals, per model, per source and a 15-minute series of the last 24 hours by default', async () => {
    const rows = await insertRows(ROWS);
    const reply = await get();
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body)).toEqual(['data']);
    const inside = checkReply(reply.body.data, rows, 24, 900);
    expect(inside).toHaveLength(11);
    // Spelled out once, to show what the checks above compute.
    expect(reply.body.data.totals).toMatchObject({ traces: 11, errors: 3, error_rate: 3 / 9, input_tokens: 1507, output_tokens: 343 });
    expect(reply.body.data.by_model.map((m: { model: string | null; traces: number }) => [m.model, m.traces])).toEqual([
      ['gpt-4o', 5], ['claude-3', 3], [null, 2], ['llama-3', 1],
    ]);
    // A model with only running traces has no error rate and no latency.
    expect(reply.body.data.by_model[3]).toMatchObject({ error_rate: null, latency_ms: { p50: null, p95: null, p99: null } });
  });

  it('narrows to one source and/or one model', async () => {
    const rows = await insertRows(ROWS);
    const custom = await get('source=custom');
    expect(custom.status).toBe(200);
    checkReply(custom.body.data, rows.filter((r) => r.source === 'custom'), 24, 900);
    expect(custom.body.data.by_source.map((s: { source: string }) => s.source)).toEqual(['custom']);

    const gpt = await get('model=gpt-4o&hours=6');
    checkReply(gpt.body.data, rows.filter((r) => r.model === 'gpt-4o'), 6, 300);
    expect(gpt.body.data.totals.traces).toBe(5);

    const both = await get('model=claude-3&source=langfuse&hours=168');
    checkReply(both.body.data, rows.filter((r) => r.model === 'claude-3' && r.source === 'langfuse'), 168, 3600);
    expect(both.body.data.totals.traces).toBe(2);
  });

  it('chooses the series step from the window: 60 s for 1 h, 21600 s for 720 h', async () => {
    const rows = await insertRows(ROWS);
    const hour = await get('hours=1');
    expect(checkReply(hour.body.data, rows, 1, 60)).toHaveLength(6);
    expect(hour.body.data.series.length).toBeGreaterThanOrEqual(60);
    expect(hour.body.data.series.length).toBeLessThanOrEqual(61);

    const month = await get('hours=720');
    expect(checkReply(month.body.data, rows, 720, 21600)).toHaveLength(13);
  });

  it('answers zeros, nulls and a continuous series for a window without traces', async () => {
    await insertRows(ROWS);
    const reply = await get('hours=2&source=langwatch');
    expect(reply.status).toBe(200);
    const { data } = reply.body;
    expect(data.totals).toEqual({
      traces: 0, errors: 0, error_rate: null, latency_ms: { p50: null, p95: null, p99: null }, input_tokens: 0, output_tokens: 0, cost_usd: 0,
    });
    expect(data.by_model).toEqual([]);
    expect(data.by_source).toEqual([]);
    expect(data.series.length).toBeGreaterThanOrEqual(24);
    for (const point of data.series) {
      expect(point).toEqual({ bucket_start: point.bucket_start, traces: 0, errors: 0, error_rate: null, latency_p95_ms: null, cost_usd: 0 });
    }
    checkReply(data, [], 2, 300);
  });

  it('answers 400 naming the parameter for a window or filter out of bounds', async () => {
    const cases: [string, RegExp][] = [
      ['hours=0', /hours must be >= 1/],
      ['hours=721', /hours must be <= 720/],
      ['hours=1.5', /hours must be integer/],
      ['hours=day', /hours must be integer/],
      ['source=openai', /source must be equal to one of the allowed values/],
      ['model=', /model must NOT have fewer than 1 characters/],
      [`model=${'m'.repeat(201)}`, /model must NOT have more than 200 characters/],
    ];
    for (const [query, message] of cases) {
      const reply = await get(query);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code, query).toBe('invalid_request');
      expect(reply.body.error.message, query).toMatch(message);
    }
  });

  it('needs a credential', async () => {
    expect((await get('', {})).status).toBe(401);
  });

  it('is described under the metrics tag with every status it answers', async () => {
    const doc = (await (await fetch(`${service.baseUrl}/docs/json`)).json()) as {
      paths: Record<string, { get: { tags: string[]; summary: string; responses: Record<string, unknown> } }>;
    };
    const op = doc.paths['/live-data/api/live-metrics']!.get;
    expect(op.tags).toEqual(['metrics']);
    expect(op.summary).toEqual(expect.any(String));
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '429']));
  });
});
