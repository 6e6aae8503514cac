// /metrics. ./catalogue.ts names every exported family (DESIGN §5);
// the modules beside it compute them; this file puts them in one Registry of
// its own — never prom-client's global one, so tests and several sidecars in
// one process stay apart. Values are computed at scrape time from a
// MetricsSource; only the step-duration histogram keeps state, fed at ingest.
import { Registry } from 'prom-client';
import type { StepPoint } from '../../domain/steps.js';
import { gpuFamilies } from './gpu.js';
import { hostFamilies } from './host.js';
import { registerProcessMetrics } from './process.js';
import { collect, format, wantsOpenMetrics, type Rendered } from './render.js';
import { rankFamilies } from './ranks.js';
import { runFamilies } from './run.js';
import { selfFamilies } from './self.js';
import { readFrame, type MetricsSource, type ScrapeFrame } from './source.js';
import { stepHistogram } from './steps.js';

export type { MetricsSource, RankMetricsView, RunMetricsView } from './source.js';
export { METRICS, type MetricSpec } from './catalogue.js';
export { CLOCK_EVENT_REASONS } from './gpu.js';
export { STEP_BUCKETS_S } from './steps.js';

export interface Metrics {
  registry: Registry;
  /** Called at ingest with each accepted batch: feeds the step-duration histogram. */
  observeSteps(run: { label: string }, steps: StepPoint[]): void;
  /** The exposition for GET /metrics; OpenMetrics when `accept` asks for it. */
  render(accept?: string): Promise<Rendered>;
}

export interface MetricsOptions {
  /** The `version` label of trainpilot_build_info. */
  version?: string;
  /** prom-client's process_* and nodejs_* metrics (default true); the golden test leaves them out because their values vary. */
  processMetrics?: boolean;
}

export function createMetrics(source: MetricsSource, opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  // One read of the source per render, shared by every family; a direct
  // registry.metrics() (no render) reads the source once per family instead.
  let current: ScrapeFrame | undefined;
  const frame = () => current ?? readFrame(source);

  for (const family of [
    ...selfFamilies(frame, opts.version ?? 'unknown'),
    ...hostFamilies(frame),
    ...gpuFamilies(frame),
    ...runFamilies(frame),
    ...rankFamilies(frame),
  ]) registry.registerMetric(family.asMetric());
  const steps = stepHistogram(registry, frame);
  if (opts.processMetrics ?? true) registerProcessMetrics(registry);

  return {
    registry,
    observeSteps: (run, batch) => steps.observe(run.label, batch),
    async render(accept) {
      current = readFrame(source);
      let families;
      try {
        families = collect(registry); // every family reads `current` before collect() returns
      } finally {
        current = undefined;
      }
      return format(await families, wantsOpenMetrics(accept));
    },
  };
}
