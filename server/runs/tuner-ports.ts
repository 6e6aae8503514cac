// The tuner loop's ports (tuner/loop.ts TunerPorts) over the live state of runs: windows built by
// the one window builder (tuner/run-window.ts), decisions written through the hub.
import { readProcessCpuBudget, type CpuBudget } from '../../collectors/cpu-budget.js';
import { readProcessMemoryLimit, type MemoryLimit } from '../../collectors/memory-limit.js';
import type { HostReading, ProcessTreeReading } from '../../collectors/readings.js';
import { hostMemoryBudget } from '../../tuner/host-memory.js';
import type { TunerPorts } from '../../tuner/loop.js';
import { appliesDecision, buildWindow } from '../../tuner/run-window.js';
import type { Window } from '../../tuner/window.js';
import type { RunHub } from './hub.js';

/** How many of a run's newest events and decisions a window carries. */
export const WINDOW_EVENTS = 200;
export const WINDOW_DECISIONS = 100;

/** How long a budget read through /proc/PID is reused: quotas change rarely, the tuner asks every tick. */
export const BUDGET_TTL_S = 10;

export function createTunerPorts(hub: RunHub, opts: {
  readProcessBudget?: (pid: number) => CpuBudget | null;
  readMemoryLimit?: (pid: number) => MemoryLimit | null;
} = {}): TunerPorts {
  const readProcess = opts.readProcessBudget ?? ((pid: number) => readProcessCpuBudget(pid));
  const budgets = new Map<string, { at: number; pid: number; budget: CpuBudget | null }>();
  const readMemoryLimit = opts.readMemoryLimit ?? ((pid: number) => readProcessMemoryLimit(pid));
  const limits = new Map<string, { at: number; pid: number; limit: MemoryLimit | null }>();
  return {
    /**
     * The job's budget. Its client's report wins when there is one: it is read inside the job's own
     * container, where the cgroup files are the job's; from the sidecar's side, /proc/PID/cgroup may
     * name a cgroup of another namespace that this mount cannot follow. Else the job's process as the
     * kernel states it; else the host's CPU count (a job whose process is not known).
     */
    cpuBudget(runId: string): CpuBudget | null {
      const run = hub.findRun(runId);
      if (!run) return null;
      if (run.cpuBudget) return { cores: run.cpuBudget.cores, source: `reported by the job: ${run.cpuBudget.source}` };
      if (run.pid !== null) {
        const now = hub.now();
        const hit = budgets.get(runId);
        if (hit && hit.pid === run.pid && now - hit.at < BUDGET_TTL_S) return hit.budget ?? hostBudget();
        const budget = readProcess(run.pid);
        budgets.set(runId, { at: now, pid: run.pid, budget });
        // Ended runs' readings go (the tuner asks for running runs only).
        if (budgets.size > 2 * hub.activeRuns().length + 16) {
          const active = new Set(hub.activeRuns().map((r) => r.id));
          for (const id of budgets.keys()) if (!active.has(id)) budgets.delete(id);
        }
        if (budget) return budget;
      }
      return hostBudget();
    },
    activeRunIds: () => hub.activeRuns().map((r) => r.id),
    // The run record is the store's cached read, the same object until the run's next write; its
    // events and decisions are not read here, only the count of their writes.
    inputs(runId: string): readonly unknown[] | null {
      const run = hub.findRun(runId);
      if (!run) return null;
      const l = hub.live(run);
      return [run, l.stepsTotal, l.lastStepTs, l.normSteps.at(-1), hub.eventsRevision(runId)];
    },
    readWindow(runId: string): Window | undefined {
      const run = hub.findRun(runId);
      if (!run) return undefined;
      const l = hub.live(run);
      const snap = hub.snapshot();
      return buildWindow({
        run,
        now: hub.now(),
        steps: l.recent,
        events: hub.events(runId, WINDOW_EVENTS),
        decisions: hub.decisions(runId, WINDOW_DECISIONS),
        oomBatchSizes: hub.oomBatchSizes(runId),
        host: snap?.host ?? null,
        gpus: snap?.gpus ?? null,
        process: l.process,
        processHistory: l.processHistory,
        memoryBudget: jobMemoryBudget(run.id, run.pid, snap?.host ?? null, l.process, run.tune.host_memory_budget_bytes ?? null),
        normSteps: l.normSteps,
      });
    },
    applyDecision(runId, d) {
      const run = hub.getRun(runId);
      return hub.addDecision(runId, d, { apply: appliesDecision(run, d), step: hub.live(run).recent.at(-1)?.step ?? null });
    },
    setOutcome: (runId, decisionId, outcome) => hub.setOutcome(runId, decisionId, outcome),
    setStatus: (runId, status) => hub.setStatus(runId, status),
  };

  /**
   * The user's override (tune.host_memory_budget_bytes), else under a cgroup memory limit the room
   * it leaves (tuner/host-memory.ts); without either, null: the worker knob keeps tf.data's half of
   * available memory (tuner/budget.ts).
   */
  function jobMemoryBudget(runId: string, pid: number | null, host: HostReading | null, process: ProcessTreeReading | null, overrideBytes: number | null) {
    if (overrideBytes !== null) return hostMemoryBudget({ host, process, limit: null, overrideBytes });
    const limit = memoryLimitOf(runId, pid);
    return limit ? hostMemoryBudget({ host, process, limit }) : null;
  }

  /** The job's cgroup memory limit, read through /proc/PID like its CPU budget and reused as long. */
  function memoryLimitOf(runId: string, pid: number | null): MemoryLimit | null {
    if (pid === null) return null;
    const now = hub.now();
    const hit = limits.get(runId);
    if (hit && hit.pid === pid && now - hit.at < BUDGET_TTL_S) return hit.limit;
    const limit = readMemoryLimit(pid);
    limits.set(runId, { at: now, pid, limit });
    if (limits.size > 2 * hub.activeRuns().length + 16) {
      const active = new Set(hub.activeRuns().map((r) => r.id));
      for (const id of limits.keys()) if (!active.has(id)) limits.delete(id);
    }
    return limit;
  }

  function hostBudget(): CpuBudget | null {
    const n = hub.snapshot()?.host?.cpuCount;
    return n ? { cores: n, source: `host CPU count ${n} (the job's process is not known)` } : null;
  }
}
