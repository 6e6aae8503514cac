// The tunable parameters as data: one entry per knob — its value, bounds, the values one move away
// by its step rule — so the search (search.ts) treats every knob
// the same way. The learning rate is not searched: it follows batch size by its rule (lr.ts).
import { ramBudgetBytes, workerRssBytes } from './budget.js';
import { batchBytesOf } from './epoch-starts.js';
import { perWorkerBytes, predictedLoaderBytes, workersUnread, workersWithin } from './host-memory.js';
import { TORCH_PREFETCH } from './loader-knobs.js';
import { batchBound, knobEnabled } from './guardrails.js';
import { lossCeilings, oomCeilings, type Point } from './history.js';
import { microBatchSizes } from './lr.js';
import type { Measurement } from './measure.js';
import { largestFitting, memoryModel } from './memory-model.js';
import { LOADER_LIMITED_WAIT, predictStep, type PerfModel } from './perf-model.js';
import type { Window } from './window.js';
import { userBound } from '../domain/bounds.js';

/**
 * Workers busy less than this share of the time while they set the pace mostly wait on storage,
 * not on the CPU: more of them than cores can run (DESIGN §6: past the cores when they mostly wait).
 */
export const WAITING_WORKER_BUSY = 0.5;
/** Without a user bound, at most this many workers per budgeted core, however idle they are. */
export const MAX_WORKERS_PER_CORE = 8;
/** Loading capacity provisioned beyond what compute consumes (per-batch load times vary). */
export const WORKER_HEADROOM = 0.15;
/** The model's best batch: the smallest size predicted within this share of the best within reach. */
export const MODEL_BEST_SHARE = 0.98;
/** The largest jump of batch size one move makes (a trust region for the model). */
export const MAX_BATCH_FACTOR = 8;

export interface Param {
  name: 'batch_size' | 'num_workers';
  value: number;
  min: number;
  max: number;
  /** The values one move away, ascending, by the knob's step rule within every limit. */
  moves: number[];
  /** Moves that are trials whatever the model says (it cannot know: e.g. workers past the cores without CPU readings). */
  trials: number[];
  /**
   * Batch only: after one OOM with nothing to size memory by (no readings or no device capacity),
   * the one bisection probe between the largest size that ran and the one that failed; else null.
   */
  bisect: number | null;
  /** What limits it, for a person. */
  note: string;
}

export interface ParamInputs {
  w: Window;
  m: Measurement;
  points: Point[];
  capacity: number | null;
  model: PerfModel;
  budgetCores: number | null;
  workerBusy: number | null;
  freeHostCores: number | null;
}

export function knobTable(x: ParamInputs): Param[] {
  const out: Param[] = [];
  if (knobEnabled(x.w, 'batch_size')) out.push(batchParam(x));
  if (knobEnabled(x.w, 'num_workers')) out.push(workersParam(x));
  return out;
}

function batchParam(x: ParamInputs): Param {
  const { w, points } = x;
  const b = w.config.batch_size;
  const { min, max } = batchBound(w);
  const ceilings = oomCeilings(w);
  const ceiling = ceilings[0];
  const mem = memoryModel(points);
  const fit = largestFitting(mem, x.capacity);
  let limit = Math.min(max, fit);
  let note = `bound ${max}`;
  if (Number.isFinite(fit) && fit < max) note = `fits up to ${fit}`;
  let bisect: number | null = null;
  if (ceiling !== undefined) {
    limit = Math.min(limit, ceiling - 1);
    if (!mem || x.capacity === null) {
      // Out of memory with no memory model and device capacity to size against: the model's moves
      // stop at the largest size known to run. With no memory readings at all, one bisection probe
      // halfway to the size that failed is worth a second OOM at most (with readings: at most one) (Lightning's binsearch batch-size finder makes the same trade,
      // DESIGN §6: ≤ 2 OOMs without readings). After a second OOM, no more probes.
      const good = points.map((p) => p.batch).filter((s) => s < ceiling);
      const top = good.length > 0 ? Math.max(...good) : b;
      limit = Math.min(limit, top);
      const mid = Math.floor((top + ceiling) / 2);
      if (!mem && ceilings.length === 1 && b === top && mid > top && mid < ceiling && mid <= max && !w.tune.keep_global_batch) bisect = mid;
      note = `out of memory at ${ceiling}, no memory readings or device capacity to size below it`;
    } else {
      note = `out of memory at ${ceiling}`;
    }
  }
  const stable = lossCeilings(w)[0];
  if (stable !== undefined && stable < limit) {
    limit = stable;
    note = `the loss turned non-finite or jumped above ${stable}: no larger batch (its learning rate would pass the job's stability edge)`;
  }
  const want = new Set<number>();
  if (limit > b) {
    for (const k of [2, 4, MAX_BATCH_FACTOR]) want.add(Math.min(limit, b * k));
    // Below a larger size measured at these workers, the midpoint.
    const larger = points.filter((p) => p.batch > b && p.workers === w.config.num_workers).map((p) => p.batch);
    if (larger.length > 0) want.add(Math.floor((b + Math.min(...larger)) / 2));
    const best = modelBest(x, b, Math.min(limit, b * MAX_BATCH_FACTOR));
    if (best !== null) want.add(best);
  }
  let moves = [...want].filter((v) => v > b && v <= limit && v >= min);
  if (w.tune.keep_global_batch) {
    const sizes = microBatchSizes(w.config.batch_size * w.config.grad_accum_steps);
    moves = moves.map((v) => sizes.filter((s) => s <= v).at(-1) ?? 0).filter((v) => v > b && v >= min);
    note += ', a divisor of the global batch';
  }
  moves = [...new Set(moves)].sort((a, c) => a - c);
  return { name: 'batch_size', value: b, min, max, moves, trials: [], bisect, note: moves.length ? note : `batch ${b} cannot grow: ${note}` };
}

