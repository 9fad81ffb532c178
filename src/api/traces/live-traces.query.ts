import type { Pool } from 'pg';
import type { TraceSource, TraceStatus } from '../../ingest/ingest-event.js';
import { instantText, isBigintId, type KeysetCursor } from '../keyset-cursor.js';

/**
 * Reads of `live_traces` for the live data API: a newest-first list read by keyset, and one trace by id.
 * Pure functions of a pool and their parameters; the routes turn what they return into replies.
 *
 * Timestamps travel as text in UTC with all six fractional digits (`2026-11-21T10:00:00.123456Z`): a JS Date
 * keeps milliseconds only, and a cursor or a `since` that lost the microseconds would skip or repeat rows.
 */

export interface TraceItem {
  /** bigint as text: ids are not bounded by a double. */
  id: string;
  source: string;
  external_id: string;
  name: string | null;
  model: string | null;
  provider: string | null;
  status: TraceStatus;
  latency_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  user_id: string | null;
  session_id: string | null;
  started_at: string | null;
  ended_at: string | null;
  received_at: string;
  updated_at: string;
  metadata: Record<string, unknown>;
}


export interface ListTracesParams {
  status?: TraceStatus | undefined;
  source?: TraceSource | undefined;
  model?: string | undefined;
  /** received_at range, canonical UTC text (see parseInstant): since inclusive, until exclusive. */
  since?: string | undefined;
  until?: string | undefined;
  /** Case-insensitive substring of name, external_id, user_id or session_id. */
  q?: string | undefined;
  limit: number;
  after?: KeysetCursor | undefined;
}

export interface TracePage {
  items: TraceItem[];
  /** Where the next page starts; undefined on the last page. */
  next: KeysetCursor | undefined;
}

const COLUMNS = `
  id::text AS id, source, external_id, name, model, provider, status, latency_ms, input_tokens, output_tokens,
  cost_usd, user_id, session_id, ${instantText('started_at')} AS started_at, ${instantText('ended_at')} AS ended_at,
  ${instantText('received_at')} AS received_at, ${instantText('updated_at')} AS updated_at, metadata`;

type TraceRow = Omit<TraceItem, 'input_tokens' | 'output_tokens' | 'cost_usd'> & {
  // bigint and numeric: numbers with the service's pool type parsers, strings with pg's defaults.
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cost_usd: number | string | null;
};

const num = (value: number | string | null) => (value === null ? null : Number(value));

const toItem = (row: TraceRow): TraceItem => ({
  ...row,
  input_tokens: num(row.input_tokens),
  output_tokens: num(row.output_tokens),
  cost_usd: num(row.cost_usd),
});

/** `%`, `_` and the escape character itself match literally in an ILIKE pattern once escaped. */
export const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

/**
 * One page, newest first by (received_at, id). The keyset condition is a row comparison that PostgreSQL reads
 * as a range of the (received_at DESC, id DESC) index, so a page costs the same wherever it is, and rows that
 * arrive later sort before the cursor and never shift the pages after it. One row more than the limit is read
 * to know whether there is a next page.
 */
export async function listTraces(pool: Pool, params: ListTracesParams): Promise<TracePage> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (params.status !== undefined) where.push(`status = ${param(params.status)}`);
  if (params.source !== undefined) where.push(`source = ${param(params.source)}`);
  if (params.model !== undefined) where.push(`model = ${param(params.model)}`);
  if (params.since !== undefined) where.push(`received_at >= ${param(params.since)}::timestamptz`);
  if (params.until !== undefined) where.push(`received_at < ${param(params.until)}::timestamptz`);
  if (params.q !== undefined) {
    const p = param(likePattern(params.q));
    where.push(`(${['name', 'external_id', 'user_id', 'session_id'].map((c) => `${c} ILIKE ${p} ESCAPE '\\'`).join(' OR ')})`);
  }
  if (params.after) {
    where.push(`(received_at, id) < (${param(params.after.receivedAt)}::timestamptz, ${param(params.after.id)}::bigint)`);
  }
  // ORDER BY names the table's columns: a bare `id` or `received_at` would be the text output columns of the
  // same names, sorting '9' after '10' and bypassing the index.
  const sql = `
    SELECT ${COLUMNS}
    FROM live_traces t
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY t.received_at DESC, t.id DESC
    LIMIT ${param(params.limit + 1)}`;
  const { rows } = await pool.query<TraceRow>(sql, values);
  const more = rows.length > params.limit;
  const items = (more ? rows.slice(0, params.limit) : rows).map(toItem);
  const last = items.at(-1);
  return { items, next: more && last ? { receivedAt: last.received_at, id: last.id } : undefined };
}

/** One trace, or undefined when there is none with this id (including ids no bigint can hold). */
export async function findTrace(pool: Pool, id: string): Promise<TraceItem | undefined> {
  if (!isBigintId(id)) return undefined;
  const { rows } = await pool.query<TraceRow>(`SELECT ${COLUMNS} FROM live_traces WHERE id = $1::bigint`, [id]);
  return rows[0] && toItem(rows[0]);
}
