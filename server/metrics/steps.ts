// The step-duration histogram: the one run metric with state of its own,
// because bucket counts must see every step, not only the recent window.
import { Histogram, type Registry } from 'prom-client';
import type { StepPoint } from '../../domain/steps.js';
import { METRICS } from './catalogue.js';
import type { ScrapeFrame } from './source.js';

/**
 * From a 1 ms step (small models) to a minute (huge ones, or gradient
 * accumulation), 1-2.5-5 per decade so histogram_quantile interpolates within
 * a factor of 2.5.
 */
export const STEP_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60];

export interface StepHistogram {
  observe(runLabel: string, steps: readonly StepPoint[]): void;
}

export function stepHistogram(registry: Registry, frame: () => ScrapeFrame): StepHistogram {
  const seen = new Set<string>();
  // Forget runs the store no longer lists, so their label sets go too.
  const prune = () => {
    const live = new Set(frame().runs.map((r) => r.label));
    for (const run of seen) {
      if (!live.has(run)) {
        histogram.remove({ run });
        seen.delete(run);
      }
    }
  };
  const histogram: Histogram<'run'> = new Histogram({
    name: METRICS.run_step_duration_seconds.name,
    help: METRICS.run_step_duration_seconds.help,
    labelNames: ['run'],
    buckets: STEP_BUCKETS_S,
    registers: [registry],
    collect: prune,
  });
  return {
    observe(run, steps) {
      if (steps.length === 0) return;
      if (!seen.has(run)) {
        // Also prune when a run first reports, so a sidecar nobody scrapes does not pile up ended runs.
        prune();
        seen.add(run);
      }
      const child = histogram.labels({ run });
      for (const s of steps) if (Number.isFinite(s.durationS) && s.durationS >= 0) child.observe(s.durationS);
    },
  };
}
