// Content negotiation for /metrics: OpenMetrics when the scraper's Accept
// header asks for it (Prometheus does, since 2.5), the 0.0.4 text format otherwise.
import { Registry, type RegistryContentType } from 'prom-client';

export interface Rendered {
  contentType: string;
  body: string;
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

/**
 * prom-client 15's Registry.metrics() in OpenMetrics mode strips `_total`
 * from every counter's `name` in place (standardizeCounterName) and never
 * puts it back, so a later text render would print counters without _total.
 * Renders are therefore serialised, and counter names restored after each
 * OpenMetrics one.
 */
export function createRenderer(
  registry: Registry,
  scrape: { begin(): void; end(): void },
): (openMetrics: boolean) => Promise<Rendered> {
  let queue: Promise<unknown> = Promise.resolve();
  const once = async (openMetrics: boolean): Promise<Rendered> => {
    scrape.begin();
    try {
      return await format(openMetrics);
    } finally {
      scrape.end();
    }
  };
  const format = async (openMetrics: boolean): Promise<Rendered> => {
    if (!openMetrics) return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
    const counters = registry.getMetricsAsArray()
      .filter((m) => String(m.type) === 'counter')
      .map((m) => [m, m.name] as const);
    // The registry is typed for one content type; switching is what setContentType is for.
    const switchable = registry as unknown as Registry<RegistryContentType>;
    switchable.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    try {
      return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, body: await registry.metrics() };
    } finally {
      switchable.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
      for (const [metric, name] of counters) metric.name = name;
    }
  };
  return (openMetrics) => {
    const next = queue.then(() => once(openMetrics));
    queue = next.catch(() => undefined);
    return next;
  };
}
