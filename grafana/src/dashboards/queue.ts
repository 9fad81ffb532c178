import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from '../shared/layout.js';
import { heatmapPanel, prom, timeSeries } from '../shared/panels.js';
import { ENV, ENV_SOURCE, environmentVariable, SERVICE_JOBS, sourceVariable } from '../shared/variables.js';

/** p50, p95 and p99 of a histogram, one query each. */
const quantiles = (buckets: string) =>
  ([['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']] as const).map(([q, legend]) =>
    prom(`histogram_quantile(${q}, sum by (le) (rate(${buckets}[$__rate_interval])))`, legend),
  );

export function queueDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-queue',
    title: 'Vertigo Live / Queue and persist worker',
    description: 'The path from the 202 to PostgreSQL: queue depth, enqueue latency, persist batches, rows written, freshness, and the Node.js processes.',
    variables: [environmentVariable(), sourceVariable()],
    sections: [
      {
        title: 'Queue',
        panels: [
          timeSeries(
            { title: 'Jobs by state', description: 'Persist jobs per BullMQ state (read from Redis at scrape time; every instance reads the same queue, so the highest reading per state is used). A growing "waiting" means the workers do not keep up.', unit: 'short', min: 0, stack: true },
            prom(`sum by (state) (max by (environment, queue, state) (vertigo_queue_jobs{${ENV}}))`, '{{state}}'),
          ),
          timeSeries(
            { title: 'Enqueue latency (accepted webhooks)', description: 'Duration of accepted webhook requests — verification, validation and the enqueue to Redis — p50, p95, p99.', unit: 's', min: 0, thresholds: [[null, 'green'], [1, 'red']], thresholdLines: true },
            ...quantiles(`vertigo_webhook_request_duration_seconds_bucket{${ENV_SOURCE}}`),
          ),
        ],
      },
      {
        title: 'Persist worker',
        panels: [
          timeSeries(
            { title: 'Batch size', description: 'Events written per PostgreSQL transaction, p50, p95, p99. Bigger batches under load are expected: the worker drains the queue in batches.', unit: 'short', width: 8, min: 0 },
            ...quantiles(`vertigo_persist_batch_events_bucket{${ENV}}`),
          ),
          timeSeries(
            { title: 'Batch duration', description: 'Duration of one persist transaction, p50, p95, p99.', unit: 's', width: 8, min: 0, thresholds: [[null, 'green'], [1, 'orange'], [5, 'red']], thresholdLines: true },
            ...quantiles(`vertigo_persist_batch_duration_seconds_bucket{${ENV}}`),
          ),
          timeSeries(
            { title: 'Rows written', description: 'Rows written to PostgreSQL per second, by table and operation.', unit: 'ops', width: 8, min: 0, stack: true },
            prom(`sum by (table, operation) (rate(vertigo_persist_rows_total{${ENV}}[$__rate_interval]))`, '{{table}} {{operation}}'),
          ),
          timeSeries(
            { title: 'Transactions by result', description: 'Persist transactions per second, ok or error.', unit: 'ops', min: 0, stack: true },
            prom(`sum by (result) (rate(vertigo_persist_batch_duration_seconds_count{${ENV}}[$__rate_interval]))`, '{{result}}'),
          ),
          timeSeries(
            { title: 'Events stored by status', description: 'Events per second by final status: processed, duplicate (redelivery), ignored, failed.', unit: 'ops', min: 0, stack: true },
            prom(`sum by (status) (rate(vertigo_persist_events_total{${ENV_SOURCE}}[$__rate_interval]))`, '{{status}}'),
          ),
        ],
      },
      {
        title: 'Freshness (202 to committed in PostgreSQL)',
        panels: [
          heatmapPanel(
            { title: 'Freshness distribution', description: 'How long events took from the 202 to their transaction committing, as a heatmap of the histogram buckets (5 ms to 15 min).', unit: 'short', yUnit: 's' },
            prom(`sum by (le) (increase(vertigo_ingest_freshness_seconds_bucket{${ENV_SOURCE}}[$__rate_interval]))`, '{{le}}'),
          ),
          timeSeries(
            { title: 'Freshness quantiles', description: 'p50, p95, p99 of the time from the 202 to the commit. The freshness SLO wants 99 % within 10 s (dashed line).', unit: 's', min: 0, thresholds: [[null, 'green'], [10, 'red']], thresholdLines: true },
            ...quantiles(`vertigo_ingest_freshness_seconds_bucket{${ENV_SOURCE}}`),
          ),
        ],
      },
      {
        title: 'Processes and stores',
        panels: [
          timeSeries(
            { title: 'Event loop lag p99', description: 'p99 Node.js event loop lag per process: above 100 ms the process answers late (health checks, webhooks).', unit: 's', width: 8, min: 0, thresholds: [[null, 'green'], [0.1, 'orange'], [0.5, 'red']], thresholdLines: true },
            prom(`max by (job, instance) (nodejs_eventloop_lag_p99_seconds{${ENV}, ${SERVICE_JOBS}})`, '{{job}} {{instance}}'),
          ),
          timeSeries(
            { title: 'Memory', description: 'Resident memory and V8 heap used per process.', unit: 'bytes', width: 8, min: 0 },
            prom(`max by (job, instance) (process_resident_memory_bytes{${ENV}, ${SERVICE_JOBS}})`, '{{job}} {{instance}} rss'),
            prom(`max by (job, instance) (nodejs_heap_size_used_bytes{${ENV}, ${SERVICE_JOBS}})`, '{{job}} {{instance}} heap'),
          ),
          timeSeries(
            { title: 'CPU', description: 'CPU used per process, as a share of one core.', unit: 'percentunit', width: 8, min: 0 },
            prom(`sum by (job, instance) (rate(process_cpu_seconds_total{${ENV}, ${SERVICE_JOBS}}[$__rate_interval]))`, '{{job}} {{instance}}'),
          ),
          timeSeries(
            { title: 'Redis memory', description: 'Memory used by Redis (redis_exporter). BullMQ keeps queued jobs in Redis: a backlog shows here first.', unit: 'bytes', min: 0 },
            prom(`max by (instance) (redis_memory_used_bytes{${ENV}})`, '{{instance}}'),
          ),
          timeSeries(
            { title: 'PostgreSQL connections', description: 'Connections to PostgreSQL by state (postgres_exporter pg_stat_activity_count).', unit: 'short', min: 0, stack: true },
            prom(`sum by (state) (pg_stat_activity_count{${ENV}})`, '{{state}}'),
          ),
        ],
      },
    ],
  });
}
