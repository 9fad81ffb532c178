import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, type PanelBuilder } from '../shared/layout.js';
import { prom, statPanel, timeSeries, UP_DOWN } from '../shared/panels.js';
import { ENV, ENV_SOURCE, environmentVariable, sourceVariable } from '../shared/variables.js';

/**
 * SLO objectives. They must match the burn-rate alerts in prometheus/rules (the error budget is 1 - objective,
 * written out as a literal so the PromQL carries no floating-point noise).
 */
export const SLOS = {
  ingest: { name: 'Ingest availability', objective: '99.9%', target: '99.9% of deliveries not answered 5xx', budget: '0.001', rule: 'vertigo:slo_ingest_errors' },
  freshness: { name: 'Freshness', objective: '99%', target: '99% of events committed within 10 s of the 202', budget: '0.01', rule: 'vertigo:slo_freshness_slow' },
} as const;

/** Burn-rate windows drawn (the alert thresholds 14.4, 6, 3 and 1 are drawn as dashed lines). */
const BURN_WINDOWS = ['5m', '1h', '6h', '1d', '3d'] as const;

function sloPanels(slo: (typeof SLOS)[keyof typeof SLOS]): PanelBuilder[] {
  const ratio = (window: string) => `${slo.rule}:ratio_rate${window}{${ENV}}`;
  return [
    statPanel(
      {
        title: `${slo.name}: error budget left (3d)`,
        description: `Share of the error budget (${slo.objective} objective, budget ${slo.budget}) not yet spent over the last 3 days: 1 - (bad ratio over 3d / budget). Needs 3 days of history in Prometheus to be exact; below 0 the objective is missed.`,
        unit: 'percentunit',
        width: 4,
        height: 8,
        decimals: 1,
        thresholds: [[null, 'red'], [0.25, 'orange'], [0.5, 'green']],
        graph: false,
      },
      prom(`1 - ${ratio('3d')} / ${slo.budget}`, '{{environment}}'),
    ),
    statPanel(
      {
        title: `${slo.name}: bad ratio (3d)`,
        description: `Ratio of bad events over the last 3 days (recording rule ${slo.rule}:ratio_rate3d). Red above the budget of ${slo.budget}.`,
        unit: 'percentunit',
        width: 4,
        height: 8,
        decimals: 3,
        thresholds: [[null, 'green'], [Number(slo.budget) / 2, 'orange'], [Number(slo.budget), 'red']],
        graph: false,
      },
      prom(ratio('3d'), '{{environment}}'),
    ),
    timeSeries(
      {
        title: `${slo.name}: burn rate`,
        description: `How fast the error budget burns, per window (bad ratio / ${slo.budget}); 1× spends exactly the budget over the SLO period. Dashed lines: the burn-rate alert thresholds (prometheus/rules/alerts-slo.yml): 14.4× over 1h and 6× over 6h page, 3× over 1d and 1× over 3d open a ticket, each confirmed by a shorter window. The 1d and 3d lines need that much history to be meaningful.`,
        unit: 'suffix:×',
        width: 16,
        height: 8,
        min: 0,
        thresholds: [[null, 'green'], [1, 'yellow'], [3, 'orange'], [6, 'red'], [14.4, 'dark-red']],
        thresholdLines: true,
      },
      ...BURN_WINDOWS.map((window) => prom(`${ratio(window)} / ${slo.budget}`, `{{environment}} ${window}`)),
    ),
  ];
}

