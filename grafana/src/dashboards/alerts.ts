import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from '../shared/layout.js';
import { prom, promTable, stateTimeline, statPanel, tablePanel, timeSeries } from '../shared/panels.js';
import { environmentVariable, severityVariable, teamVariable } from '../shared/variables.js';

/**
 * Prometheus writes ALERTS{alertname, alertstate, <alert labels>} = 1 for every pending or firing alert, and
 * ALERTS_FOR_STATE{alertname, <alert labels>} = the Unix time the alert became active (only for rules with `for`).
 */
const F = 'environment=~"$environment", severity=~"$severity", team=~"$team"';
const firing = (extra = '') => `ALERTS{alertstate="firing", ${F}${extra}}`;
const GROUP = 'alertname, severity, team, environment';

const SEVERITY_COLOURS = { critical: 'red', warning: 'orange', info: 'blue' } as const;

const FIRING: dashboard.ValueMapping[] = [
  { type: dashboard.MappingType.ValueToText, options: { '1': { text: 'firing', color: 'red', index: 0 } } },
];

function severityStat(severity: keyof typeof SEVERITY_COLOURS) {
  return statPanel(
    { title: `Firing: ${severity}`, description: `Alerts with severity="${severity}" firing now (count of firing series).`, unit: 'none', thresholds: [[null, 'green'], [1, SEVERITY_COLOURS[severity]]], graph: false },
    prom(`count(${firing(`, severity="${severity}"`)}) or vector(0)`, severity),
  );
}

export function alertsDashboard(): dashboard.Dashboard {
  return buildDashboard({
    uid: 'vertigo-alerts',
    title: 'Vertigo Live / Alerts',
    description: 'What Prometheus alerts on now and what it alerted on before (the ALERTS and ALERTS_FOR_STATE series Prometheus writes for its rules).',
    tags: ['alerts'],
    time: '24h',
    variables: [environmentVariable(), severityVariable(), teamVariable()],
    sections: [
      {
        title: 'Now',
        panels: [
          severityStat('critical'),
          severityStat('warning'),
          severityStat('info'),
          statPanel(
            { title: 'Pending', description: 'Alerts whose condition holds but whose `for` duration has not elapsed yet: they fire if it keeps holding.', unit: 'none', thresholds: [[null, 'green'], [1, 'yellow']], graph: false },
            prom(`count(ALERTS{alertstate="pending", ${F}}) or vector(0)`, 'pending'),
          ),
          tablePanel(
            {
              title: 'Firing alerts',
              description: 'One line per firing alert, with its severity and team, how many series fire (e.g. one per source), and how long the oldest of them has been active (empty for rules without `for`). Runbooks and details: Alertmanager.',
              unit: 'none',
              height: 9,
              columns: { alertname: 'Alert', severity: 'Severity', team: 'Team', environment: 'Environment', 'Value #A': 'Firing series', 'Value #B': 'Active for' },
              sortBy: 'Active for',
            },
            promTable(`sum by (${GROUP}) (${firing()})`),
            promTable(`max by (${GROUP}) (time() - ALERTS_FOR_STATE{${F}}) and on (${GROUP}) ${firing()}`),
          ).overrideByName('Active for', [{ id: 'unit', value: 's' }]),
        ],
      },
      {
        title: 'History',
        panels: [
          stateTimeline(
            { title: 'Alert history', description: 'When each alert fired over the time range, one row per alert and severity.', unit: 'none', mappings: FIRING },
            prom(`max by (alertname, severity) (${firing()})`, '{{alertname}} ({{severity}})'),
          ),
          timeSeries(
            { title: 'Firing alerts by severity', description: 'Number of firing alert series over time, by severity.', unit: 'short', min: 0, bars: true, stack: true },
            prom(`count by (severity) (${firing()})`, '{{severity}}'),
          )
            .overrideByName('critical', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
            .overrideByName('warning', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }])
            .overrideByName('info', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }]),
          timeSeries(
            { title: 'Firing alerts by team', description: 'Number of firing alert series over time, by the team they route to.', unit: 'short', min: 0, bars: true, stack: true },
            prom(`count by (team) (${firing()})`, '{{team}}'),
          ),
        ],
      },
    ],
  });
}
