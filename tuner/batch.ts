// Batch-size moves outside the search (search.ts grows batch size): back-off on OOM to the largest
// known-good size below it, never proposing the OOM size (or above) again; back-off under measured
// memory pressure; and a smaller batch for goodput when the gradient noise scale says so.
import type { Classification } from './classify.js';
import { efficiency, type NoiseScale } from './goodput.js';
import { fmtGain, fmtPercent } from './format.js';
import { batchBound, type TunerThresholds } from './guardrails.js';
import { oomCeilings, rejectedMoves, type Point } from './history.js';
import { microBatchSizes, withBatchSize } from './lr.js';
import { round, type Measurement } from './measure.js';
import type { PolicyResult, Proposal } from './proposal.js';
import { largestFitting, MEMORY_MARGIN, memoryModel } from './memory-model.js';
import { fitPerfModel, predictRatio } from './perf-model.js';
import type { Window } from './window.js';

/** A measured peak this close to capacity is memory pressure worth backing off from. */
export const MEMORY_BACKOFF_RATIO = 0.97;
/**
 * Without a known-good size below an OOM, shrink by this factor, as HF accelerate's
 * find_executable_batch_size does (×0.9 per OOM); each size then fails at most once.
 */
export const OOM_SHRINK = 0.9;

export interface BatchInputs {
  w: Window;
  m: Measurement;
  cls: Classification;
  points: Point[];
  /** Device memory capacity in bytes (smallest of the run's GPUs), null when unknown. */
  capacity: number | null;
  noise: NoiseScale | null;
  settings: TunerThresholds;
}

/** Valid sizes: any integer, or with keep_global_batch the divisors of the global batch. */
function snap(w: Window, target: number, lo: number, hi: number, dir: 'down' | 'up'): number | undefined {
  const t = Math.floor(target);
  if (!w.tune.keep_global_batch) return t >= lo && t <= hi ? t : undefined;
  const sizes = microBatchSizes(w.config.batch_size * w.config.grad_accum_steps).filter((x) => x >= lo && x <= hi);
  return dir === 'down' ? sizes.filter((x) => x <= t).at(-1) : sizes.find((x) => x >= t);
}

function proposal(w: Window, batch: number, action: Proposal['action'], reason: string, evidence: Proposal['evidence'], predictedGain: number | null, safety = false): Proposal {
  const { config, lrRule } = withBatchSize(w.config, batch, w.tune);
  return { knob: 'batch_size', action, config, reason, evidence: { ...evidence, lr_rule: lrRule }, predictedGain, safety };
}

/** Back-off when the newest config is at or above a recorded OOM size. */
export function oomBackoff(w: Window, points: Point[]): (PolicyResult & { doesNotFit: boolean }) | undefined {
  const ceilings = oomCeilings(w);
  if (ceilings.length === 0 || w.config.batch_size < ceilings[0]) return undefined;
  const oom = ceilings[0];
  const { min } = batchBound(w);
  const good = points.map((p) => p.batch).filter((b) => b < oom);
  const known = good.length > 0 ? Math.max(...good) : undefined;
  const target = snap(w, known ?? Math.min(oom - 1, oom * OOM_SHRINK), min, oom - 1, 'down');
  if (target === undefined) {
    return { doesNotFit: true, note: `OOM at batch ${oom} and no size at or above the minimum ${min} below it` };
  }
  const why = known !== undefined ? `the largest known-good size below it` : `×${OOM_SHRINK}, no known-good size below it`;
  return {
    doesNotFit: false,
    note: 'oom',
    proposal: proposal(w, target, 'decrease', `out of memory at batch ${oom}: back to ${target}, ${why}; ${oom} is now a ceiling`, {
      oom_batch_size: oom, known_good_batch_size: known ?? null, oom_ceilings: ceilings.join(','),
    }, null, true),
  };
}

/** Memory pressure measured from the steps' own peaks: step back to what the memory model says fits. */
export function memoryPressure(x: BatchInputs): PolicyResult | undefined {
  const { w, m, points, capacity } = x;
  const b = w.config.batch_size;
  const { min } = batchBound(w);
  const mem = memoryModel(points);
  const fitLimit = largestFitting(mem, capacity);
  if (m.memPeakBytes === null || capacity === null || m.memPeakBytes / capacity < MEMORY_BACKOFF_RATIO || fitLimit >= b) return undefined;
  const target = snap(w, Math.max(min, fitLimit), min, b - 1, 'down');
  if (target === undefined) return undefined;
  return { note: 'memory pressure', proposal: proposal(w, target, 'decrease',
    `device memory peaks at ${fmtPercent(m.memPeakBytes / capacity)} of capacity: batch ${b} → ${target}, predicted to fit with a ${fmtPercent(MEMORY_MARGIN)} margin`,
    {
      memory_model: mem?.source ?? null,
      memory_fixed_bytes: mem ? Math.round(mem.a) : null,
      memory_per_sample_bytes: mem ? Math.round(mem.c) : null,
      device_memory_bytes: capacity,
      largest_fitting_batch: Number.isFinite(fitLimit) ? fitLimit : null,
    }, null, true) };
}

export function goodputShrink(x: BatchInputs): PolicyResult {
  const { w, points, noise } = x;
  if (!noise || w.tune.keep_global_batch) return { note: 'no noise scale' };
  const b = w.config.batch_size;
  const { min } = batchBound(w);
  const target = snap(w, Math.max(min, b / 2), min, b - 1, 'down');
  if (target === undefined) return { note: 'at the minimum' };
  if (rejectedMoves(w, 'batch_size').some((r) => r.from === b && r.to <= target)) return { note: 'tried before' };
  const gpuUtil = x.cls.figures.gpuUtilizationRatio;
  const workers = w.config.num_workers;
  const model = fitPerfModel(points, { budgetCores: null, gpuUtil, treeCores: null, workerBusy: null, freeHostCores: null, workers });
  const tp = predictRatio(model, { batch: b, workers }, { batch: target, workers });
  if (!tp || tp.assumed) return { note: 'no throughput model' };
  const predicted = tp.ratio * efficiency(noise.bNoise, b, target) - 1;
  if (predicted < x.settings.minPredictedGain) return { note: `shrinking predicted ${fmtGain(predicted)}` };
  return {
    note: 'goodput',
    proposal: {
      ...proposal(w, target, 'decrease',
        `batch ${b} → ${target}: far above the gradient noise scale ${round(noise.bNoise, 1)}, predicted goodput ${fmtGain(predicted)}`,
        { b_noise: round(noise.bNoise, 2), predicted_basis: tp.basis, predicted_throughput_ratio: round(tp.ratio), predicted_gain: round(predicted) },
        predicted),
      bNoise: round(noise.bNoise, 2),
    },
  };
}

