// CPU and RAM budgets for data-loader workers, as tf.data's autotuner bounds parallelism
// (tensorflow/core/framework/model.cc: CPU budget = schedulable cores, RAM budget = half
// of available memory). The CPU budget is the job's own, read for its process
// (collectors/cpu-budget.ts) or reported by its client; this module only uses it.
import type { HostReading, ProcessTreeReading } from '../collectors/readings.js';

export type { CpuBudget } from '../collectors/cpu-budget.js';

/** tf.data's RAM budget: half of the memory available now. */
export const RAM_BUDGET_SHARE = 0.5;

/** Bytes that more workers may take, or null when the host is not read. */
export function ramBudgetBytes(host: HostReading | null): number | null {
  return host ? host.memoryAvailableBytes * RAM_BUDGET_SHARE : null;
}

/** Resident memory of one data-loader worker: the median child, or null when unknown. */
export function workerRssBytes(p: ProcessTreeReading | null): number | null {
  if (!p || p.children.length === 0) return null;
  const rss = p.children.map((c) => c.residentMemoryBytes).sort((a, b) => a - b);
  return rss[rss.length >> 1];
}

export interface CpuUse {
  /** Cores the whole process tree used (CPU seconds per second). */
  treeCores: number;
  /** Mean busy share of one worker (0–1), null without workers. */
  workerBusyRatio: number | null;
}

/**
 * CPU use over the newest run of comparable process readings: same worker count, and
 * worker counters that only grow (a loader rebuild restarts workers and their counters).
 * Null with fewer than two such readings.
 */
export function cpuUse(history: ReadonlyArray<ProcessTreeReading & { ts: number }> | undefined, workers: number): CpuUse | null {
  if (!history || history.length < 2) return null;
  const childCpu = (r: ProcessTreeReading) => r.children.reduce((s, c) => s + c.cpuSecondsTotal, 0);
  const b = history[history.length - 1];
  let i = history.length - 1;
  while (i > 0) {
    const prev = history[i - 1];
    const cur = history[i];
    if (prev.workerCount !== b.workerCount || childCpu(prev) > childCpu(cur) || prev.cpuSecondsTotal > cur.cpuSecondsTotal) break;
    i -= 1;
  }
  const a = history[i];
  const dt = b.ts - a.ts;
  if (i === history.length - 1 || dt <= 0) return null;
  const n = Math.max(b.workerCount, workers);
  return {
    treeCores: Math.max(0, (b.cpuSecondsTotal - a.cpuSecondsTotal) / dt),
    workerBusyRatio: n > 0 ? Math.max(0, (childCpu(b) - childCpu(a)) / dt / n) : null,
  };
}
