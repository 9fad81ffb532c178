import type { Pool } from 'pg';
import type { TraceSource } from '../../ingest/ingest-event.js';

/**
 * Aggregates of `live_traces` over a recent window for the live data API: totals, per model, per source, and
 * a time series. One statement, so every part is computed from the same snapshot and agrees with the others.
 * The signature is kept to plain values so that a cache (or a rollup table) can stand in for it later.
 */

export interface LiveMetricsParams {
  /** The window is the last `hours` hours by received_at, ending at `now`. */
  hours: number;
  source?: TraceSource | undefined;
  model?: string | undefined;
  /** The end of the window; the service's clock by default (received_at is stamped by the service too). */
  now?: Date | undefined;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface Aggregate {
  traces: number;
  /** Traces with status `error`. */
  errors: number;
  /** errors / finished traces (success, error, cancelled); null when none finished. */
  error_rate: number | null;
  latency_ms: Percentiles;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface SeriesPoint {
  bucket_start: string;
  traces: number;
  errors: number;
  error_rate: number | null;
  latency_p95_ms: number | null;
  cost_usd: number;
}

export interface LiveMetrics {
  window: { from: string; to: string; hours: number; step_seconds: number };
  totals: Aggregate;
  by_model: (Aggregate & { model: string | null })[];
  by_source: (Aggregate & { source: string })[];
  series: SeriesPoint[];
}

/**
 * The series step for a window: few enough points to draw (at most ~170), fine enough to see a spike.
 * Steps divide a day, so buckets start at the same times whatever the window.
 */
export function stepSecondsFor(hours: number): number {
  if (hours <= 1) return 60;
  if (hours <= 6) return 300;
  if (hours <= 24) return 900;
  if (hours <= 168) return 3600;
  return 21600;
}

const FINISHED = `status IN ('success', 'error', 'cancelled')`;

// The same aggregates for every group and bucket; `numeric`/`bigint` results are read with Number() below.
const AGGREGATES = `
  count(*) AS traces,
  count(*) FILTER (WHERE status = 'error') AS errors,
  count(*) FILTER (WHERE ${FINISHED}) AS finished,
  percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency,
  COALESCE(sum(input_tokens), 0) AS input_tokens,
  COALESCE(sum(output_tokens), 0) AS output_tokens,
  COALESCE(sum(cost_usd), 0) AS cost_usd`;

interface Row {
  kind: 'total' | 'model' | 'source' | 'bucket';
  model: string | null;
  source: string | null;
  bucket_start: string | null;
  traces: number | string;
  errors: number | string;
  finished: number | string;
  latency: (number | null)[] | null;
  input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number | string;
}

/**
 * Totals, per model and per source come from one GROUPING SETS pass; the series from the same rows binned by
 * `date_bin` on buckets aligned to the epoch, joined to `generate_series` so that empty buckets are zeros
 * and a chart has no gaps. The first bucket may start before the window: it counts only the window's rows.
 */
export async function liveMetrics(pool: Pool, params: LiveMetricsParams): Promise<LiveMetrics> {
  const to = params.now ?? new Date();
  const from = new Date(to.getTime() - params.hours * 3_600_000);
  const step = stepSecondsFor(params.hours);
  const values: unknown[] = [from.toISOString(), to.toISOString(), `${step} seconds`];
  const where = ['received_at >= $1::timestamptz', 'received_at < $2::timestamptz'];
  if (params.source !== undefined) where.push(`source = $${values.push(params.source)}`);
  if (params.model !== undefined) where.push(`model = $${values.push(params.model)}`);
  // `w` is inlined into both branches (two range scans of the same snapshot): on 300k rows that is faster than
  // spooling the window to disk once.
  const sql = `
    WITH w AS NOT MATERIALIZED (
      SELECT source, model, status, latency_ms, input_tokens, output_tokens, cost_usd, received_at
      FROM live_traces
      WHERE ${where.join(' AND ')}
    ),
    buckets AS (
      SELECT date_bin($3::interval, received_at, timestamptz 'epoch') AS bucket, ${AGGREGATES}
      FROM w GROUP BY 1
    )
    SELECT CASE WHEN GROUPING(model) = 0 THEN 'model' WHEN GROUPING(source) = 0 THEN 'source' ELSE 'total' END AS kind,
           model, source, NULL AS bucket_start, ${AGGREGATES}
    FROM w
    GROUP BY GROUPING SETS ((), (model), (source))
    UNION ALL
    SELECT 'bucket', NULL, NULL, to_char(s.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           COALESCE(b.traces, 0), COALESCE(b.errors, 0), COALESCE(b.finished, 0), b.latency,
           COALESCE(b.input_tokens, 0), COALESCE(b.output_tokens, 0), COALESCE(b.cost_usd, 0)
    FROM generate_series(
           date_bin($3::interval, $1::timestamptz, timestamptz 'epoch'),
           $2::timestamptz - interval '1 microsecond',
           $3::interval) AS s(bucket)
    LEFT JOIN buckets b ON b.bucket = s.bucket`;
  const { rows } = await pool.query<Row>(sql, values);

  const byModel: LiveMetrics['by_model'] = [];
  const bySource: LiveMetrics['by_source'] = [];
  const series: SeriesPoint[] = [];
  let totals: Aggregate | undefined;
  for (const row of rows) {
    const aggregate = toAggregate(row);
    if (row.kind === 'total') totals = aggregate;
    else if (row.kind === 'model') byModel.push({ model: row.model, ...aggregate });
    else if (row.kind === 'source') bySource.push({ source: row.source!, ...aggregate });
    else {
      series.push({
        bucket_start: row.bucket_start!,
        traces: aggregate.traces,
        errors: aggregate.errors,
        error_rate: aggregate.error_rate,
        latency_p95_ms: aggregate.latency_ms.p95,
        cost_usd: aggregate.cost_usd,
      });
    }
  }
  // The busiest first; ties in a stable order (a null model last).
  const byTraces = (a: Aggregate, b: Aggregate) => b.traces - a.traces;
  byModel.sort((a, b) => byTraces(a, b) || compareNullable(a.model, b.model));
  bySource.sort((a, b) => byTraces(a, b) || compareNullable(a.source, b.source));
  series.sort((a, b) => (a.bucket_start < b.bucket_start ? -1 : a.bucket_start > b.bucket_start ? 1 : 0));

  return {
    window: { from: from.toISOString(), to: to.toISOString(), hours: params.hours, step_seconds: step },
    // The grand total of GROUPING SETS is there even when no row matched.
    totals: totals ?? toAggregate(null),
    by_model: byModel,
    by_source: bySource,
    series,
  };
}

function toAggregate(row: Row | null): Aggregate {
  const traces = Number(row?.traces ?? 0);
  const errors = Number(row?.errors ?? 0);
  const finished = Number(row?.finished ?? 0);
  const latency = row?.latency ?? null;
  return {
    traces,
    errors,
    error_rate: finished > 0 ? errors / finished : null,
    latency_ms: { p50: latency?.[0] ?? null, p95: latency?.[1] ?? null, p99: latency?.[2] ?? null },
    input_tokens: Number(row?.input_tokens ?? 0),
    output_tokens: Number(row?.output_tokens ?? 0),
    cost_usd: Number(row?.cost_usd ?? 0),
  };
}

function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}
