// The memory model, fitted over every size the run has measured: device memory peak ≈ a + c·batch.
// Kept apart from the performance model (perf-model.ts), which predicts time, not memory.
import type { Point } from './history.js';
import { linearFit } from './stats.js';

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
