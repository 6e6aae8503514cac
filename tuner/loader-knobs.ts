// The data loader's knobs beside its workers (issue 22; pytorch/pytorch#23048 asks for them
// together): persistent_workers, prefetch_factor and, on CUDA jobs, pin_memory. Each is an entry of
// a small table — value, bounds, the move one step away, or why there is none — and a move is made
// only on a run whose config carries the field (the job can apply it; an older client never sends
// it) and inside the host-memory budget: a candidate whose predicted host memory would pass it is
// not tried, and the evidence names it. Pure: the window comes in.
import { knobEnabled } from './guardrails.js';
import { batchBytesOf, epochStarts } from './epoch-starts.js';
import { hostMemoryBudget, perWorkerBytes, predictedLoaderBytes, type HostMemoryBudget } from './host-memory.js';
import { fmtPercent } from './format.js';
import type { Measurement } from './measure.js';
import { median } from './stats.js';
import type { Proposal } from './proposal.js';
import { LOADER_LIMITED_WAIT } from './perf-model.js';
import { userBound } from '../domain/bounds.js';
import type { LoaderKnob, RunConfig } from '../domain/config.js';
import type { Window } from './window.js';

/**
 * Persistent workers pay when the workers' start (iterator made → first batch) is at least this
 * share of an epoch: below it, the gain hides in the noise between steps (measure.ts: 1 % target).
 */
export const START_SHARE_MIN = 0.05;
/** Epochs measured at the current version before the start cost is believed (one may be a cold cache). */
export const MIN_EPOCHS = 2;
/** torch's own prefetch_factor: what a loader without the field in its config is taken to use. */
export const TORCH_PREFETCH = 2;
/**
 * A deeper prefetch queue hides uneven batches, not a loader that is short on average: it is tried
 * only while the workers are busy less than this share of the time (they keep up on average).
 */
export const PREFETCH_BUSY_MAX = 0.8;
/** A host this busy starves the workers: their low busy share says nothing of uneven batches. */
export const HOST_CPU_BUSY = 0.9;

export interface LoaderParam {
  name: LoaderKnob;
  value: number | boolean | undefined;
  /** The value one move away, or null with `note` saying why there is none. */
  move: number | boolean | null;
  note: string;
  /** Predicted host memory of the loader (workers, their prefetched batches, pinned copies) after the move, bytes. */
  predictedBytes: number | null;
}

/** The budget the loader is kept within: the window's (override or cgroup), else available memory less a margin. */
function budgetOf(w: Window): HostMemoryBudget | null {
  return w.memoryBudget ?? hostMemoryBudget({ host: w.host, process: w.process, limit: null });
}

/** A CUDA job: its steps report a device-memory peak, or its processes hold GPU memory. */
function cudaJob(w: Window): boolean {
  if (w.steps.some((s) => s.memPeakBytes !== null || s.cuda !== undefined)) return true;
  return w.process !== null && Object.values(w.process.gpuMemoryBytes).some((b) => b > 0);
}

