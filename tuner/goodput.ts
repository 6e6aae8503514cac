// Goodput: throughput × statistical efficiency (Pollux, Qiao et al., OSDI 2021), with the
// efficiency from the gradient noise scale (McCandlish et al. 2018, "An Empirical Model
// of Large-Batch Training", Appendix A.1). A larger batch processes more samples per
// second but each sample then moves the model less once the batch exceeds the noise scale.
import type { Measurement } from './measure.js';

export interface NoiseScale {
  /** |G|², the true gradient's squared norm. */
  gradSq: number;
  /** tr(Σ), the per-sample gradient variance. */
  traceS: number;
  /** B_simple = tr(Σ)/|G|²: the batch size where noise and signal balance. */
  bNoise: number;
  bSmall: number;
  bBig: number;
}

/**
 * Batch sizes the two norms were taken over. The client reports grad_sq_norm for the
 * whole step (the global batch: samples × world_size) and grad_sq_norm_small for one
 * part of it: one rank's share with data parallelism, one micro-batch with gradient
 * accumulation, else half of the batch (the convention the Python client follows).
 */
export function noiseBatchSizes(m: Pick<Measurement, 'samplesPerRank' | 'worldSize' | 'accum'>): { bSmall: number; bBig: number } {
  const bBig = m.samplesPerRank * m.worldSize;
  const parts = Math.max(2, m.worldSize * Math.max(1, m.accum));
  return { bSmall: bBig / parts, bBig };
}

/**
 * McCandlish A.1 unbiased estimators; the norms are averaged over the window before the
 * ratio is taken (the paper: the ratio of averages, not the average of ratios, is stable).
 */
export function noiseScale(m: Measurement): NoiseScale | null {
  if (m.gradSqNorm === null || m.gradSqNormSmall === null) return null;
  const { bSmall, bBig } = noiseBatchSizes(m);
  if (!(bBig > bSmall) || bSmall <= 0) return null;
  const gradSq = (bBig * m.gradSqNorm - bSmall * m.gradSqNormSmall) / (bBig - bSmall);
  const traceS = (m.gradSqNormSmall - m.gradSqNorm) / (1 / bSmall - 1 / bBig);
  if (!(gradSq > 0) || !(traceS > 0)) return null;
  return { gradSq, traceS, bNoise: traceS / gradSq, bSmall, bBig };
}

/** Pollux's statistical efficiency of batch M relative to M0: (φ + M0)/(φ + M). */
export function efficiency(bNoise: number, m0: number, m: number): number {
  return (bNoise + m0) / (bNoise + m);
}

