// The batch-size models, fitted over every size the run has measured: device memory
// (peak ≈ a + c·batch) and the device's share of a step (compute ≈ α + β·batch).
import type { Point } from './history.js';
import { round } from './measure.js';
import { linearFit, median } from './stats.js';

/**
 * Keep predicted peak memory under 95 % of capacity. The peak a step reports
 * (max_memory_allocated) excludes the caching allocator's fragmentation and the CUDA
 * context, and a rare longer sequence peaks above the window's; a 5 % reserve covers
 * those, and the OOM back-off covers the rest, never retrying a size that failed.
 */
export const MEMORY_MARGIN = 0.05;

export interface MemoryModel { a: number; c: number; source: string }

/** peak ≈ a + c·batch from measured points; one point gives the conservative a = 0. */
export function memoryModel(points: Point[]): MemoryModel | undefined {
  const byBatch = new Map<number, number[]>();
  for (const p of points) if (p.memBytes !== null && p.memBytes > 0) byBatch.set(p.batch, [...(byBatch.get(p.batch) ?? []), p.memBytes]);
  const pairs = [...byBatch].map(([b, ms]) => [b, Math.max(...ms)] as const);
  if (pairs.length === 0) return undefined;
  const fit = linearFit(pairs);
  if (fit && fit.slope > 0 && fit.intercept >= 0) return { a: fit.intercept, c: fit.slope, source: `fit over ${pairs.length} sizes` };
  // One size (or a fit that makes no sense, as with nvidia-smi's sticky reserved memory):
  // assume all memory scales with batch, which over-predicts growth, never under-predicts.
  const [b, mem] = pairs.reduce((x, y) => (y[1] / y[0] > x[1] / x[0] ? y : x));
  return { a: 0, c: mem / b, source: `proportional from batch ${b}` };
}

export function largestFitting(model: MemoryModel | undefined, capacity: number | null): number {
  if (!model || capacity === null) return Infinity;
  return Math.floor((capacity * (1 - MEMORY_MARGIN) - model.a) / model.c);
}

/** Compute time ≈ α + β·batch (the device's share of a step); needs two distinct sizes. */
export function stepModel(points: Point[]): { alpha: number; beta: number } | undefined {
  const byBatch = new Map<number, number[]>();
  for (const p of points) byBatch.set(p.batch, [...(byBatch.get(p.batch) ?? []), p.computeS]);
  const fit = linearFit([...byBatch].map(([b, cs]) => [b, median(cs)] as const));
  if (!fit || fit.slope <= 0) return undefined;
  return { alpha: Math.max(0, fit.intercept), beta: fit.slope };
}

/**
 * Throughput at `to` over throughput at `from`. With a fitted step model: exact under it.
 * Without one, a prior from GPU utilisation u: the idle share (1 − u) of a step is fixed
 * per-step overhead (launches, host work), the busy share scales with batch.
 */
export function throughputRatio(from: number, to: number, points: Point[], gpuUtil: number | null): { ratio: number | null; basis: string } {
  const sm = stepModel(points);
  if (sm) {
    const t = (b: number) => b / (sm.alpha + sm.beta * b);
    return { ratio: t(to) / t(from), basis: `step model α=${round(sm.alpha, 5)} s, β=${round(sm.beta, 8)} s/sample` };
  }
  if (gpuUtil !== null) {
    const k = to / from;
    return { ratio: k / (1 - gpuUtil + gpuUtil * k), basis: `prior from GPU utilisation ${round(gpuUtil, 3)}` };
  }
  return { ratio: null, basis: 'no model yet: one size measured and no GPU readings' };
}

