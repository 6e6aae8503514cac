// The tuner loop: the one place with time and side effects. Each tick reads every active
// run's window through the ports, runs the pure tuner, and writes what it returned.
import type { CpuBudget } from './budget.js';
import { tune, type RunStatusUpdate } from './decide.js';
import type { TunerThresholds } from './guardrails.js';
import type { Decision, DecisionOutcome, DecisionRecord } from '../domain/decisions.js';
import type { Window } from './window.js';

export interface TunerPorts {
  activeRunIds(): string[];
  readWindow(runId: string): Window | undefined;
  /** Writes the decision; creates a config version unless d.recommendOnly. */
  applyDecision(runId: string, d: Decision): DecisionRecord;
  setOutcome(runId: string, decisionId: number, outcome: DecisionOutcome): void;
  /** Shown on GET /v1/runs/:id and in metrics. */
  setStatus(runId: string, status: RunStatusUpdate): void;
  /**
   * The job's own CPU budget (what its client reported, else its process's affinity and cgroup
   * quota), null when neither is known. Never the sidecar's own limits.
   */
  cpuBudget?(runId: string): CpuBudget | null;
  /**
   * What a run's pass reads besides the clock and the machine's readings (its steps, config,
   * events, decisions), as values compared with ===; null when the run is not known. Where given,
   * the timed pass passes over a run whose inputs are the same as after its last pass only every
   * UNCHANGED_PASS_EVERY_S: the idle sidecar watching a job that reports no steps (zero-code with
   * no hook, a job between epochs) does not redo the same pass each second. A run whose steps
   * arrive is passed over on every tick, as before.
   */
  inputs?(runId: string): readonly unknown[] | null;
}

/**
 * How often the timed pass goes over a run whose inputs have not changed: its status then follows
 * the host and process readings at this pace, and a clock-driven verdict (a change measured for
 * too long with no steps) comes at most this much later.
 */
export const UNCHANGED_PASS_EVERY_S = 5;

const sameInputs = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export interface TunerLoopOptions {
  intervalS: number;
  ports: TunerPorts;
  /** A fixed CPU budget for every run (simulations, replays); else each run's from the ports. */
  cpuBudget?: CpuBudget;
  /** Overrides the window's clock (simulations run on simulated time). */
  now?: () => number;
  settings?: Partial<TunerThresholds>;
  /** Called when one run's pass throws; the other runs go on. Defaults to a console warning. */
  onError?: (runId: string, err: unknown) => void;
}

export interface TunerLoop {
  start(): void;
  stop(): void;
  /** One pass over every active run, synchronously (the timer's passes yield between runs). */
  tick(): void;
  /**
   * The timed pass, for a caller that owns the clock instead of start(): the sidecar runs it
   * after each sampling tick, so the idle sidecar wakes once a second, not twice. It yields
   * between runs like the timer's; nothing after stop().
   */
  pass(): void;
}

export function createTunerLoop(opts: TunerLoopOptions): TunerLoop {
  const budgetOf = (runId: string): CpuBudget | null => opts.cpuBudget ?? opts.ports.cpuBudget?.(runId) ?? null;
  const onError = opts.onError ?? ((runId, err) => console.warn(`tuner: run ${runId}: ${(err as Error)?.stack ?? err}`));
  let timer: NodeJS.Timeout | null = null;

  const tickRun = (runId: string): void => {
    const read = opts.ports.readWindow(runId);
    if (!read) return;
    const w = opts.now ? { ...read, now: opts.now() } : read;
    const r = tune(w, { cpuBudget: budgetOf(runId), settings: opts.settings });
    for (const o of r.outcomes) opts.ports.setOutcome(runId, o.decisionId, o.outcome);
    if (r.decision) opts.ports.applyDecision(runId, r.decision);
    opts.ports.setStatus(runId, r.status satisfies RunStatusUpdate);
  };

  const clockMs = (): number => (opts.now ? opts.now() * 1000 : performance.now());
  /** Per run: its inputs after its last timed pass, and when that was (clockMs). */
  const lastPass = new Map<string, { at: number; inputs: readonly unknown[] }>();
  const due = (runId: string, now: number): boolean => {
    const prev = lastPass.get(runId);
    if (!prev || now - prev.at >= UNCHANGED_PASS_EVERY_S * 1000) return true;
    const inputs = opts.ports.inputs?.(runId);
    return !inputs || !sameInputs(prev.inputs, inputs);
  };
  const passed = (runId: string, now: number): void => {
    const inputs = opts.ports.inputs?.(runId);
    if (inputs) lastPass.set(runId, { at: now, inputs });
    else lastPass.delete(runId);
  };

  const tick = (): void => {
    for (const runId of opts.ports.activeRunIds()) {
      try {
        tickRun(runId);
      } catch (err) {
        onError(runId, err);
      }
    }
  };

  // The timed pass goes one run at a time, letting the event loop run between two runs: a pass
  // over many runs (bench/load: 64) was one block of the main thread each second that every
  // request arriving meanwhile waited for; now a request waits for one run's pass at most. A
  // pass still under way when the next is due is not started twice (the next one waits a tick).
  let pass: NodeJS.Immediate | null = null;
  let generation = 0;
  let stopped = false;
  const timedPass = (): void => {
    if (pass || stopped) return;
    const active = opts.ports.activeRunIds();
    if (lastPass.size > active.length) {
      const keep = new Set(active);
      for (const id of lastPass.keys()) if (!keep.has(id)) lastPass.delete(id);
    }
    const ids = opts.ports.inputs ? active.filter((id) => due(id, clockMs())) : active;
    const mine = generation;
    let i = 0;
    const step = (): void => {
      pass = null;
      if (mine !== generation || i >= ids.length) return;
      const runId = ids[i++];
      try {
        tickRun(runId);
      } catch (err) {
        onError(runId, err);
      }
      if (opts.ports.inputs) passed(runId, clockMs());
      if (i < ids.length) pass = setImmediate(step);
    };
    step();
  };

  return {
    tick,
    pass: timedPass,
    start() {
      if (timer) return;
      stopped = false;
      timer = setInterval(timedPass, Math.max(0.05, opts.intervalS) * 1000);
      timer.unref();
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      generation++;
      if (pass) clearImmediate(pass);
      pass = null;
    },
  };
}
