import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from '../shared/layout.js';
import { prom, stateTimeline, statPanel, timeSeries, UP_DOWN } from '../shared/panels.js';
import { collectionVariable, ENV_COLLECTION, environmentVariable } from '../shared/variables.js';

/**
 * The Firestore sync (src/metrics/sync.metrics.ts), one series per collection. The gauges are reported by every
 * process that runs the sync (success time and lag from sync_status, so every replica reports the same value):
 * `max by (collection)`, as in prometheus/rules/alerts-sync.yml, is the answer.
 */
const F = ENV_COLLECTION;

/** The alert thresholds of prometheus/rules/alerts-sync.yml (VertigoSyncStale, VertigoSyncLagHigh, VertigoSyncErrors). */
const STALE_SECONDS = 3600;
const LAG_SECONDS = 900;
const ERRORS_15M = 5;

/**
 * Window of the run duration quantiles. Runs are minutes apart, so $__rate_interval (1 min) would mostly hold no
 * run and leave gaps; 15 minutes (the window of the errors alert) always holds several.
 */
const RUN_WINDOW = '15m';

const lastSuccess = `max by (collection) (vertigo_sync_last_success_timestamp_seconds{${F}})`;

/**
 * A collection that never succeeded reports 0, so its "time since" is the Unix time itself (over 50 years).
 * `to` is explicit: older Grafana versions read a null `to` as 0, not as +Infinity.
 */
const NEVER: dashboard.ValueMapping[] = [
  { type: dashboard.MappingType.RangeToText, options: { from: 1e9, to: 1e12, result: { text: 'never', color: 'red', index: 0 } } },
];

const RUNNING: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: { '0': { text: 'idle', color: 'transparent', index: 0 }, '1': { text: 'running', color: 'blue', index: 1 } },
  },
];

