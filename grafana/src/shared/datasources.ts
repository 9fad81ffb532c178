import type * as common from '@grafana/grafana-foundation-sdk/common';

/**
 * The provisioned data sources (grafana/provisioning/datasources/datasources.yml). Their uids are fixed there,
 * so dashboards reference them directly instead of through a data source variable.
 */
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
export const LOKI: common.DataSourceRef = { type: 'loki', uid: 'loki' };
export const GRAFANA: common.DataSourceRef = { type: 'grafana', uid: '-- Grafana --' };

/** Every dashboard uid this project provisions. */
export const DASHBOARD_UIDS = [
  'vertigo-overview',
  'vertigo-llm-usage',
  'vertigo-errors',
  'vertigo-queue',
  'vertigo-sync',
  'vertigo-alerts',
  'vertigo-logs',
] as const;
export type DashboardUid = (typeof DASHBOARD_UIDS)[number];

/** Tag shared by every dashboard: the dashboard links dropdown lists them by it. */
export const TAG = 'vertigo-live';
