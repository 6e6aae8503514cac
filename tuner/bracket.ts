// Measurement-driven moves (issue 21): where the measured points overrule the model. Bracketing
// (golden-section search over measured values, Kiefer 1953) of batch size or workers once a larger
// value measured slower than a smaller one, returns falling where the performance model's lines
// cannot bend; and the way back to the best configuration measured when another one is being kept.
import type { Point } from './history.js';

/** The golden-section fraction: each probe leaves a bracket 0.618 of the one before. */
export const GOLDEN = 0.382;
/** A bracket narrower than this share of the best size is closed: what is left is within noise of it. */
export const BRACKET_CLOSED_SHARE = 0.1;

export interface Bracket {
  /** The best measured value of the knob at the other knob's current value, and the measured (or bounding) values around it. */
  best: Point;
  lo: number;
  hi: number;
  /** The next value to measure, null when the bracket is closed. */
  probe: number | null;
  /** Measured value at or past which returns fall: nothing above it is worth a move (Infinity for a gap probe). */
  fallsFrom: number;
  /** A gap probe: nothing larger measured worse, but the model that jumped the gap has not earned it. */
  gap: boolean;
  words: string;
}

/** The knob a bracket moves: batch size at fixed workers, or workers at a fixed batch size. */
export type BracketKnob = 'batch_size' | 'num_workers';

const valueOf = (knob: BracketKnob, p: Point) => (knob === 'batch_size' ? p.batch : p.workers);

/**
 * The bracket around the best value of `knob` measured with the other knob where it is now, once
 * returns fall: some larger value measured slower than the best beyond noise (a batch past a cache,
 * workers crowding the cores or paging). Null while throughput only rises (the model's climb goes
 * on), unless `gapProbe`: the model has not earned its jumps (model-record.ts), and the best was
 * reached by a jump whose skipped values nobody measured; then the gap below the best is probed
 * like a bracket's side. `min` bounds the bracket below when nothing smaller is measured.
 */
export function bracketOf(knob: BracketKnob, points: Point[], at: { batch: number; workers: number; accum: number }, min: number, noiseZ: number, gapProbe = false): Bracket | null {
  const here = points.filter((p) => p.accum === at.accum && p.throughput > 0 && (knob === 'batch_size' ? p.workers === at.workers : p.batch === at.batch));
  if (here.length < 2) return null;
  // One reading per value: the newest.
  const byValue = new Map<number, Point>();
  for (const p of here) byValue.set(valueOf(knob, p), p);
  const values = [...byValue.values()].sort((a, b) => valueOf(knob, a) - valueOf(knob, b));
  const best = values.reduce((a, p) => (p.throughput > a.throughput ? p : a));
  const b = valueOf(knob, best);
  const worse = (p: Point) => p.throughput < best.throughput * (1 - noiseZ * Math.hypot(p.relNoise, best.relNoise));
  const above = values.filter((p) => valueOf(knob, p) > b);
  const below = values.filter((p) => valueOf(knob, p) < b);
  const fall = above.find(worse);
  if (!fall && !(gapProbe && above.length === 0 && below.length > 0)) return null;
  const hi = fall ? valueOf(knob, above[0]) : b;
  const lo = below.length > 0 ? valueOf(knob, below[below.length - 1]) : Math.max(min, Math.floor(b / 2));
  // Probe the wider side, GOLDEN of the way from the best (golden-section search).
  const up = hi - b >= b - lo;
  const x = Math.round(up ? b + GOLDEN * (hi - b) : b - GOLDEN * (b - lo));
  // Batch: a bracket narrower than a tenth of the best is closed; workers: when no count is left between.
  const width = Math.max(hi - b, b - lo);
  const narrow = knob === 'batch_size' ? width < BRACKET_CLOSED_SHARE * b : width <= 1;
  const closed = narrow || x === b || byValue.has(x) || x < min;
  const name = knob === 'batch_size' ? 'batch' : 'workers';
  const words = fall
    ? `${name} ${valueOf(knob, fall)} measured ${Math.round((1 - fall.throughput / best.throughput) * 100)} % slower than ${b}: the best lies between ${lo} and ${hi}`
    : `${name} ${b} is the best measured, reached past ${b - lo - 1} values never measured above ${lo}; the model that jumped them has not earned it`;
  return { best, lo, hi, fallsFrom: fall ? valueOf(knob, fall) : Infinity, probe: closed ? null : x, gap: !fall, words };
}

/** The bracket of batch size at the current workers (bracketOf). */
export function batchBracket(points: Point[], workers: number, accum: number, minBatch: number, noiseZ: number): Bracket | null {
  return bracketOf('batch_size', points, { batch: 0, workers, accum }, minBatch, noiseZ);
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
