// Data-loader worker moves outside the search (search.ts grows workers): fewer when host memory
// runs short (a safety move), fewer when they sit idle (frees CPU and RAM, must not cost).
import { cpuUse, workerRssBytes, type CpuBudget } from './budget.js';
import type { Classification } from './classify.js';
import { fmtPercent } from './format.js';
import type { TunerThresholds } from './guardrails.js';
import { rejectedMoves } from './history.js';
import { LOADER_LIMITED_WAIT } from './perf-model.js';
import { round, type Measurement } from './measure.js';
import type { PolicyResult, Proposal } from './proposal.js';
import type { Window } from './window.js';
import { userBound } from '../domain/bounds.js';

/** A worker busy less than this share of the time is idle capacity worth returning. */
export const WORKER_IDLE_RATIO = 0.3;
/** Stepping down aims for workers busy about this much, leaving headroom for bursts. */
export const WORKER_TARGET_BUSY = 0.6;
/** Data wait below this share of a step: the pipeline is comfortably ahead. */
export const DATA_WAIT_IDLE_RATIO = 0.01;

export interface WorkerInputs {
  w: Window;
  m: Measurement;
  cls: Classification;
  budget: CpuBudget | null;
  settings: TunerThresholds;
}

function proposal(w: Window, workers: number, action: Proposal['action'], reason: string, evidence: Proposal['evidence'], predictedGain: number | null, safety = false): Proposal {
  return { knob: 'num_workers', action, config: { ...w.config, num_workers: workers }, reason, evidence, predictedGain, safety };
}

/** Host memory is short with swap in use: halve the workers (each holds its own copy of what the dataset references). */
export function hostMemoryRelief(x: WorkerInputs): PolicyResult | undefined {
  const { w, cls } = x;
  const cur = w.config.num_workers;
  const { min } = workerBounds(w);
  if (cls.bottleneck !== 'host_memory_pressure' || cur <= min) return undefined;
  const target = Math.max(min, Math.floor(cur / 2));
  const avail = cls.figures.hostMemoryAvailableRatio;
  return { note: 'host memory', proposal: proposal(w, target, 'decrease',
    `host memory is short (${fmtPercent(avail)} available, swap in use): data-loader workers ${cur} → ${target}`,
    { worker_rss_bytes: workerRssBytes(w.process) }, null, true) };
}

/** Idle workers: the pipeline is well ahead and the workers mostly sleep; fewer free CPU and RAM. */
export function idleWorkers(x: WorkerInputs): PolicyResult | undefined {
  const { w, m } = x;
  const cur = w.config.num_workers;
  const { min } = workerBounds(w);
  const use = cpuUse(w.processHistory, cur);
  if (use?.workerBusyRatio == null || cur <= Math.max(min, 1) || m.waitRatio >= DATA_WAIT_IDLE_RATIO || use.workerBusyRatio >= WORKER_IDLE_RATIO) return undefined;
  const target = Math.max(min, 1, Math.ceil((cur * use.workerBusyRatio) / WORKER_TARGET_BUSY));
  if (target >= cur || cutCost(w, cur, target)) return undefined;
  return { note: 'idle', proposal: proposal(w, target, 'decrease',
    `data-loader workers are busy ${fmtPercent(use.workerBusyRatio)} of the time and steps wait ${fmtPercent(m.waitRatio)} for data: workers ${cur} → ${target} frees CPU and RAM`,
    { worker_busy_ratio: round(use.workerBusyRatio), worker_rss_bytes: workerRssBytes(w.process) }, 0) };
}

/**
 * More loaders than the job's cores whose CPU work would fit in fewer (issue 21): each extra process
 * contends with the main process for the cores and holds its own memory. Fewer is tried; as a
 * decrease it is kept unless it costs beyond noise, so at equal throughput the smaller wins. Without
 * CPU readings, loaders beyond twice the cores come down to the cores.
 */
export function surplusWorkers(x: WorkerInputs): PolicyResult | undefined {
  const { w, budget } = x;
  const cur = w.config.num_workers;
  const { min } = workerBounds(w);
  const cores = budget?.cores ?? w.host?.cpuCount ?? null;
  if (cores === null || cur <= Math.max(min, 1, Math.floor(cores))) return undefined;
  const use = cpuUse(w.processHistory, cur);
  const busy = use?.workerBusyRatio ?? null;
  // Loaders that set the pace on a host with cores to spare wait on storage: more than cores pay there.
  const host = w.host;
  const freeCores = host?.cpuUtilizationRatio != null ? (1 - host.cpuUtilizationRatio) * host.cpuCount : null;
  if (x.m.waitRatio >= LOADER_LIMITED_WAIT && (freeCores === null || freeCores >= 0.5)) return undefined;
  const need = busy === null ? (cur > 2 * cores ? Math.floor(cores) : cur) : Math.ceil((cur * busy) / WORKER_TARGET_BUSY);
  const target = Math.max(min, 1, Math.min(Math.floor(cores), need));
  if (target >= cur || cutCost(w, cur, target)) return undefined;
  const load = busy === null ? 'no CPU readings' : `their loading takes ${round(cur * busy, 2)} cores in all`;
  return { note: 'surplus', proposal: proposal(w, target, 'decrease',
    `${cur} data-loader workers on the job's ${round(cores, 2)} cores (${load}): workers ${cur} → ${target}; each extra one contends with the main process and holds memory`,
    { worker_busy_ratio: busy === null ? null : round(busy), worker_rss_bytes: workerRssBytes(w.process), cpu_budget_cores: cores }, 0) };
}

/**
 * A cut from `cur` to `target` or below was measured to cost before: from here, or from any count to
 * one no larger than target (a job whose loaders wait on storage reads as idle at every count; the
 * same cut would be tried, and rolled back, from each count the search reaches).
 */
function cutCost(w: Window, cur: number, target: number): boolean {
  return rejectedMoves(w, 'num_workers').some((r) => r.to < r.from && (r.from === cur || r.to <= target));
}

function workerBounds(w: Window): { min: number } {
  return userBound(w.tune, 'num_workers');
}
