// The data-loader workers policy, after tf.data's parallelism autotuning: climb while the
// input pipeline holds the job back, within the CPU budget (schedulable cores) and the RAM
// budget (half of available memory); step down when workers sit idle or RAM runs short.
import { cpuUse, ramBudgetBytes, workerRssBytes, type CpuBudget } from './budget.js';
import type { Classification } from './classify.js';
import { boundOf, pct, type TunerSettings } from './guardrails.js';
import { rejectedMoves } from './history.js';
import { round, type Measurement } from './measure.js';
import type { PolicyResult, Proposal } from './proposal.js';
import type { Window } from './window.js';

/**
 * Provision this much more loading capacity than the model says the device consumes:
 * per-batch load times vary (JPEG sizes, augmentation branches) and the prefetch queue
 * only hides jitter when producers are a little faster than the consumer.
 */
export const WORKER_HEADROOM = 0.15;
/** A worker busy less than this share of the time is idle capacity worth returning. */
export const WORKER_IDLE_RATIO = 0.3;
/** Stepping down aims for workers busy about this much, leaving headroom for bursts. */
export const WORKER_TARGET_BUSY = 0.6;
/** Processes (main + workers) getting this much less than a core each in all are oversubscribed. */
export const OVERSUBSCRIBED_SLACK = 0.5;
/** Data wait below this share of a step: the pipeline is comfortably ahead. */
export const DATA_WAIT_IDLE_RATIO = 0.01;

export interface WorkerInputs {
  w: Window;
  m: Measurement;
  cls: Classification;
  budget: CpuBudget | null;
  settings: TunerSettings;
}

function proposal(w: Window, workers: number, action: Proposal['action'], reason: string, evidence: Proposal['evidence'], predictedGain: number | null, safety = false): Proposal {
  return { knob: 'num_workers', action, config: { ...w.config, num_workers: workers }, reason, evidence, predictedGain, safety };
}

/**
 * Workers the device could keep busy. With w ≥ 1 workers and the job input-bound, each
 * worker makes a batch in L = w·step seconds, so ⌈L / compute⌉ workers keep up; with
 * w = 0 the main process loads synchronously and the data wait itself is L.
 */
export function workersNeeded(m: Pick<Measurement, 'stepS' | 'computeS' | 'dataWaitS' | 'workers'>): { needed: number; loadS: number } {
  const compute = Math.max(m.computeS, 1e-9);
  const loadS = m.workers === 0 ? m.dataWaitS : m.workers * m.stepS;
  return { needed: Math.ceil((loadS / compute) * (1 + WORKER_HEADROOM)), loadS };
}

