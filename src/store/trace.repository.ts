import type { PoolClient } from 'pg';
import type { TraceDelete, TraceUpsert } from './trace-fold.js';

/**
 * Set-based writes to `live_traces`: one statement per batch, the rows passed as one JSON document
 * (`jsonb_to_recordset`), so a batch costs the same few round trips whatever its size.
 */

export interface WrittenTrace {
  source: string;
  external_id: string;
  written: boolean;
  /** Status before this statement; null when the trace is new. */
  previous_status: string | null;
  status: string | null;
  model: string | null;
  latency_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
}

const INPUT_COLUMNS = `
  source text, external_id text, name text, model text, provider text, status text,
  latency_ms double precision, input_tokens bigint, output_tokens bigint, cost_usd numeric,
  user_id text, session_id text, started_at timestamptz, ended_at timestamptz, metadata jsonb,
  received_at timestamptz, updated_at timestamptz, last_event_id text`;

const NEWER = '(EXCLUDED.updated_at, EXCLUDED.last_event_id) > (t.updated_at, t.last_event_id)';

/**
 * Upserts traces. A field absent from the input keeps its stored value, metadata is merged, and a row is only
 * changed by a newer version. `statusGiven` says whether these rows carry a status: rows without one keep
 * the stored status (and start as `running` when new), which SQL cannot tell apart from an explicit value.
 */
function upsertSql(statusGiven: boolean): string {
  return `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(${INPUT_COLUMNS})
),
previous AS (
  SELECT t.source, t.external_id, t.status
  FROM live_traces t JOIN input i ON t.source = i.source AND t.external_id = i.external_id
),
written AS (
  INSERT INTO live_traces AS t (
    source, external_id, name, model, provider, status, latency_ms, input_tokens, output_tokens, cost_usd,
    user_id, session_id, started_at, ended_at, metadata, received_at, updated_at, last_event_id)
  SELECT i.source, i.external_id, i.name, i.model, i.provider, COALESCE(i.status, 'running'), i.latency_ms,
         i.input_tokens, i.output_tokens, i.cost_usd, i.user_id, i.session_id, i.started_at, i.ended_at,
         COALESCE(i.metadata, '{}'::jsonb), i.received_at, i.updated_at, i.last_event_id
  FROM input i
  WHERE NOT EXISTS (
    SELECT 1 FROM live_trace_tombstones d
    WHERE d.source = i.source AND d.external_id = i.external_id
      AND (d.deleted_at, d.last_event_id) >= (i.updated_at, i.last_event_id))
  ORDER BY i.source, i.external_id
  ON CONFLICT (source, external_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, t.name),
    model = COALESCE(EXCLUDED.model, t.model),
    provider = COALESCE(EXCLUDED.provider, t.provider),
    status = ${statusGiven ? 'EXCLUDED.status' : 't.status'},
    latency_ms = COALESCE(EXCLUDED.latency_ms, t.latency_ms),
    input_tokens = COALESCE(EXCLUDED.input_tokens, t.input_tokens),
    output_tokens = COALESCE(EXCLUDED.output_tokens, t.output_tokens),
    cost_usd = COALESCE(EXCLUDED.cost_usd, t.cost_usd),
    user_id = COALESCE(EXCLUDED.user_id, t.user_id),
    session_id = COALESCE(EXCLUDED.session_id, t.session_id),
    started_at = COALESCE(EXCLUDED.started_at, t.started_at),
    ended_at = COALESCE(EXCLUDED.ended_at, t.ended_at),
    metadata = t.metadata || EXCLUDED.metadata,
    received_at = LEAST(t.received_at, EXCLUDED.received_at),
    updated_at = EXCLUDED.updated_at,
    last_event_id = EXCLUDED.last_event_id
  WHERE ${NEWER}
  RETURNING t.source, t.external_id, t.status, t.model, t.latency_ms, t.input_tokens, t.output_tokens, t.cost_usd
)
SELECT i.source, i.external_id, w.external_id IS NOT NULL AS written, p.status AS previous_status,
       w.status, w.model, w.latency_ms, w.input_tokens, w.output_tokens, w.cost_usd
FROM input i
LEFT JOIN written w ON w.source = i.source AND w.external_id = i.external_id
LEFT JOIN previous p ON p.source = i.source AND p.external_id = i.external_id`;
}

const UPSERT_WITH_STATUS = upsertSql(true);
const UPSERT_KEEP_STATUS = upsertSql(false);

/**
 * Locks the existing rows first, in key order: the upsert statement that follows then reads their latest
 * committed status (its snapshot is taken after the locks are held), so a trace finished by two workers at
 * once is counted once. (Locking inside the upsert statement would not work: a row it has just modified is
 * invisible to its own FOR UPDATE.)
 */
const LOCK_SQL = `
SELECT 1 FROM live_traces t
JOIN jsonb_to_recordset($1::jsonb) AS i(source text, external_id text)
  ON t.source = i.source AND t.external_id = i.external_id
ORDER BY t.source, t.external_id
FOR UPDATE OF t`;

export async function upsertTraces(client: PoolClient, rows: readonly TraceUpsert[]): Promise<WrittenTrace[]> {
  if (rows.length === 0) return [];
  await client.query(LOCK_SQL, [JSON.stringify(rows.map((r) => ({ source: r.source, external_id: r.external_id })))]);
  const withStatus = rows.filter((r) => r.status != null);
  const withoutStatus = rows.filter((r) => r.status == null);
  const results: WrittenTrace[] = [];
  for (const [sql, group] of [
    [UPSERT_WITH_STATUS, withStatus],
    [UPSERT_KEEP_STATUS, withoutStatus],
  ] as const) {
    if (group.length === 0) continue;
    const { rows: written } = await client.query<WrittenTrace>(sql, [JSON.stringify(group)]);
    results.push(...written);
  }
  return results;
}

const DELETE_SQL = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS i(source text, external_id text, deleted_at timestamptz, last_event_id text)
),
tombstones AS (
  INSERT INTO live_trace_tombstones AS d (source, external_id, deleted_at, last_event_id)
  SELECT source, external_id, deleted_at, last_event_id FROM input ORDER BY source, external_id
  ON CONFLICT (source, external_id) DO UPDATE
    SET deleted_at = EXCLUDED.deleted_at, last_event_id = EXCLUDED.last_event_id
    WHERE (EXCLUDED.deleted_at, EXCLUDED.last_event_id) > (d.deleted_at, d.last_event_id)
)
DELETE FROM live_traces t USING input i
WHERE t.source = i.source AND t.external_id = i.external_id
  AND (t.updated_at, t.last_event_id) < (i.deleted_at, i.last_event_id)
RETURNING t.source, t.external_id`;

/** Deletes traces older than their delete event and leaves tombstones; returns how many rows went. */
export async function deleteTraces(client: PoolClient, rows: readonly TraceDelete[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await client.query(DELETE_SQL, [JSON.stringify(rows)]);
  return result.rowCount ?? 0;
}
