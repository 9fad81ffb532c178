import { Queue } from 'bullmq';
import type pg from 'pg';
import { QUEUE_NAMES } from '../../src/queue/queues.js';
import { post, type Reply, signedHeaders } from '../support/webhook-client.js';

/** Helpers shared by the fault tests: what a user would look at (rows, replies, /metrics). */

/** A custom-source `trace.created` event with a known id (the trace id and the event id derive from it). */
export function traceEvent(id: string): Record<string, unknown> {
  return {
    event_type: 'trace.created',
    event_id: `evt-${id}`,
    timestamp: new Date().toISOString(),
    data: { id, model: 'gpt-4o-mini', status: 'success', latency_ms: 120, input_tokens: 10, output_tokens: 5, cost_usd: 0.001 },
  };
}

/** Posts one signed custom delivery: a single event, or a `{"events": [...]}` batch when given several ids. */
export function sendTraces(baseUrl: string, ids: readonly string[], timeoutMs = 10_000): Promise<Reply> {
  const body = ids.length === 1 ? JSON.stringify(traceEvent(ids[0]!)) : JSON.stringify({ events: ids.map(traceEvent) });
  return post(baseUrl, 'custom', body, signedHeaders('custom', body), timeoutMs);
}

export const range = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

export async function traceCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM live_traces');
  return Number(rows[0]!.n);
}

export async function traceIds(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ external_id: string }>('SELECT external_id FROM live_traces ORDER BY external_id');
  return rows.map((r) => r.external_id);
}

/** Trace ids stored more than once (must always be empty). */
export async function duplicatedTraces(pool: pg.Pool): Promise<{ external_id: string; n: number }[]> {
  const { rows } = await pool.query<{ external_id: string; n: string }>(
    'SELECT external_id, count(*) AS n FROM live_traces GROUP BY source, external_id HAVING count(*) > 1',
  );
  return rows.map((r) => ({ external_id: r.external_id, n: Number(r.n) }));
}

/** webhook_events rows by status, e.g. `{ processed: 120 }`. */
export async function eventStatuses(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM webhook_events GROUP BY status');
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Reads one sample of a Prometheus counter or gauge from GET /metrics; 0 when the series does not exist yet. */
export async function metricValue(baseUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

export interface Probe {
  status: number;
  body: any;
}

export async function probe(baseUrl: string, path: string, timeoutMs = 3000): Promise<Probe> {
  const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** Jobs left in the persist queue of `prefix`, by state. */
export async function queueCounts(redisUrl: string, prefix: string): Promise<Record<string, number>> {
  const queue = new Queue(QUEUE_NAMES.persist, { connection: { url: redisUrl, maxRetriesPerRequest: 1 }, prefix });
  try {
    return await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
  } finally {
    await queue.close();
  }
}

/** Removes every key of the persist queue of `prefix` (what child processes left behind). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs the cleanups in order, each even when an earlier one failed, and rethrows the first error at the end. */
export async function cleanUp(...steps: (() => Promise<unknown> | unknown)[]): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}