/** The smallest batch the model puts within MODEL_BEST_SHARE of the best it predicts up to `hi`. */
function modelBest(x: ParamInputs, b: number, hi: number): number | null {
  const workers = x.w.config.num_workers;
  const sizes: number[] = [];
  for (let s = b; s < hi; s = Math.max(s + 1, Math.floor(s * 1.25))) sizes.push(s);
  sizes.push(hi);
  const thr = sizes.map((s) => { const p = predictStep(x.model, s, workers); return p && !p.assumed && p.stepS > 0 ? s / p.stepS : null; });
  if (thr.some((t) => t === null)) return null;
  const top = Math.max(...(thr as number[]));
  const i = (thr as number[]).findIndex((t) => t >= MODEL_BEST_SHARE * top);
  return i > 0 ? sizes[i] : null;
}

function workersParam(x: ParamInputs): Param {
  const { w, m } = x;
  const cur = w.config.num_workers;
  const user = userBound(w.tune, 'num_workers');
  const cores = x.budgetCores ?? w.host?.cpuCount ?? null;
  const min = user.min;
  const hardMax = user.userMax ? user.max : (cores !== null ? Math.max(1, Math.ceil(cores * MAX_WORKERS_PER_CORE)) : 64);
  // Up to the job's cores when loading is CPU work; past them when the workers mostly wait.
  const waiting = x.workerBusy !== null && cur > 0 && x.workerBusy < WAITING_WORKER_BUSY && (x.freeHostCores === null || x.freeHostCores >= 0.5);
  let cpuCap: number;
  let note: string;
  if (cores === null) {
    cpuCap = hardMax;
    note = 'no CPU budget known';
  } else if (waiting) {
    const busy = Math.max(0.05, x.workerBusy ?? 1);
    cpuCap = Math.max(Math.floor(cores), Math.ceil(Math.min(x.model.loaderCores, cores) / busy));
    note = `workers mostly wait (busy ${Math.round((x.workerBusy ?? 0) * 100)} %): up to ${cpuCap} on ${cores} cores`;
  } else {
    cpuCap = Math.max(1, Math.floor(cores));
    note = `up to the job's ${cores} cores`;
  }
  const rss = workerRssBytes(w.process);
  const ram = ramBudgetBytes(w.host);
  // The job's host-memory budget (issue 22): each worker costs its resident memory and the batches
  // it keeps ready (prefetch_factor of them, twice with pinned copies) where a batch's bytes are known.
  const rssOne = w.memoryBudget ? perWorkerBytes(w.processHistory, w.process, true) : null;
  const perWorker = rssOne === null ? null : predictedLoaderBytes({ workers: 1, perWorker: rssOne, prefetch: w.config.prefetch_factor ?? TORCH_PREFETCH, batchBytes: batchBytesOf(w), pin: w.config.pin_memory === true });
  const host = w.memoryBudget && perWorker === null ? workersUnread(cur, w.memoryBudget) : workersWithin(cur, perWorker, w.memoryBudget ?? null);
  const byRam = w.memoryBudget ? host.max : rss !== null && ram !== null && rss > 0 ? cur + Math.floor(ram / rss) : Infinity;
  const limit = Math.min(hardMax, cpuCap, byRam);
  if (byRam < Math.min(hardMax, cpuCap)) note = host.note ?? `RAM for ${byRam - cur} more`;
  if (user.userMax && user.max <= cpuCap && user.max <= byRam) note = `bound ${user.max}`;
  const want = new Set<number>([cur + 1, cur + 2, cur * 2, limit]);
  // The model's count: enough loaders that loading keeps up with compute, with headroom.
  const c = x.model.compute;
  const l = x.model.loadCpu ?? x.model.loadWall;
  if (c && l) {
    const computeS = c.a + c.b * m.batch;
    const loadS = l.a + l.b * m.batch + (x.model.loadCpu ? x.model.latencyPerSample * m.batch : 0);
    if (computeS > 0) want.add(Math.ceil((loadS / computeS) * (1 + WORKER_HEADROOM)));
  }
  let moves = [...want].filter((v) => v > cur && v <= limit && v >= min).sort((a, b) => a - b);
  // Without CPU readings nobody knows whether loaders that set the pace at the cores' count wait on
  // storage, nor with readings that show them mostly waiting on a host too busy for the model to
  // count free cores: one more is a trial, measured like any other.
  const trials: number[] = [];
  if ((x.workerBusy === null || x.workerBusy < WAITING_WORKER_BUSY) && moves.length === 0 && cur >= cpuCap && cur < Math.min(hardMax, byRam) && m.waitRatio >= LOADER_LIMITED_WAIT && cur > 0) {
    trials.push(cur + 1);
    moves = [cur + 1];
    note += x.workerBusy === null ? '; past them only as a trial (no CPU readings say whether the workers wait on storage)' : '; past them only as a trial (the workers mostly wait, on a busy host)';
  }
  return { name: 'num_workers', value: cur, min, max: moves.at(-1) ?? limit, moves, trials, bisect: null, note: moves.length ? note : `workers ${cur} cannot grow: ${note}` };
}
