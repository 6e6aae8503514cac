// A metric family whose samples are computed when it is scraped, from whatever
// the scrape frame holds. This is the Go client's "const metrics in a custom
// Collector" pattern (node_exporter: prometheus.MustNewConstMetric in Update),
// registered in a prom-client Registry: the registry only calls get(), so a
// series that is no longer computed simply disappears — no label sets to reset
// or forget (contrast Gauge.reset(), which leaves a 0 on unlabelled gauges).
import type { Metric } from 'prom-client';
import type { MetricSpec } from './catalogue.js';

export type FamilyType = 'gauge' | 'counter';
export type Labels = Record<string, string>;
export type Emit = (labels: Labels, value: number | null | undefined) => void;

interface FamilyValue {
  labels: Labels;
  value: number;
}

export class ScrapeFamily {
  /** Writable: prom-client's Registry.metrics() renames counters in place in OpenMetrics mode (see render.ts). */
  name: string;
  readonly help: string;
  readonly type: FamilyType;

  constructor(readonly spec: MetricSpec, private readonly collect: (emit: Emit) => void) {
    const { name, type } = spec;
    if (type === 'histogram') throw new Error(`${name}: a histogram keeps state; use prom-client's Histogram`);
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    if (type !== 'counter' && name.endsWith('_total')) throw new Error(`${type} ${name} must not end in _total`);
    this.name = name;
    this.help = spec.help;
    this.type = type;
  }

  /** Called by Registry.metrics() and Registry.getMetricsAsJSON(). Null values are left out (unknown, not zero). */
  get(): { name: string; help: string; type: FamilyType; values: FamilyValue[]; aggregator: 'sum' } {
    const values: FamilyValue[] = [];
    this.collect((labels, value) => {
      if (value === null || value === undefined || Number.isNaN(value)) return;
      values.push({ labels, value });
    });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  /** The Registry's TypeScript signature names prom-client's own classes; it only ever calls get(). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
