import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { LOKI, PROMETHEUS } from './datasources.js';

/**
 * Template variables. Every one is multi-select with "All", and "All" means the regex `.*`, so a series without
 * the label (an exporter's, an alert aggregated away from it) still matches when nothing is narrowed down.
 * Queries use them as `label=~"$name"`.
 */
const ALL: dashboard.VariableOption = { selected: true, text: ['All'], value: ['$__all'] };

function multi<T extends { multi(v: boolean): T; includeAll(v: boolean): T; allValue(v: string): T; current(v: dashboard.VariableOption): T }>(builder: T): T {
  return builder.multi(true).includeAll(true).allValue('.*').current(ALL);
}

/** A multi-select variable whose values a query of the given data source lists. */
function queryVariable(datasource: typeof PROMETHEUS | typeof LOKI, name: string, label: string, query: string, description: string): dashboard.QueryVariableBuilder {
  return multi(
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .description(description)
      .datasource(datasource)
      .query(query)
      .definition(query)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc),
  );
}

const promVariable = (name: string, label: string, query: string, description: string) => queryVariable(PROMETHEUS, name, label, query, description);

/** `environment` is a target label every scrape job adds (production, staging, local...). */
export const environmentVariable = () =>
  promVariable('environment', 'Environment', 'label_values(vertigo_build_info, environment)', 'The environment target label set by the Prometheus scrape configuration.');

export const sourceVariable = () =>
  promVariable('source', 'Source', 'label_values(vertigo_webhook_requests_total{environment=~"$environment"}, source)', 'Webhook source (langfuse, langwatch, custom, standard; unknown for unrecognised paths).');

export const modelVariable = () =>
  promVariable('model', 'Model', 'label_values(gen_ai_client_requests_total{environment=~"$environment"}, model)', 'LLM model as reported by the traces (models past METRICS_MAX_MODELS are folded into "other").');

/**
 * Firestore collections of the sync. Read from the last-success gauge: every process with the sync reports it for
 * every configured collection (from sync_status), even one that has not finished a run yet.
 */
export const collectionVariable = () =>
  promVariable('collection', 'Collection', 'label_values(vertigo_sync_last_success_timestamp_seconds{environment=~"$environment"}, collection)', 'Firestore collection synced to PostgreSQL.');

function customVariable(name: string, label: string, values: string[], description: string): dashboard.CustomVariableBuilder {
  return multi(new dashboard.CustomVariableBuilder(name).label(label).description(description).values(values.join(',')));
}

/** The alert labels every Vertigo alert carries (prometheus/rules/alerts.yml). */
export const severityVariable = () => customVariable('severity', 'Severity', ['critical', 'warning', 'info'], 'Alert severity label.');
export const teamVariable = () => customVariable('team', 'Team', ['ingest', 'data-sync', 'llm-quality', 'platform'], 'Team label that routes the alert.');

const lokiVariable = (name: string, label: string, description: string) =>
  queryVariable(LOKI, name, label, `label_values({service="vertigo-live"}, ${name})`, description);

/** Loki stream labels: promtail keeps only service, role and level as labels (everything else stays in the JSON line). */
export const roleVariable = () => lokiVariable('role', 'Role', 'Process role: api, worker or all.');
export const levelVariable = () => lokiVariable('level', 'Level', 'pino log level (trace, debug, info, warn, error, fatal).');

export const searchVariable = () =>
  new dashboard.TextBoxVariableBuilder('search')
    .label('Line contains')
    .description('Keeps only log lines containing this text (case-sensitive); empty keeps all.')
    .defaultValue('')
    .current({ selected: false, text: '', value: '' });

/** Label matchers for the variables above, to put inside a selector's braces. */
export const ENV = 'environment=~"$environment"';
export const ENV_SOURCE = `${ENV}, source=~"$source"`;
export const ENV_SOURCE_MODEL = `${ENV_SOURCE}, model=~"$model"`;
export const ENV_COLLECTION = `${ENV}, collection=~"$collection"`;
/** The two scrape jobs of the service itself (exporters export process_* metrics too). */
export const SERVICE_JOBS = 'job=~"vertigo-api|vertigo-worker"';
