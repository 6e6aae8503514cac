// Measurement-driven moves (issue 21): where the measured points overrule the model. Bracketing
// (golden-section search over measured batch sizes, Kiefer 1953) once a larger batch measured
// slower than a smaller one, returns falling where the performance model's compute line cannot
// bend; and the way back to the best configuration measured when another one is being kept.
import type { Point } from './history.js';

/** The golden-section fraction: each probe leaves a bracket 0.618 of the one before. */
export const GOLDEN = 0.382;
/** A bracket narrower than this share of the best size is closed: what is left is within noise of it. */
export const BRACKET_CLOSED_SHARE = 0.1;

export interface Bracket {
  /** The best measured batch size at these workers, and the measured (or bounding) sizes around it. */
  best: Point;
  lo: number;
  hi: number;
  /** The next size to measure, null when the bracket is closed. */
  probe: number | null;
  /** Measured sizes at or past which returns fall: nothing above `hi` is worth a move. */
  fallsFrom: number;
  words: string;
}

/**
 * The bracket around the best batch size measured at the current workers, once returns fall: some
 * larger size measured slower than it beyond noise. Null while throughput still only rises with
 * batch (the model's climb goes on). `minBatch` bounds the bracket below when no smaller size is
 * measured.
 */
export function batchBracket(points: Point[], workers: number, accum: number, minBatch: number, noiseZ: number): Bracket | null {
  const here = points.filter((p) => p.workers === workers && p.accum === accum && p.throughput > 0);
  if (here.length < 2) return null;
  // One reading per size: the newest.
  const bySize = new Map<number, Point>();
  for (const p of here) bySize.set(p.batch, p);
  const sizes = [...bySize.values()].sort((a, b) => a.batch - b.batch);
  const best = sizes.reduce((a, p) => (p.throughput > a.throughput ? p : a));
  const worse = (p: Point) => p.throughput < best.throughput * (1 - noiseZ * Math.hypot(p.relNoise, best.relNoise));
  const above = sizes.filter((p) => p.batch > best.batch);
  const fall = above.find(worse);
  if (!fall) return null;
  const hi = above[0].batch;
  const below = sizes.filter((p) => p.batch < best.batch);
  const lo = below.length > 0 ? below[below.length - 1].batch : Math.max(minBatch, Math.floor(best.batch / 2));
  // Probe the wider side, GOLDEN of the way from the best (golden-section search).
  const up = hi - best.batch >= best.batch - lo;
  const x = Math.round(up ? best.batch + GOLDEN * (hi - best.batch) : best.batch - GOLDEN * (best.batch - lo));
  const closed = Math.max(hi - best.batch, best.batch - lo) < BRACKET_CLOSED_SHARE * best.batch || x === best.batch || bySize.has(x) || x < minBatch;
  return {
    best, lo, hi, fallsFrom: fall.batch, probe: closed ? null : x,
    words: `batch ${fall.batch} measured ${Math.round((1 - fall.throughput / best.throughput) * 100)} % slower than ${best.batch}: the best lies between ${lo} and ${hi}`,
  };
}

export interface WayBack {
  to: Point;
  gain: number;
}

/**
 * The best configuration measured since the job last changed, when it beats the current one beyond
 * both readings' noise: the run must not end on a configuration another one measured better than
 * (issue 21). Compared by the objective the caller gives (throughput, or goodput).
 */
export function wayBack(points: Point[], current: Point, noiseZ: number, floor: number, objective: (p: Point) => number): WayBack | null {
  const cur = objective(current);
  let best: WayBack | null = null;
  for (const p of points) {
    if (p.accum !== current.accum || (p.batch === current.batch && p.workers === current.workers)) continue;
    const gain = objective(p) / cur - 1;
    const band = Math.max(floor, noiseZ * Math.hypot(p.relNoise, current.relNoise));
    if (gain > band && (!best || gain > best.gain)) best = { to: p, gain };
  }
  return best;
}
