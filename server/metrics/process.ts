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
import { collectDefaultMetrics, type Registry } from 'prom-client';

export const EVENT_LOOP_MONITORING_PRECISION_MS = 1000;

export const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
}
