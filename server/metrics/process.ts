// The sidecar's own process metrics: prom-client's defaults, minus the ones
// promtool's lint rejects. prom-client 15 exports nodejs_active_{handles,
// requests,resources}_total as gauges, and `promtool check metrics` answers
// 'non-counter metrics should not have "_total" suffix' (the naming guide:
// _total is for counters only). Their per-type siblings without _total carry
// the same information, so those three are dropped; the lint test runs on the
// full output, process metrics included, so a new offender fails the suite.
//
// The event-loop delay monitor samples once a second instead of prom-client's
// default 10 ms: at 10 ms its libuv timer alone costs ~0.6 % of a core, more
// than the sidecar's whole budget (DESIGN §7: 0.5 %); once a second costs
// ~0.01 %. A stall still shows in nodejs_eventloop_lag_max_seconds when it
// overlaps a sample; short stalls between samples go unseen.
//
// The event-loop delay's statistics are read from the histogram at most once a second. Each read
// of prom-client's (min, max, mean, stddev and three percentiles) walks Node's whole HDR histogram
// several times: ~0.3 ms of every /metrics render, 14 % of bench/metrics' profile, for figures that
// cover the time since the previous read. Scrapes closer together than a second (a dashboard and
// Prometheus, a benchmark) get the figures of the last read; Prometheus at its usual 15 s is unchanged.
//
// Node's delay histogram records the whole interval between two firings of its timer, the
// resolution included (node's Histogram::RecordDelta), so at 1 s the "delay" read ~1.0009 s on an
// idle sidecar. The figures are given less the resolution: how late the timer fired, which is
// what a lag is (stddev, a spread, is left as it is).
import { collectDefaultMetrics, type Gauge, type Registry } from 'prom-client';

export const EVENT_LOOP_MONITORING_PRECISION_MS = 1000;

export const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** The metric whose collect() reads the event-loop histogram for all eight lag metrics. */
export const EVENT_LOOP_LAG_METRIC = 'nodejs_eventloop_lag_seconds';
export const EVENT_LOOP_READ_EVERY_MS = 1000;
/** The figures read from the histogram that hold the timer's interval (not the spread). */
const HISTOGRAM_DELAYS = ['min', 'max', 'mean', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`);

/** prom-client's Gauge holds its value where only its own get() (async) reads it; this reads it now. */
type ReadableGauge = Gauge & { _getValue?(labels?: object): number };

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  const lag = registry.getSingleMetric(EVENT_LOOP_LAG_METRIC) as { collect?: () => unknown } | undefined;
  const read = lag?.collect;
  if (lag && read) {
    let readAt = -Infinity;
    lag.collect = function collectAtMostEverySecond(this: unknown) {
      const now = performance.now();
      if (now - readAt < EVENT_LOOP_READ_EVERY_MS) return undefined;
      readAt = now;
      const done = read.call(this);
      for (const name of HISTOGRAM_DELAYS) {
        const g = registry.getSingleMetric(name) as ReadableGauge | undefined;
        const v = g?._getValue?.();
        if (g && typeof v === 'number' && Number.isFinite(v)) g.set(Math.max(0, v - EVENT_LOOP_MONITORING_PRECISION_MS / 1000));
      }
      return done;
    };
  }
}
