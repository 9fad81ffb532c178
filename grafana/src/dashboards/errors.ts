import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from '../shared/layout.js';
import { prom, statPanel, timeSeries } from '../shared/panels.js';
import { ENV, ENV_SOURCE, ENV_SOURCE_MODEL, environmentVariable, modelVariable, sourceVariable } from '../shared/variables.js';

/** Outcomes answered 5xx: what the ingest availability SLO counts as bad. */
const SERVER_ERRORS = 'queue_unavailable|internal_error|source_not_configured';
const webhooks = (extra = '') => `vertigo_webhook_requests_total{${ENV_SOURCE}${extra}}`;
const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

export function errorsDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-errors',
    title: 'Vertigo Live / Errors',
    description: 'Everything that went wrong: rejected webhooks by outcome, 5xx answers, persist failures, failed jobs and LLM errors.',
    variables: [environmentVariable(), sourceVariable(), modelVariable()],
    sections: [
      {
        title: 'Now',
        panels: [
          statPanel(
            { title: 'Rejection ratio', description: 'Share of webhook deliveries not accepted, any reason (4xx and 5xx).', unit: 'percentunit', decimals: 2, thresholds: [[null, 'green'], [0.01, 'orange'], [0.05, 'red']] },
            prom(`sum(${rate(webhooks(', outcome!="accepted"'))}) / sum(${rate(webhooks())})`, 'rejected'),
          ),
          statPanel(
            { title: '5xx ratio', description: `Share of deliveries answered 5xx (${SERVER_ERRORS.replaceAll('|', ', ')}): the senders retry them, and the ingest SLO counts them as bad. Red above the 0.1 % budget.`, unit: 'percentunit', decimals: 3, thresholds: [[null, 'green'], [0.0005, 'orange'], [0.001, 'red']] },
            prom(`sum(${rate(webhooks(`, outcome=~"${SERVER_ERRORS}"`))}) / sum(${rate(webhooks())})`, '5xx'),
          ),
          statPanel(
            { title: 'Jobs in the failed set', description: 'Persist jobs that used all their attempts and sit in the BullMQ failed set (retry or inspect them).', unit: 'short', thresholds: [[null, 'green'], [1, 'orange'], [100, 'red']] },
            prom(`sum(max by (environment, queue) (vertigo_queue_jobs{${ENV}, state="failed"}))`, 'failed jobs'),
          ),
          statPanel(
            { title: 'LLM error ratio', description: 'Share of LLM requests (traces) that ended in error, selected models.', unit: 'percentunit', decimals: 2, thresholds: [[null, 'green'], [0.02, 'orange'], [0.05, 'red']] },
            prom(`sum(${rate(`gen_ai_client_requests_total{${ENV_SOURCE_MODEL}, status="error"}`)}) / sum(${rate(`gen_ai_client_requests_total{${ENV_SOURCE_MODEL}}`)})`, 'error ratio'),
          ),
        ],
      },
      {
        title: 'Webhook rejections',
        panels: [
          timeSeries(
            { title: 'Rejections by outcome', description: 'Deliveries not accepted, per second, by outcome (invalid_signature, stale_timestamp, invalid_payload, rate_limited, queue_unavailable...).', unit: 'reqps', min: 0, bars: true, stack: true },
            prom(`sum by (outcome) (${rate(webhooks(', outcome!="accepted"'))})`, '{{outcome}}'),
          ),
          timeSeries(
            { title: 'Rejections by source', description: 'Deliveries not accepted, per second, by source ("unknown" for paths that name no known source).', unit: 'reqps', min: 0, stack: true },
            prom(`sum by (source) (${rate(webhooks(', outcome!="accepted"'))})`, '{{source}}'),
          ),
          timeSeries(
            { title: '5xx answers by outcome', description: 'Deliveries answered 5xx per second: queue_unavailable (Redis down or slow), internal_error (a bug: see Sentry and the logs), source_not_configured (secret missing).', unit: 'reqps', min: 0, stack: true },
            prom(`sum by (outcome) (${rate(webhooks(`, outcome=~"${SERVER_ERRORS}"`))})`, '{{outcome}}'),
          ),
          timeSeries(
            { title: '5xx ratio (SLO, 5m)', description: 'The ingest SLO\'s bad ratio over 5 minutes (recording rule vertigo:slo_ingest_errors:ratio_rate5m); the dashed line is the 0.1 % budget.', unit: 'percentunit', min: 0, thresholds: [[null, 'green'], [0.001, 'red']], thresholdLines: true },
            prom(`vertigo:slo_ingest_errors:ratio_rate5m{${ENV}}`, '{{environment}}'),
          ),
        ],
      },
      {
        title: 'Persistence',
        panels: [
          timeSeries(
            { title: 'Events failed to persist', description: 'Events the persist worker gave up on (status="failed"), per second, by source.', unit: 'ops', width: 8, min: 0, stack: true },
            prom(`sum by (source) (${rate(`vertigo_persist_events_total{${ENV_SOURCE}, status="failed"}`)})`, '{{source}}'),
          ),
          timeSeries(
            { title: 'Failed transactions', description: 'Persist transactions that rolled back (result="error"), per second. Their jobs are retried.', unit: 'ops', width: 8, min: 0 },
            prom(`sum(${rate(`vertigo_persist_batch_duration_seconds_count{${ENV}, result="error"}`)})`, 'rolled back'),
          ),
          timeSeries(
            { title: 'Job attempts failed', description: 'Failed persist job attempts per second; final="true" when the job has no attempts left and moves to the failed set.', unit: 'ops', width: 8, min: 0, stack: true },
            prom(`sum by (final) (${rate(`vertigo_queue_job_failures_total{${ENV}}`)})`, 'final={{final}}'),
          ),
          timeSeries(
            { title: 'Jobs in the failed set', description: 'Size of the BullMQ failed set over time, per queue (read from Redis at scrape time).', unit: 'short', min: 0, thresholds: [[null, 'green'], [1, 'orange']], thresholdLines: true },
            prom(`max by (environment, queue) (vertigo_queue_jobs{${ENV}, state="failed"})`, '{{queue}} ({{environment}})'),
          ),
          timeSeries(
            { title: 'Persist failure ratio by source', description: 'Share of stored events that failed, by source.', unit: 'percentunit', min: 0, thresholds: [[null, 'green'], [0.001, 'orange'], [0.01, 'red']], thresholdLines: true },
            prom(`sum by (source) (${rate(`vertigo_persist_events_total{${ENV_SOURCE}, status="failed"}`)}) / sum by (source) (${rate(`vertigo_persist_events_total{${ENV_SOURCE}}`)})`, '{{source}}'),
          ),
        ],
      },
      {
        title: 'LLM errors',
        panels: [
          timeSeries(
            { title: 'LLM errors by model', description: 'LLM requests that ended in error per second (gen_ai_client_errors_total), by model.', unit: 'ops', width: 8, min: 0, stack: true },
            prom(`sum by (model) (${rate(`gen_ai_client_errors_total{${ENV_SOURCE_MODEL}}`)})`, '{{model}}'),
          ),
          timeSeries(
            { title: 'LLM errors by source', description: 'LLM requests that ended in error per second, by webhook source.', unit: 'ops', width: 8, min: 0, stack: true },
            prom(`sum by (source) (${rate(`gen_ai_client_errors_total{${ENV_SOURCE_MODEL}}`)})`, '{{source}}'),
          ),
          timeSeries(
            { title: 'LLM error ratio by model and source', description: 'Error ratio over 5 minutes per model and source (recording rule gen_ai:error_ratio:rate5m).', unit: 'percentunit', width: 8, min: 0, thresholds: [[null, 'green'], [0.05, 'red']], thresholdLines: true },
            prom(`gen_ai:error_ratio:rate5m{${ENV_SOURCE_MODEL}}`, '{{model}} / {{source}}'),
          ),
        ],
      },
    ],
  });
}
