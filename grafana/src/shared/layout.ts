import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { GRAFANA, TAG, type DashboardUid } from './datasources.js';

/** Any panel builder of the SDK (timeseries, stat, table...): they all build a Panel and take an id. */
export type PanelBuilder = cog.Builder<dashboard.Panel> & { id(id: number): unknown };

export interface Section {
  title: string;
  /** Panels in reading order; their widths should add up to 24 per line. */
  panels: PanelBuilder[];
}

export interface DashboardSpec {
  uid: DashboardUid;
  title: string;
  description: string;
  tags?: string[];
  /** Default time range: `now-<time>` to now. */
  time?: string;
  variables: cog.Builder<dashboard.VariableModel>[];
  sections: Section[];
}

/**
 * Builds one dashboard the way every Vertigo dashboard looks: tags, time range, refresh, shared crosshair, the
 * built-in annotations, a dropdown of the other Vertigo dashboards, and panels laid out under expanded rows.
 *
 * Rows: the SDK's RowBuilder.withPanel() nests panels inside the row and marks it collapsed (that is how Grafana
 * stores collapsed rows); an expanded row must instead be followed by its panels at the top level, so each
 * section adds an empty row and then its panels through DashboardBuilder.withPanel(), which places them on the
 * grid left to right. Panel ids are given here, in order, so the JSON is stable.
 */
export function buildDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG, ...(spec.tags ?? [])])
    .editable()
    .timezone('browser')
    .time({ from: `now-${spec.time ?? '6h'}`, to: 'now' })
    .refresh('1m')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .annotation(
      new dashboard.AnnotationQueryBuilder()
        .name('Annotations & Alerts')
        .datasource(GRAFANA)
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)')
        .type('dashboard'),
    )
    .link(
      new dashboard.DashboardLinkBuilder('Vertigo Live')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true)
        .targetBlank(false)
        .icon('external link')
        .tooltip(''),
    );
  for (const variable of spec.variables) builder.withVariable(variable);
  let id = 1;
  for (const section of spec.sections) {
    builder.withRow(new dashboard.RowBuilder(section.title).id(id++).collapsed(false));
    for (const panel of section.panels) {
      panel.id(id++);
      builder.withPanel(panel);
    }
  }
  return withoutControlsMenuPlacement(builder.build());
}

/**
 * The SDK defaults `placement` to "inControlsMenu" on links and annotations, which newer Grafana versions read as
 * "hide in the controls dropdown". Dropping it keeps the links bar and annotation toggles where users expect them.
 */
function withoutControlsMenuPlacement(built: dashboard.Dashboard): dashboard.Dashboard {
  for (const link of built.links ?? []) delete link.placement;
  for (const annotation of built.annotations?.list ?? []) delete annotation.placement;
  return built;
}