export function overviewDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-overview',
    title: 'Vertigo Live / Overview',
    description: 'Is Vertigo Live up, taking webhooks, and writing them to PostgreSQL on time? Service health, ingest, and the two SLOs.',
    variables: [environmentVariable(), sourceVariable()],
    sections: [
      {
        title: 'Service health',
        panels: [
          statPanel(
            { title: 'Scrape targets', description: 'Prometheus `up` per scrape job (api, worker, exporters, blackbox): DOWN when any target of the job failed its last scrape.', unit: 'none', width: 8, thresholds: [[null, 'red'], [1, 'green']], mappings: UP_DOWN, graph: false },
            prom(`min by (job) (up{${ENV}})`, '{{job}}'),
          ),
          statPanel(
            { title: 'Dependencies', description: 'PostgreSQL and Redis as the service sees them (vertigo_dependency_up, checked at scrape time), worst instance.', unit: 'none', width: 6, thresholds: [[null, 'red'], [1, 'green']], mappings: UP_DOWN, graph: false },
            prom(`min by (dependency) (vertigo_dependency_up{${ENV}})`, '{{dependency}}'),
          ),
          statPanel(
            { title: 'Queue', description: 'Whether the BullMQ queue in Redis answers (vertigo_queue_up), worst instance.', unit: 'none', width: 4, thresholds: [[null, 'red'], [1, 'green']], mappings: UP_DOWN, graph: false },
            prom(`min by (queue) (vertigo_queue_up{${ENV}})`, '{{queue}}'),
          ),
          statPanel(
            { title: 'Readiness probe', description: 'Blackbox probe of /health/ready per instance: DOWN when it answers 503 (dependency down, migrations pending, shutting down).', unit: 'none', width: 6, thresholds: [[null, 'red'], [1, 'green']], mappings: UP_DOWN, graph: false },
            prom(`min by (instance) (probe_success{${ENV}, job="blackbox-health"})`, '{{instance}}'),
          ),
          statPanel(
            { title: 'Instances by role', description: 'Running processes per role (api, worker, all), from vertigo_build_info.', unit: 'none', width: 8, thresholds: [[null, 'red'], [1, 'blue']], graph: false },
            prom(`count by (role) (vertigo_build_info{${ENV}})`, '{{role}}'),
          ),
          statPanel(
            { title: 'Versions running', description: 'Processes per service version: more than one version means a rollout is in progress (or stuck).', unit: 'none', width: 8, thresholds: [[null, 'blue']], graph: false },
            prom(`count by (version) (vertigo_build_info{${ENV}})`, '{{version}}'),
          ),
          statPanel(
            { title: 'Dependency check time', description: 'Slowest time to check each dependency at the last scrape (vertigo_dependency_check_duration_seconds).', unit: 's', width: 8, thresholds: [[null, 'green'], [0.5, 'orange'], [2, 'red']] },
            prom(`max by (dependency) (vertigo_dependency_check_duration_seconds{${ENV}})`, '{{dependency}}'),
          ),
        ],
      },
      {
        title: 'Ingest',
        panels: [
          timeSeries(
            { title: 'Accepted webhooks by source', description: 'Webhook deliveries answered 202 per second (recording rule vertigo:webhook_requests:rate5m, outcome="accepted").', unit: 'reqps', min: 0 },
            prom(`sum by (source) (vertigo:webhook_requests:rate5m{${ENV_SOURCE}, outcome="accepted"})`, '{{source}}'),
          ),
          timeSeries(
            { title: 'Rejection ratio by source', description: 'Share of deliveries not accepted (bad signature, invalid payload, rate limited, 5xx...), over 5 minutes. See the Errors dashboard for the outcomes.', unit: 'percentunit', min: 0, thresholds: [[null, 'green'], [0.01, 'orange'], [0.05, 'red']], thresholdLines: true },
            prom(`vertigo:webhook_rejections:ratio_rate5m{${ENV_SOURCE}}`, '{{source}} ({{environment}})'),
          ),
          timeSeries(
            { title: 'Ingest freshness p99', description: 'p99 time from the 202 to the event being committed in PostgreSQL, over 5 minutes. The freshness SLO counts events committed within 10 s (dashed line).', unit: 's', min: 0, thresholds: [[null, 'green'], [10, 'red']], thresholdLines: true },
            prom(`vertigo:ingest_freshness_seconds:p99_5m{${ENV_SOURCE}}`, '{{source}} ({{environment}})'),
          ),
          timeSeries(
            { title: 'Webhook latency p99', description: 'p99 duration of accepted webhook requests, including the enqueue to Redis, over 5 minutes.', unit: 's', min: 0, thresholds: [[null, 'green'], [0.5, 'orange'], [1, 'red']], thresholdLines: true },
            prom(`vertigo:webhook_request_duration_seconds:p99_5m{${ENV_SOURCE}}`, '{{source}} ({{environment}})'),
          ),
          timeSeries(
            { title: 'Events stored by status', description: 'Events written by the persist worker per second, by final status (processed, duplicate, ignored, failed).', unit: 'ops', min: 0, stack: true },
            prom(`sum by (status) (vertigo:persist_events:rate5m{${ENV_SOURCE}})`, '{{status}}'),
          ),
          timeSeries(
            { title: 'Queue backlog', description: 'Jobs waiting or in progress in the persist queue (read from Redis at scrape time; every instance reads the same queue, so the highest reading is shown).', unit: 'short', min: 0, stack: true },
            prom(`sum by (state) (max by (environment, queue, state) (vertigo_queue_jobs{${ENV}, state=~"waiting|active|delayed|prioritized"}))`, '{{state}}'),
          ),
        ],
      },
      { title: `SLO: ${SLOS.ingest.name}, ${SLOS.ingest.target}`, panels: sloPanels(SLOS.ingest) },
      { title: `SLO: ${SLOS.freshness.name}, ${SLOS.freshness.target}`, panels: sloPanels(SLOS.freshness) },
    ],
  });
}
