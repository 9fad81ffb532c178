import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { alertsDashboard } from './dashboards/alerts.js';
import { errorsDashboard } from './dashboards/errors.js';
import { llmUsageDashboard } from './dashboards/llm-usage.js';
import { logsDashboard } from './dashboards/logs.js';
import { overviewDashboard } from './dashboards/overview.js';
import { queueDashboard } from './dashboards/queue.js';
import { syncDashboard } from './dashboards/sync.js';
import type { DashboardUid } from './shared/datasources.js';

export { DASHBOARD_UIDS, type DashboardUid } from './shared/datasources.js';

/** Every provisioned dashboard by uid; each call builds a fresh object. */
export const DASHBOARDS: Record<DashboardUid, () => dashboard.Dashboard> = {
  'vertigo-overview': overviewDashboard,
  'vertigo-llm-usage': llmUsageDashboard,
  'vertigo-errors': errorsDashboard,
  'vertigo-queue': queueDashboard,
  'vertigo-sync': syncDashboard,
  'vertigo-alerts': alertsDashboard,
  'vertigo-logs': logsDashboard,
};

/** The file content of grafana/dashboards/<uid>.json: two-space JSON and a final newline. */
export function dashboardJson(built: dashboard.Dashboard): string {
  return `${JSON.stringify(built, null, 2)}\n`;
}