export function syncDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-sync',
    title: 'Vertigo Live / Sync',
    description: 'Is every Firestore collection in sync with PostgreSQL? Lag and last success per collection, documents, runs, errors and the live listeners. Runbook: docs/runbooks/sync.md.',
    variables: [environmentVariable(), collectionVariable()],
    sections: [
      {
        title: 'Is each collection in sync?',
        panels: [
          statPanel(
            {
              title: 'Time since last success',
              description: `Time since the last successful sync run of each collection finished (vertigo_sync_last_success_timestamp_seconds, from sync_status). VertigoSyncStale fires above 1 h (red) for 10 minutes; orange from 30 min. "never": no run of the collection has succeeded (the gauge reports 0).`,
              unit: 's',
              width: 8,
              height: 5,
              thresholds: [[null, 'green'], [STALE_SECONDS / 2, 'orange'], [STALE_SECONDS, 'red']],
              mappings: NEVER,
            },
            prom(`time() - ${lastSuccess}`, '{{collection}}'),
          ),
          statPanel(
            {
              title: 'Lag',
              description: 'How far the synced copy trails Firestore: time since the start of the last run that read the collection to its end (vertigo_sync_lag_seconds). VertigoSyncLagHigh fires above 15 min (red) for 15 minutes; orange from 7.5 min. No value until a run has read the collection to its end.',
              unit: 's',
              width: 8,
              height: 5,
              thresholds: [[null, 'green'], [LAG_SECONDS / 2, 'orange'], [LAG_SECONDS, 'red']],
            },
            prom(`max by (collection) (vertigo_sync_lag_seconds{${F}})`, '{{collection}}'),
          ),
          statPanel(
            {
              title: 'Live listener',
              description: 'UP when at least one process holds a connected live snapshot listener on the collection (vertigo_sync_listener_up). No value for collections without a live listener.',
              unit: 'none',
              width: 4,
              height: 5,
              thresholds: [[null, 'red'], [1, 'green']],
              mappings: UP_DOWN,
              graph: false,
            },
            prom(`max by (collection) (vertigo_sync_listener_up{${F}})`, '{{collection}}'),
          ),
          statPanel(
            {
              title: 'Errors (15 min)',
              description: `Sync errors (runs and live listeners) per collection over the last 15 minutes. VertigoSyncErrors fires above ${ERRORS_15M} for 15 minutes (red). See "Errors by reason" for why.`,
              unit: 'short',
              width: 4,
              height: 5,
              decimals: 0,
              thresholds: [[null, 'green'], [1, 'orange'], [ERRORS_15M, 'red']],
              graph: false,
            },
            prom(`sum by (collection) (increase(vertigo_sync_errors_total{${F}}[15m]))`, '{{collection}}'),
          ),
          timeSeries(
            {
              title: 'Time since last success',
              description: 'Time since the last successful run of each collection, over time: a sawtooth that drops at every success. The dashed line is the VertigoSyncStale threshold (1 h). Collections that never succeeded are left out here (the stat above shows them as "never").',
              unit: 's',
              min: 0,
              thresholds: [[null, 'green'], [STALE_SECONDS, 'red']],
              thresholdLines: true,
            },
            prom(`time() - (${lastSuccess} > 0)`, '{{collection}}'),
          ),
          timeSeries(
            {
              title: 'Lag',
              description: 'How far the synced copy of each collection trails Firestore, over time. The dashed line is the VertigoSyncLagHigh threshold (15 min).',
              unit: 's',
              min: 0,
              thresholds: [[null, 'green'], [LAG_SECONDS, 'red']],
              thresholdLines: true,
            },
            prom(`max by (collection) (vertigo_sync_lag_seconds{${F}})`, '{{collection}}'),
          ),
        ],
      },
      {
        title: 'Documents',
        panels: [
          timeSeries(
            {
              title: 'Documents by outcome',
              description: 'Firestore documents read by sync runs per second, by collection and outcome: written (new or changed), unchanged, superseded (an older version than the stored one), deleted, malformed.',
              unit: 'ops',
              min: 0,
              stack: true,
            },
            prom(`sum by (collection, outcome) (rate(vertigo_sync_documents_total{${F}}[$__rate_interval]))`, '{{collection}} {{outcome}}'),
          ),
          timeSeries(
            {
              title: 'Malformed documents',
              description: 'Documents per minute that do not fit the expected shape and were not synced, by collection. Fix them at the source or handle the shape in the sync code (docs/runbooks/sync.md, VertigoSyncErrors).',
              unit: 'opm',
              min: 0,
              bars: true,
            },
            prom(`60 * sum by (collection) (rate(vertigo_sync_documents_total{${F}, outcome="malformed"}[$__rate_interval]))`, '{{collection}}'),
          ),
        ],
      },
      {
        title: 'Runs',
        panels: [
          timeSeries(
            {
              title: 'Runs by result',
              description: 'Finished sync runs per minute, by collection, mode (incremental or full) and result (success or error).',
              unit: 'opm',
              width: 8,
              min: 0,
              stack: true,
            },
            prom(`60 * sum by (collection, mode, result) (rate(vertigo_sync_runs_total{${F}}[$__rate_interval]))`, '{{collection}} {{mode}} {{result}}'),
          ),
          timeSeries(
            {
              title: 'Run duration',
              description: `Duration of one sync run, p50, p95, p99, by collection and mode, over the runs of the last ${RUN_WINDOW} (runs are minutes apart). Runs that grow towards their schedule interval make the lag grow.`,
              unit: 's',
              width: 8,
              min: 0,
            },
            ...([['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']] as const).map(([q, legend]) =>
              prom(
                `histogram_quantile(${q}, sum by (le, collection, mode) (rate(vertigo_sync_run_duration_seconds_bucket{${F}}[${RUN_WINDOW}])))`,
                `{{collection}} {{mode}} ${legend}`,
              ),
            ),
          ),
          timeSeries(
            {
              title: 'Errors by reason',
              description: 'Sync errors per minute (runs and live listeners), by collection and reason: unavailable, deadline_exceeded (network, Firestore), quota_exceeded, unauthenticated, permission_denied (credentials, IAM), database (PostgreSQL), other.',
              unit: 'opm',
              width: 8,
              min: 0,
              stack: true,
            },
            prom(`60 * sum by (collection, reason) (rate(vertigo_sync_errors_total{${F}}[$__rate_interval]))`, '{{collection}} {{reason}}'),
          ),
          stateTimeline(
            {
              title: 'Runs in progress',
              description: 'When a sync run of each collection was active in some process (vertigo_sync_running). A run that never ends (running for hours) is a hung run: see VertigoSyncStale in the runbook.',
              unit: 'none',
              height: 6,
              mappings: RUNNING,
            },
            prom(`max by (collection) (vertigo_sync_running{${F}})`, '{{collection}}'),
          ),
        ],
      },
      {
        title: 'Live listeners',
        panels: [
          stateTimeline(
            {
              title: 'Live listener',
              description: 'Whether some process held a connected live snapshot listener on each collection, over time (vertigo_sync_listener_up, highest across processes).',
              unit: 'none',
              width: 12,
              height: 8,
              mappings: UP_DOWN,
            },
            prom(`max by (collection) (vertigo_sync_listener_up{${F}})`, '{{collection}}'),
          ),
          timeSeries(
            {
              title: 'Live changes',
              description: 'Document changes received by the live listeners and queued, per second, by collection and change (added, modified, removed).',
              unit: 'ops',
              min: 0,
              stack: true,
            },
            prom(`sum by (collection, change) (rate(vertigo_sync_live_changes_total{${F}}[$__rate_interval]))`, '{{collection}} {{change}}'),
          ),
        ],
      },
    ],
  });
}
