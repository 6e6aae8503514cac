// Building blocks shared by the trainpilot dashboards: the datasource and
// instance variables, Prometheus targets, and panels preset the same way.
// Every panel and variable points at the `${datasource}` variable, so the
// dashboards work with whatever Prometheus datasource a Grafana already has.
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stateTimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** The label Prometheus adds for the scrape target; dashboards filter on it so one Grafana can show many nodes. */
export const INSTANCE = 'instance=~"$instance"';

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/** A variable whose values are the label values of a metric, refreshed when the time range changes. */
export function labelVariable(name: string, label: string, query: string): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    // A plain label_values() string: the form every Grafana since 5 reads (newer ones migrate it on load).
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.NaturalAsc);
}

export function instanceVariable(): dashboard.QueryVariableBuilder {
  return labelVariable('instance', 'Instance', 'label_values(trainpilot_build_info, instance)');
}

export function target(refId: string, expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().refId(refId).expr(expr).legendFormat(legend).range().datasource(DATASOURCE);
}

/** Panel ids must be unique within a dashboard; Grafana uses them in links and for repeats. */
export function panelIds(): () => number {
  let next = 1;
  return () => next++;
}

export interface PanelOptions {
  id: number;
  title: string;
  description: string;
  unit: string;
  targets: DataqueryBuilder[];
  span?: number;
  min?: number;
  max?: number;
}

export function timeSeries(o: PanelOptions): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .id(o.id).title(o.title).description(o.description).datasource(DATASOURCE)
    .unit(o.unit).span(o.span ?? 12).height(8)
    .lineWidth(1).fillOpacity(10).showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (o.min !== undefined) panel.min(o.min);
  if (o.max !== undefined) panel.max(o.max);
  for (const t of o.targets) panel.withTarget(t);
  return panel;
}

/** A 0/1 series as a state timeline: `off` (transparent unless offColor) for 0, `on` in `color` for 1. */
export function flagTimeline(o: PanelOptions & { on: string; off: string; color: string; offColor?: string }): stateTimeline.PanelBuilder {
  const panel = new stateTimeline.PanelBuilder()
    .id(o.id).title(o.title).description(o.description).datasource(DATASOURCE)
    .span(o.span ?? 12).height(8).showValue(common.VisibilityMode.Never).mergeValues(true).rowHeight(0.8)
    .mappings([{
      type: dashboard.MappingType.ValueToText,
      options: { '0': { text: o.off, color: o.offColor ?? 'transparent', index: 0 }, '1': { text: o.on, color: o.color, index: 1 } },
    }])
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor('transparent'));
  for (const t of o.targets) panel.withTarget(t);
  return panel;
}

export function row(id: number, title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).id(id);
}

/** Grafana's own "Annotations & Alerts" entry, which the UI adds to every dashboard it saves. */
export function builtInAnnotations(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Annotations & Alerts').builtIn(1).type('dashboard').enable(true).hide(true)
    .iconColor('rgba(0, 211, 255, 1)').datasource({ type: 'grafana', uid: '-- Grafana --' });
}

export function baseDashboard(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid).description(description).tags(['trainpilot'])
    .refresh('30s').time({ from: 'now-1h', to: 'now' }).timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .annotation(builtInAnnotations())
    .readonly();
}
