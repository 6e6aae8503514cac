// PromQL as the dashboards and rules hold it: extract the queries, substitute
// Grafana's template variables, parse with Prometheus's own Lezer grammar, and
// list the metric names a query selects.
import { parser } from '@prometheus-io/lezer-promql';

export interface PanelQuery {
  /** Dashboard title, panel title and refId (or annotation name), for messages. */
  where: string;
  expr: string;
  kind: 'panel' | 'annotation' | 'variable';
}

interface PanelJson { title?: string; type?: string; targets?: Array<{ expr?: string; refId?: string }>; panels?: PanelJson[] }
interface DashboardJson {
  title: string;
  panels?: PanelJson[];
  annotations?: { list?: Array<{ name?: string; expr?: string }> };
  templating?: { list?: Array<{ name: string; type: string; query?: unknown }> };
}

export function dashboardQueries(d: DashboardJson): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: PanelJson[] = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (t.expr !== undefined) out.push({ where: `${d.title} / ${p.title} / ${t.refId}`, expr: t.expr, kind: 'panel' });
      }
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const a of d.annotations?.list ?? []) {
    if (a.expr) out.push({ where: `${d.title} / annotation ${a.name}`, expr: a.expr, kind: 'annotation' });
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'query' && typeof v.query === 'string') out.push({ where: `${d.title} / $${v.name}`, expr: v.query, kind: 'variable' });
  }
  return out;
}

/** Grafana's interpolation, for the variables our dashboards use: `$name` and `${name}`. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare!;
    if (!(name in vars)) throw new Error(`no value for template variable $${name} in ${expr}`);
    return vars[name];
  });
}

/** Grafana's label_values(metric{…}, label) variable query, turned into the series selector it asks about. */
export function labelValuesQuery(query: string): { selector: string; label: string } {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query.trim());
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { selector: m[1], label: m[2] };
}

/** Byte offsets of parse errors (Lezer marks them as error nodes); empty when the query parses. */
export function parseErrors(expr: string): number[] {
  const errors: number[] = [];
  parser.parse(expr).iterate({ enter: (n) => { if (n.type.isError) errors.push(n.from); } });
  return errors;
}

/** Metric names the query selects: the identifier of every vector selector. */
export function selectedMetrics(expr: string): string[] {
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter: (n) => {
      if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector') names.add(expr.slice(n.from, n.to));
    },
  });
  return [...names];
}

/**
 * Series names a text (0.0.4) exposition offers: those of its samples, and those
 * its `# TYPE` lines declare — a family with no series yet (no tuner decision so
 * far) is still exposed, and a histogram declares _bucket, _sum and _count.
 */
export function exposedNames(body: string): Set<string> {
  const names = new Set<string>();
  for (const line of body.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      for (const suffix of kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['', '_sum', '_count'] : ['']) names.add(name + suffix);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}
