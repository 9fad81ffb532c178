import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { LOKI } from '../shared/datasources.js';
import { buildDashboard } from '../shared/layout.js';
import { logsPanel, lokiQuery, timeSeries } from '../shared/panels.js';
import { levelVariable, roleVariable, searchVariable } from '../shared/variables.js';

/**
 * Loki streams of the service: promtail keeps `service`, `role` and `level` as labels, everything else (msg,
 * reqId, source, err...) stays in the JSON line and is read with `| json`.
 */
const STREAM = '{service="vertigo-live", role=~"$role", level=~"$level"}';

export function logsDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-logs',
    title: 'Vertigo Live / Logs',
    description: 'The service\'s JSON logs in Loki, filtered by role, level and text; follow a request by its reqId.',
    tags: ['logs'],
    time: '1h',
    variables: [roleVariable(), levelVariable(), searchVariable()],
    sections: [
      {
        title: 'Volume',
        panels: [
          timeSeries(
            { title: 'Log lines by level', description: 'Log lines per interval by level, for the selected roles, levels and text.', unit: 'short', min: 0, bars: true, stack: true, datasource: LOKI },
            lokiQuery(`sum by (level) (count_over_time(${STREAM} |= "$search" [$__interval]))`, '{{level}}'),
          ),
          timeSeries(
            { title: 'Error lines by role', description: 'Lines logged at level "error" per 5 minutes, by role (api, worker, all). Unexpected errors also go to Sentry when SENTRY_DSN is set.', unit: 'short', min: 0, thresholds: [[null, 'green'], [1, 'red']], datasource: LOKI },
            lokiQuery('sum by (role) (count_over_time({service="vertigo-live", level="error"}[5m]))', '{{role}}'),
          ),
        ],
      },
      {
        title: 'Logs',
        panels: [
          logsPanel(
            { title: 'Logs', description: 'Log lines of the selected roles and levels containing the text above, newest first; open a line for its JSON fields (reqId, source, err...).' },
            lokiQuery(`${STREAM} |= "$search" | json`),
          ),
          logsPanel(
            { title: 'Warnings and errors', description: 'Lines at level warn, error or fatal for the selected roles, whatever the level filter above.', height: 10 },
            lokiQuery('{service="vertigo-live", role=~"$role", level=~"warn|error|fatal"} |= "$search" | json'),
          ),
        ],
      },
    ],
  });
}
