import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { LOKI, PROMETHEUS } from './datasources.js';

/** Threshold steps as [from, colour]; the first step starts at null (minus infinity). */
export type Steps = [number | null, string][];

export interface PanelOptions {
  title: string;
  description: string;
  /** A Grafana unit id: "s", "bytes", "currencyUSD", "percentunit", "reqps", "ops", "short"... */
  unit: string;
  width?: number;
  height?: number;
  thresholds?: Steps;
  min?: number;
  max?: number;
  decimals?: number;
  /** Panel data source; Prometheus unless said otherwise. */
  datasource?: common.DataSourceRef;
}

type Query = prometheus.DataqueryBuilder | loki.DataqueryBuilder;

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A Prometheus range query; refIds are given by the panel (A, B, C... in order). */
export function prom(expr: string, legend = '__auto'): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().datasource(PROMETHEUS).editorMode(prometheus.QueryEditorMode.Code).expr(expr).legendFormat(legend).range();
}

/** A Prometheus instant query returning a table (one row per series). */
export function promTable(expr: string): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().datasource(PROMETHEUS).editorMode(prometheus.QueryEditorMode.Code).expr(expr).legendFormat('__auto').format(prometheus.PromQueryFormat.Table).instant();
}

export function lokiQuery(expr: string, legend?: string): loki.DataqueryBuilder {
  const query = new loki.DataqueryBuilder().datasource(LOKI).editorMode(loki.QueryEditorMode.Code).expr(expr).queryType('range');
  return legend ? query.legendFormat(legend) : query;
}

function thresholds(steps: Steps = [[null, 'green']]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

/** Applies what every panel kind shares: title, description, size, unit, min/max and thresholds. */
function base<
  T extends {
    title(v: string): T;
    description(v: string): T;
    span(v: number): T;
    height(v: number): T;
    unit(v: string): T;
    thresholds(v: dashboard.ThresholdsConfigBuilder): T;
    min(v: number): T;
    max(v: number): T;
    decimals(v: number): T;
    withTarget(q: Query): T;
  },
>(builder: T, o: PanelOptions, targets: Query[], defaultSize: { w: number; h: number }): T {
  let b = builder
    .title(o.title)
    .description(o.description)
    .span(o.width ?? defaultSize.w)
    .height(o.height ?? defaultSize.h)
    .unit(o.unit)
    .thresholds(thresholds(o.thresholds));
  if (o.min !== undefined) b = b.min(o.min);
  if (o.max !== undefined) b = b.max(o.max);
  if (o.decimals !== undefined) b = b.decimals(o.decimals);
  targets.forEach((target, i) => {
    b = b.withTarget(target.refId(REF_IDS[i]!));
  });
  return b;
}

export interface TimeSeriesOptions extends PanelOptions {
  /** Stack the series (normal stacking) — for parts of a whole such as rates by outcome. */
  stack?: boolean;
  bars?: boolean;
  /** Draw the thresholds as dashed lines (SLO targets, alert thresholds). */
  thresholdLines?: boolean;
  legendCalcs?: string[];
}

export function timeSeries(o: TimeSeriesOptions, ...targets: Query[]): timeseries.PanelBuilder {
  let b = base(new timeseries.PanelBuilder().datasource(o.datasource ?? PROMETHEUS), o, targets, { w: 12, h: 8 })
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(o.legendCalcs ? common.LegendDisplayMode.Table : common.LegendDisplayMode.List)
        .placement(o.legendCalcs ? common.LegendPlacement.Right : common.LegendPlacement.Bottom)
        .calcs(o.legendCalcs ?? []),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .drawStyle(o.bars ? common.GraphDrawStyle.Bars : common.GraphDrawStyle.Line)
    .lineWidth(1)
    .fillOpacity(o.stack || o.bars ? 60 : 10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.PaletteClassic))
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(o.thresholdLines ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off),
    );
  if (o.stack) b = b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return b;
}

/** A single number (the last value), coloured by its thresholds. */
export function statPanel(o: PanelOptions & { mappings?: dashboard.ValueMapping[]; graph?: boolean }, ...targets: Query[]): stat.PanelBuilder {
  let b = base(new stat.PanelBuilder().datasource(PROMETHEUS), o, targets, { w: 6, h: 4 })
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(o.graph === false ? common.BigValueGraphMode.None : common.BigValueGraphMode.Area)
    .textMode(common.BigValueTextMode.Auto)
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds));
  if (o.mappings) b = b.mappings(o.mappings);
  return b;
}

/** 1 = UP (green), 0 = DOWN (red), for up-style gauges. */
export const UP_DOWN: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: { '0': { text: 'DOWN', color: 'red', index: 0 }, '1': { text: 'UP', color: 'green', index: 1 } },
  },
];

/** A table of instant queries; `columns` renames and orders fields, the others are hidden. */
export function tablePanel(o: PanelOptions & { columns: Record<string, string>; sortBy?: string }, ...targets: Query[]): table.PanelBuilder {
  const names = Object.keys(o.columns);
  const b = base(new table.PanelBuilder().datasource(PROMETHEUS), o, targets, { w: 24, h: 8 })
    .cellHeight(common.TableCellHeight.Sm)
    .filterable(true)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName: Object.fromEntries(names.map((name, i) => [name, i])),
        renameByName: o.columns,
      },
    });
  return o.sortBy ? b.sortBy([new common.TableSortByFieldStateBuilder().displayName(o.sortBy).desc(true)]) : b;
}

/** A heatmap of a Prometheus histogram (`sum by (le) (increase(x_bucket[...]))`, format heatmap). */
export function heatmapPanel(o: PanelOptions & { yUnit: string }, target: prometheus.DataqueryBuilder): heatmap.PanelBuilder {
  return base(new heatmap.PanelBuilder().datasource(PROMETHEUS), o, [target.format(prometheus.PromQueryFormat.Heatmap)], { w: 12, h: 8 })
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(o.yUnit).axisPlacement(common.AxisPlacement.Left))
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme('Spectral')
        .scale(heatmap.HeatmapColorScale.Exponential)
        .exponent(0.5)
        .steps(64)
        .reverse(true)
        .fill('dark-orange'),
    )
    .cellGap(1)
    .showLegend()
    .tooltip(new heatmap.HeatmapTooltipBuilder().mode(common.TooltipDisplayMode.Single).yHistogram(true).showColorScale(true));
}

/** One row per series over time, coloured by value mappings (alert history). */
export function stateTimeline(o: PanelOptions & { mappings: dashboard.ValueMapping[] }, ...targets: Query[]): statetimeline.PanelBuilder {
  return base(new statetimeline.PanelBuilder().datasource(PROMETHEUS), o, targets, { w: 24, h: 10 })
    .mappings(o.mappings)
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .rowHeight(0.8)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None));
}

/** A Loki logs panel with time, details and the context toggle on (the SDK turns them all off). */
export function logsPanel(o: { title: string; description: string; width?: number; height?: number }, target: loki.DataqueryBuilder): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(LOKI)
    .span(o.width ?? 24)
    .height(o.height ?? 14)
    .withTarget(target.refId('A'))
    .showTime(true)
    .showLabels(false)
    .showCommonLabels(false)
    .wrapLogMessage(true)
    .prettifyLogMessage(false)
    .enableLogDetails(true)
    .showLogContextToggle(true)
    .dedupStrategy(common.LogsDedupStrategy.None)
    .sortOrder(common.LogsSortOrder.Descending);
}
