// The exposition formats for /metrics: Prometheus text 0.0.4, and OpenMetrics
// 1.0 when the scraper's Accept header asks for it (Prometheus does, since 2.5).
//
// The registry is prom-client's; the formatting is ours. prom-client 15's
// Registry.metrics() (a) allocates a WeakMap entry for every sample (its
// flattenSharedLabels caches on a fresh `{}` each time), which made a scrape of
// 8 GPUs and 20 runs cost several ms, and (b) in OpenMetrics mode strips
// `_total` from every counter's name in place and never restores it, so a text
// scrape after an OpenMetrics one would print counters without `_total`.
// The text output is what prom-client prints, but for NaN, spelled as the
// exposition format spells it (prom-client writes "Nan").
import { Registry } from 'prom-client';

export interface Rendered {
  contentType: string;
  body: string;
}

/** What a prom-client metric's get() returns (and our ScrapeFamily's). */
export interface FamilySnapshot {
  name: string;
  help: string;
  type: string;
  values: Array<{ labels: Record<string, string | number | undefined>; value: number; metricName?: string }>;
}

interface Gettable {
  get(): FamilySnapshot | Promise<FamilySnapshot>;
}

/** Starts every family's collection. Synchronous up to each family's first await, so the caller's scrape frame is seen by all. */
export function collect(registry: Registry): Promise<FamilySnapshot[]> {
  return Promise.all(registry.getMetricsAsArray().map((m) => (m as unknown as Gettable).get()));
}

/** True when Accept names application/openmetrics-text with a non-zero q. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

export function format(families: FamilySnapshot[], openMetrics: boolean): Rendered {
  if (!openMetrics) {
    return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: `${families.map((f) => family(f, f.name, f.name)).join('\n\n')}\n` };
  }
  // OpenMetrics names a counter family without `_total` and its sample with it.
  const om = families.map((f) => {
    if (f.type !== 'counter') return family(f, f.name, f.name);
    const base = f.name.replace(/_total$/, '');
    return family(f, base, `${base}_total`);
  });
  return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, body: `${om.join('\n')}\n# EOF\n` };
}

function family(f: FamilySnapshot, familyName: string, sampleName: string): string {
  let out = `# HELP ${familyName} ${escape(f.help)}\n# TYPE ${familyName} ${f.type}`;
  for (const v of f.values) {
    out += `\n${v.metricName ?? sampleName}`;
    let labels = '';
    for (const k in v.labels) {
      const value = v.labels[k];
      if (value === undefined) continue;
      labels += `${labels ? ',' : ''}${k}="${typeof value === 'string' ? escapeLabel(value) : value}"`;
    }
    if (labels) out += `{${labels}}`;
    out += ` ${number(v.value)}`;
  }
  return out;
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escape = (s: string) => (/[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s);
const escapeLabel = (s: string) => (/[\\\n"]/.test(s) ? escape(s).replace(/"/g, '\\"') : s);
