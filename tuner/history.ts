// What the run's decision log says about configs already tried: measured points for the
// models (step time and memory against batch size), and moves that did not pay.
import { configOfVersion, type Measurement } from './measure.js';
import type { DecisionRecord } from '../domain/decisions.js';
import type { MeasuredPoint } from '../domain/measured.js';
import type { Knob } from '../domain/config.js';
import type { Window } from './window.js';

export interface Point {
  batch: number;
  workers: number;
  accum: number;
  throughput: number;
  computeS: number;
  stepS: number;
  waitRatio: number;
  /** Device memory: the steps' peak, else the GPU reading taken with the measurement. */
  memBytes: number | null;
  /** Relative standard error of the measurement's mean step time: its noise band. */
  relNoise: number;
  /** When it was measured (unix seconds; the decision's time for points from the log). */
  ts: number;
  /** One data-loader worker's busy share (CPU seconds per second) and the process tree's cores, when read. */
  workerBusy?: number | null;
  treeCores?: number | null;
}

/** The configuration a point measured, as a key: batch, workers, accumulation. */
export function configKey(p: { batch: number; workers: number; accum: number }): string {
  return `${p.batch}/${p.workers}/${p.accum}`;
}

/** A point of the model's from the figures a decision keeps (domain/measured.ts), measured at `ts`. */
function pointFromFigures(p: MeasuredPoint | undefined, ts = 0): Point | undefined {
  if (!p) return undefined;
  return {
    batch: p.batchSize,
    workers: p.numWorkers,
    accum: p.gradAccumSteps,
    throughput: p.samplesPerSecond,
    computeS: p.computeSeconds,
    stepS: p.stepSeconds,
    waitRatio: p.dataWaitRatio,
    memBytes: p.memPeakBytes ?? p.gpuMemoryUsedBytes ?? null,
    relNoise: p.relNoise,
    ts,
    workerBusy: p.workerBusyRatio,
    treeCores: p.processCpuCores,
  };
}

export function pointFromMeasurement(m: Measurement, gpuMemUsed: number | null, ts = m.lastTs, use: { workerBusy: number | null; treeCores: number | null } = { workerBusy: null, treeCores: null }): Point {
  return {
    batch: m.batch,
    workers: m.workers,
    accum: m.accum,
    throughput: m.throughput,
    computeS: m.computeS,
    stepS: m.stepS,
    waitRatio: m.waitRatio,
    memBytes: m.memPeakBytes ?? gpuMemUsed,
    relNoise: m.relNoise,
    ts,
    workerBusy: use.workerBusy,
    treeCores: use.treeCores,
  };
}

/** Every measured point the log holds, oldest first, then the current one. */
export function measuredPoints(w: Window, current?: Point): Point[] {
  const out: Point[] = [];
  for (const d of w.decisions) {
    const before = pointFromFigures(d.before, d.ts);
    if (before) out.push(before);
    // A configuration whose loss blew up is no point to go back to, however fast it ran.
    const usable = d.outcome.status === 'kept' || (d.outcome.status === 'rolled_back' && d.outcome.cause !== 'loss');
    const after = usable && d.outcome.status !== 'pending' && d.outcome.status !== 'superseded' ? pointFromFigures(d.outcome.after, d.ts) : undefined;
    if (after) out.push(after);
  }
  if (current) out.push(current);
  return out;
}

/** Config-changing decisions (not recommendations, not advice). */
export function changes(w: Window): DecisionRecord[] {
  return w.decisions.filter((d) => !d.recommendOnly && d.configVersion !== null && d.knob !== 'none');
}

export interface Move { knob: Knob; from: number; to: number }

function valueOf(knob: Knob, c: DecisionRecord['configBefore']): number {
  return knob === 'batch_size' ? c.batch_size : knob === 'num_workers' ? c.num_workers : c.learning_rate;
}

/** Moves of `knob` that were measured and rolled back (no gain, or harm). */
export function rejectedMoves(w: Window, knob: Knob): Move[] {
  return w.decisions
    .filter((d) => d.knob === knob && d.outcome.status === 'rolled_back' && d.action !== 'rollback')
    .map((d) => ({ knob, from: valueOf(knob, d.configBefore), to: valueOf(knob, d.configAfter) }));
}

/**
 * After a batch increase whose loss turned non-finite or jumped (its learning rate scaled with it
 * past the job's stability edge), the size it started from is the largest tried again: any larger
 * size scales the learning rate further, so probing just below the size that failed only finds
 * the edge again one divergence at a time (seen on a real job: 64, 62, 61, 60, 59 in a row).
 * Returns those sizes (the last stable ones), smallest first.
 */
export function lossCeilings(w: Window): number[] {
  return w.decisions
    .filter((d) => d.knob === 'batch_size' && d.outcome.status === 'rolled_back' && d.outcome.cause === 'loss' && d.configAfter.batch_size > d.configBefore.batch_size)
    .map((d) => d.configBefore.batch_size)
    .sort((a, b) => a - b);
}

/** Batch sizes that hit an OOM: the store's list and the oom events in view. */
export function oomCeilings(w: Window): number[] {
  const out = new Set(w.oomBatchSizes);
  for (const e of w.events) {
    if (e.kind !== 'oom') continue;
    // The client names the size that failed; else the version it tried; else the newest.
    const v = Number(e.data.config_version ?? e.data.version);
    const b = Number(e.data.batch_size ?? (Number.isFinite(v) ? configOfVersion(w, v)?.batch_size : w.config.batch_size));
    if (Number.isFinite(b) && b > 0) out.add(b);
  }
  return [...out].sort((a, b) => a - b);
}
