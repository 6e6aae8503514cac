// CPU and RAM budgets for data-loader workers, as tf.data's autotuner bounds parallelism
// (tensorflow/core/framework/model.cc: CPU budget = schedulable cores, RAM budget = half
// of available memory). Parsing is pure; readCpuBudget() is the only I/O and is called
// by the loop, never by the tuner.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import type { HostReading, ProcessTreeReading } from '../collectors/readings.js';

export interface CpuBudget {
  /** Cores the job may use: the smaller of the affinity mask and the cgroup quota. */
  cores: number;
  source: string;
}

/**
 * cgroup v2 `cpu.max`: "$MAX $PERIOD" or "max $PERIOD" (kernel docs,
 * Documentation/admin-guide/cgroup-v2.rst, "cpu.max"). Returns cores, or null for no limit.
 */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return q / p;
}

/** cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (-1 quota: no limit). */
export function parseCfsQuota(quotaText: string, periodText: string): number | null {
  const q = Number(quotaText.trim());
  const p = Number(periodText.trim());
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return q / p;
}

/** Combines the affinity count with an optional quota into a budget. */
export function cpuBudgetOf(affinityCores: number, quotaCores: number | null): CpuBudget {
  if (quotaCores !== null && quotaCores < affinityCores) {
    return { cores: quotaCores, source: `cgroup quota ${quotaCores} cores (affinity ${affinityCores})` };
  }
  return { cores: affinityCores, source: `sched_getaffinity ${affinityCores} cores` };
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The local budget: os.availableParallelism() counts the CPUs in this process's affinity
 * mask (sched_getaffinity, libuv uv_available_parallelism); the cgroup quota caps it.
 */
export function readCpuBudget(root = '/sys/fs/cgroup'): CpuBudget {
  const affinity = availableParallelism();
  const v2 = readOr(`${root}/cpu.max`);
  if (v2 !== null) return cpuBudgetOf(affinity, parseCpuMax(v2));
  const q = readOr(`${root}/cpu/cpu.cfs_quota_us`);
  const p = readOr(`${root}/cpu/cpu.cfs_period_us`);
  return cpuBudgetOf(affinity, q !== null && p !== null ? parseCfsQuota(q, p) : null);
}

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