/** The loader's knob table: every knob the run's config carries, its move, or why none. */
export function loaderTable(w: Window, m: Measurement, workerBusy: number | null = null): LoaderParam[] {
  const c = w.config;
  const out: LoaderParam[] = [];
  const budget = budgetOf(w);
  const perWorker = perWorkerBytes(w.processHistory, w.process, true);
  const batchBytes = batchBytesOf(w);
  const prefetch = c.prefetch_factor ?? TORCH_PREFETCH;
  const pin = c.pin_memory === true;
  const predict = (over: Partial<{ prefetch: number; pin: boolean }>) =>
    perWorker === null ? null : predictedLoaderBytes({ workers: c.num_workers, perWorker, prefetch: over.prefetch ?? prefetch, batchBytes, pin: over.pin ?? pin });
  const passes = (bytes: number | null) => budget !== null && bytes !== null && bytes > budget.workersBytes;
  // Workers running, their tree read, but none of them yet: what a move would cost is unknown for a tick or two.
  const unread = budget !== null && perWorker === null && c.num_workers > 0 && w.process !== null;
  const unreadWords = 'waits for a reading of a worker past its start (the host-memory budget)';
  const refusedWords = (what: string, bytes: number) =>
    `${what} would pass the host-memory budget (predicted ${mb(bytes)} for the loader: ${c.num_workers} workers × ${mb(perWorker ?? 0)}` +
    `${batchBytes !== null ? ` + their prefetched batches of ${mb(batchBytes)}` : ''}; room for ${mb(budget!.workersBytes)}; ${budget!.source})`;
  const enabled = (k: LoaderKnob) => knobEnabled(w, k) && c[k] !== undefined;
  // A move of this knob to this value that was rolled back is not tried again (no try-undo loop).
  const undone = (k: LoaderKnob, v: number | boolean) => w.decisions.find((d) => d.knob === k && d.action !== 'rollback'
    && d.configAfter[k] === v && d.outcome.status === 'rolled_back');
  const undoneWords = (k: LoaderKnob, v: number | boolean) => `${String(v)} was tried and rolled back (decision ${undone(k, v)!.id})`;
  const noWorkers = 'no workers (torch refuses it without them)';

  if (enabled('persistent_workers')) {
    const p: LoaderParam = { name: 'persistent_workers', value: c.persistent_workers, move: null, note: '', predictedBytes: predict({}) };
    const epochs = epochStarts(w);
    if (c.persistent_workers) p.note = 'already on';
    else if (c.num_workers === 0) p.note = noWorkers;
    else if (epochs.length < MIN_EPOCHS) p.note = `${epochs.length} epoch${epochs.length === 1 ? '' : 's'} measured at this version, ${MIN_EPOCHS} needed`;
    else if (!epochs.every((e) => e.sameLoader)) p.note = 'the loader is built anew each epoch: kept workers would not be used again';
    else {
      const share = median(epochs.map((e) => e.startS / e.epochS));
      if (share < START_SHARE_MIN) p.note = `the workers' start is ${fmtPercent(share)} of an epoch (under ${fmtPercent(START_SHARE_MIN)})`;
      else if (undone('persistent_workers', true)) p.note = undoneWords('persistent_workers', true);
      else p.move = true;
    }
    out.push(p);
  }
  if (enabled('prefetch_factor')) {
    const { max } = userBound(w.tune, 'prefetch_factor');
    const to = Math.min(max, prefetch * 2);
    const bytes = predict({ prefetch: to });
    const p: LoaderParam = { name: 'prefetch_factor', value: prefetch, move: null, note: '', predictedBytes: bytes };
    if (c.num_workers === 0) p.note = noWorkers;
    else if (to <= prefetch) p.note = `at its bound ${max}`;
    else if (m.waitRatio < LOADER_LIMITED_WAIT) p.note = `steps wait ${fmtPercent(m.waitRatio)} for data: nothing to hide`;
    else if ((w.host?.cpuUtilizationRatio ?? 0) >= HOST_CPU_BUSY) p.note = `the host's CPU is ${fmtPercent(w.host!.cpuUtilizationRatio!)} busy: the workers are starved, not uneven`;
    else if (workerBusy === null) p.note = 'no CPU readings of the workers: whether they keep up on average is unknown';
    else if (workerBusy >= PREFETCH_BUSY_MAX) p.note = `workers busy ${fmtPercent(workerBusy)}: short on average, which a deeper queue does not help`;
    else if (undone('prefetch_factor', to)) p.note = undoneWords('prefetch_factor', to);
    else if (unread) p.note = `prefetch factor ${to} ${unreadWords}`;
    else if (passes(bytes)) p.note = refusedWords(`prefetch factor ${to}`, bytes!);
    else p.move = to;
    out.push(p);
  }
  if (enabled('pin_memory')) {
    const bytes = predict({ pin: true });
    const p: LoaderParam = { name: 'pin_memory', value: c.pin_memory, move: null, note: '', predictedBytes: bytes };
    if (pin) p.note = 'already on';
    else if (!cudaJob(w)) p.note = 'a CPU-only job (pinned memory only speeds copies to a GPU)';
    else if (m.waitRatio < LOADER_LIMITED_WAIT) p.note = `steps wait ${fmtPercent(m.waitRatio)} for data: nothing to hide`;
    else if (undone('pin_memory', true)) p.note = undoneWords('pin_memory', true);
    else if (unread) p.note = `pinned memory ${unreadWords}`;
    else if (passes(bytes)) p.note = refusedWords('pinned memory', bytes!);
    else p.move = true;
    out.push(p);
  }
  return out;
}