export function workersPolicy(x: WorkerInputs): PolicyResult {
  const { w, m, cls, budget } = x;
  const cur = w.config.num_workers;
  const { min, max } = boundOf(w, 'num_workers', budget);
  const use = cpuUse(w.processHistory, cur);
  const rss = workerRssBytes(w.process);
  const ram = ramBudgetBytes(w.host);

  if (cls.bottleneck === 'host_memory_pressure' && cur > min) {
    const target = Math.max(min, Math.floor(cur / 2));
    return { exhausted: false, note: 'host memory', proposal: proposal(w, target, 'decrease',
      `host memory is short (available ${cls.evidence.host_memory_available_ratio}, swap in use): workers ${cur} → ${target}`,
      { worker_rss_bytes: rss }, null, true) };
  }

  if (cls.bottleneck === 'cpu_saturated') {
    // A synchronous loader (0 workers) never overlaps loading with compute, however busy
    // the CPU: one worker is the first thing to try (the PyTorch profiler's own advice),
    // measured and rolled back like any other change, and never retried once rejected.
    // Not when the run came down to 0 from more workers and kept it: more was measured worse.
    const cameDown = w.decisions.some((d) => d.knob === 'num_workers' && d.outcome.status === 'kept' && d.configAfter.num_workers === 0 && d.configBefore.num_workers > 0);
    if (cur === 0 && max >= 1 && !cameDown && !rejectedMoves(w, 'num_workers').some((r) => r.from === 0)) {
      const predicted = m.stepS / Math.max(m.computeS, m.dataWaitS) - 1;
      if (predicted >= x.settings.minPredictedGain) {
        return { exhausted: false, note: 'overlap', proposal: proposal(w, 1, 'increase',
          `steps wait ${pct(m.waitRatio)} for data loaded in the main process: one worker overlaps loading with compute (CPU busy, so one at a time), predicted gain ${pct(predicted)}`,
          { load_seconds_per_batch: round(m.dataWaitS), predicted_gain: round(predicted) }, predicted) };
      }
    }
    // More workers cannot help. When the run's processes get well under a core each, they
    // are oversubscribed: fewer of them waste less on contention and give the main
    // process its core back. One try, measured and rolled back like any other.
    if (!use || cur <= min || use.treeCores > cur + 1 - OVERSUBSCRIBED_SLACK) return { exhausted: true, note: 'CPU saturated: workers cannot help' };
    const target = Math.max(min, Math.ceil(use.treeCores) - 1);
    const tried = rejectedMoves(w, 'num_workers').some((r) => r.from === cur && r.to < cur);
    if (target >= cur || tried) return { exhausted: true, note: 'CPU saturated: workers cannot help' };
    return { exhausted: true, note: 'oversubscribed', proposal: proposal(w, target, 'decrease',
      `CPU saturated: the run's ${cur + 1} processes get ${round(use.treeCores, 2)} cores between them; workers ${cur} → ${target} cuts contention`,
      { process_cpu_cores: round(use.treeCores, 3), worker_rss_bytes: rss }, null) };
  }

  if (cls.bottleneck === 'input_bound') {
    const { needed, loadS } = workersNeeded(m);
    const host = w.host;
    // Free cores on the host now; our own workers' share is already counted as busy.
    const freeCores = host?.cpuUtilizationRatio != null ? (1 - host.cpuUtilizationRatio) * host.cpuCount : null;
    const byFree = freeCores === null ? Infinity : cur + Math.max(1, Math.floor(freeCores));
    const byRam = rss !== null && ram !== null && rss > 0 ? cur + Math.floor(ram / rss) : Infinity;
    const rejected = rejectedMoves(w, 'num_workers').filter((r) => r.from <= cur && r.to > cur).map((r) => r.to);
    const bad = Math.min(Infinity, ...rejected);
    // The CPU budget: one core for the main process, one per worker beyond it (tf.data's cap).
    const byBudget = budget ? Math.max(0, Math.floor(budget.cores) - 1) : Infinity;
    const limit = Math.min(max, byBudget, byFree, byRam, bad - 1);
    // Below a size that did not pay, bisect instead of jumping to the model's answer.
    const want = Number.isFinite(bad) ? Math.min(needed, Math.floor((cur + bad) / 2)) : needed;
    const target = Math.min(want, limit);
    const evidence = {
      workers_needed: needed,
      load_seconds_per_batch: round(loadS),
      worker_bound: max,
      cpu_budget_cores: budget?.cores ?? null,
      free_cores: freeCores === null ? null : round(freeCores, 2),
      worker_rss_bytes: rss,
      ram_budget_bytes: ram,
      workers_limit_by_ram: Number.isFinite(byRam) ? byRam : null,
      rejected_from: Number.isFinite(bad) ? bad : null,
    };
    if (target <= cur) {
      return { exhausted: true, note: `workers ${cur} cannot grow: bound ${max}, free cores ${freeCores ?? '?'}, RAM for ${Number.isFinite(byRam) ? byRam : '?'}, bad from ${Number.isFinite(bad) ? bad : '—'}` };
    }
    const loadPerStep = loadS / Math.max(target, 1);
    const predicted = m.stepS / Math.max(m.computeS, loadPerStep) - 1;
    if (predicted < x.settings.minPredictedGain) {
      return { exhausted: true, note: `workers ${cur} → ${target} predicted ${pct(predicted)}` };
    }
    return { exhausted: false, note: 'climb', proposal: proposal(w, target, 'increase',
      `steps wait ${pct(m.waitRatio)} for data: workers ${cur} → ${target} (model needs ${needed}), predicted gain ${pct(predicted)}`,
      { ...evidence, predicted_gain: round(predicted) }, predicted) };
  }

  // Idle workers: the pipeline is well ahead and the workers mostly sleep.
  if (use?.workerBusyRatio != null && cur > Math.max(min, 1) && m.waitRatio < DATA_WAIT_IDLE_RATIO && use.workerBusyRatio < WORKER_IDLE_RATIO) {
    const target = Math.max(min, 1, Math.ceil((cur * use.workerBusyRatio) / WORKER_TARGET_BUSY));
    const tried = rejectedMoves(w, 'num_workers').some((r) => r.from === cur && r.to <= target && r.to < r.from);
    if (target < cur && !tried) {
      return { exhausted: false, note: 'idle', proposal: proposal(w, target, 'decrease',
        `workers busy ${pct(use.workerBusyRatio)} of the time with data wait ${pct(m.waitRatio)}: workers ${cur} → ${target} frees CPU and RAM`,
        { worker_busy_ratio: round(use.workerBusyRatio), worker_rss_bytes: rss }, 0) };
    }
  }
  return { exhausted: false, note: 'workers: nothing to do' };
}