const mb = (b: number) => `${Math.round(b / 1e6)} MB`;

/**
 * Persistent workers, ahead of the search: a move that costs nothing per step (the workers run
 * through every epoch anyway) and saves the measured start of each epoch's workers. Judged as a
 * change that must not cost (action `set`): the trimmed step time it is judged on leaves out the
 * epoch's first step, where the saving lies.
 */
export function persistentWorkersMove(w: Window, m: Measurement): { proposal?: Proposal; table: LoaderParam[] } {
  const table = loaderTable(w, m);
  const p = table.find((x) => x.name === 'persistent_workers');
  if (!p || p.move !== true) return { table };
  const epochs = epochStarts(w);
  const startS = median(epochs.map((e) => e.startS));
  const epochS = median(epochs.map((e) => e.epochS));
  // Kept workers still refill their prefetch queue at an epoch's start: about one step's data wait.
  const saved = Math.max(0, startS - m.dataWaitS);
  const gain = saved > 0 && epochS > saved ? epochS / (epochS - saved) - 1 : 0;
  return {
    table,
    proposal: {
      knob: 'persistent_workers',
      action: 'set',
      config: withKnob(w.config, 'persistent_workers', true),
      reason: `persistent workers on: each epoch's ${w.config.num_workers === 1 ? 'worker' : `${w.config.num_workers} workers`} took ${startS.toFixed(2)} s to start ` +
        `(loader iterator made → first batch), ${fmtPercent(startS / epochS)} of a ${epochS.toFixed(2)} s epoch; ` +
        `kept alive they start once`,
      evidence: {
        search: 'loader_knob',
        epoch_start_seconds: round3(startS),
        epoch_seconds: round3(epochS),
        epoch_start_ratio: round3(startS / epochS),
        epochs_measured: epochs.length,
        loader_host_bytes_predicted: p.predictedBytes,
        loader_knobs: tableEvidence(table),
      },
      predictedGain: round3(gain),
      search: 'loader_knob',
    },
  };
}

/**
 * prefetch_factor, then pin_memory: after the search found no move (the workers cannot grow or do
 * not pay) while steps still wait for data — prefetch only while the workers keep up on average
 * (busy under PREFETCH_BUSY_MAX). Trials, judged like any increase: they must pay. `workersNote`:
 * why the worker count cannot grow, where a bound says so (the search's num_workers note), named
 * in the reason in place of "no worker move pays".
 */
export function loaderKnobTrial(w: Window, m: Measurement, workerBusy: number | null, workersNote: string | null = null): { proposal?: Proposal; table: LoaderParam[] } {
  const table = loaderTable(w, m, workerBusy);
  for (const name of ['prefetch_factor', 'pin_memory'] as const) {
    const p = table.find((x) => x.name === name);
    if (!p || p.move === null) continue;
    const words = name === 'prefetch_factor'
      ? `prefetch factor ${String(p.value)} → ${String(p.move)}: steps wait ${fmtPercent(m.waitRatio)} for data while the workers are busy ${fmtPercent(workerBusy ?? 0)} (they keep up on average) and ${workersNote ?? 'no worker move pays'}; more batches kept ready hide uneven load times`
      : `pinned memory on: steps wait ${fmtPercent(m.waitRatio)} for data on a CUDA job; page-locked batches copy to the device faster`;
    return {
      table,
      proposal: {
        knob: name,
        action: 'increase',
        config: withKnob(w.config, name, p.move),
        reason: `${words} (a trial, kept only if it pays)`,
        evidence: { search: 'trial', loader_host_bytes_predicted: p.predictedBytes, loader_knobs: tableEvidence(table) },
        predictedGain: null,
        search: 'trial',
      },
    };
  }
  return { table };
}

/** The table as evidence, in words: each knob's value and move, or why none (a refusal by the budget named there). */
export function tableEvidence(table: LoaderParam[]): string {
  return table.map((p) => `${p.name} ${String(p.value)}: ${p.move === null ? p.note : `→ ${String(p.move)}`}`).join('; ');
}

function withKnob(config: RunConfig, knob: LoaderKnob, value: number | boolean): RunConfig {
  return { ...config, [knob]: value };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
