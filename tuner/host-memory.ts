// The host-memory budget of the data-loader knobs (issue 22; pytorch#97432: prefetch_factor=8 with
// pin_memory took ~90 % of a 500 GB host; pytorch#122935: host memory grows with workers). tf.data's
// autotuner keeps a RAM budget for the same reason (model.cc, ram_budget). Pure: the readings come in.
import type { HostReading, ProcessTreeReading } from '../collectors/readings.js';
import type { MemoryLimit } from '../collectors/memory-limit.js';

/**
 * Kept free of the room the job may grow into: page cache, the allocator's slack, a batch in
 * flight. A tenth of the limit (or of what is available), and at least 256 MB.
 */
export const MEMORY_MARGIN_RATIO = 0.1;
export const MEMORY_MARGIN_MIN_BYTES = 256e6;

export interface HostMemoryBudget {
  /** Bytes the data-loader workers may hold in all: the budget less the rest of the job and a margin. */
  workersBytes: number;
  /** Where it came from, for a person. */
  source: string;
}

/**
 * What the workers may hold in all. The rest of the job is the main process's resident memory
 * (the tree's less its workers'), or under a cgroup what the cgroup holds less the workers present
 * when that is more (the launcher, the page cache charged to it); between epochs workers that
 * restart are absent, so a budget taken as "room left now" would count their memory as free.
 * Under a cgroup limit: the limit less that and a margin; an override (bytes for the whole job)
 * wins; else the host's available memory plus what the workers hold now, less a margin.
 */
export function hostMemoryBudget(x: { host: HostReading | null; process: ProcessTreeReading | null; limit: MemoryLimit | null; overrideBytes?: number | null }): HostMemoryBudget | null {
  const workers = x.process ? x.process.children.reduce((a, c) => a + c.residentMemoryBytes, 0) : 0;
  const main = x.process ? Math.max(0, x.process.residentMemoryBytes - workers) : 0;
  const margin = (total: number) => Math.max(MEMORY_MARGIN_MIN_BYTES, total * MEMORY_MARGIN_RATIO);
  if (x.overrideBytes != null && x.overrideBytes > 0) {
    return { workersBytes: Math.max(0, x.overrideBytes - main), source: `the job's budget ${x.overrideBytes} bytes (tune.host_memory_budget_bytes) less ${main} for its main process` };
  }
  if (x.limit) {
    const rest = Math.max(main, (x.limit.usageBytes ?? 0) - workers);
    return {
      workersBytes: Math.max(0, x.limit.limitBytes - rest - margin(x.limit.limitBytes)),
      source: `cgroup memory limit ${x.limit.limitBytes} bytes (${x.limit.file}) less ${rest} for the rest of the job and a margin`,
    };
  }
  if (!x.host) return null;
  const avail = x.host.memoryAvailableBytes;
  return { workersBytes: Math.max(0, avail + workers - margin(avail)), source: 'host memory available less a margin' };
}

/**
 * Worker counts the budget allows at `perWorker` bytes each (measured: a worker's RSS), and the
 * smallest refused, named in the evidence. No measurement or no budget: no limit from here.
 */
export function workersWithin(current: number, perWorker: number | null, budget: HostMemoryBudget | null): { max: number; refused: number | null; note: string | null } {
  if (!budget || perWorker === null || !(perWorker > 0)) return { max: Infinity, refused: null, note: null };
  const max = Math.floor(budget.workersBytes / perWorker);
  return {
    max,
    refused: max + 1,
    note: `${max + 1} workers would pass the host-memory budget (${Math.round(perWorker / 1e6)} MB per worker, room for ${max}; ${budget.source})`,
  };
}

/**
 * Worker counts under a budget before a worker past its start has been read (perWorkerBytes,
 * settled). A job with workers keeps their count until then; a job without any may start one, and
 * no more, until that one is read.
 */
export function workersUnread(current: number, budget: HostMemoryBudget): { max: number; refused: number; note: string } {
  if (current > 0) {
    return { max: current, refused: current + 1, note: `${current + 1} workers wait for a reading of a worker past its start (the host-memory budget: ${budget.source})` };
  }
  return { max: 1, refused: 2, note: `one worker before more: its memory is read first (the host-memory budget: ${budget.source})` };
}

/** A worker this old has made its data: fat_workers.py's grew for ~120 ms after its fork (twice that, for a margin). */
export const WORKER_SETTLED_S = 0.25;

/**
 * Resident memory of one worker: the largest median worker over the recent readings. Workers that
 * restart every epoch leave readings without children between epochs; the budget must not forget
 * what a worker costs in those gaps. `settled`: only workers WORKER_SETTLED_S old count (by their
 * start time; without it, those already there at the reading before), for a worker read just
 * after its fork holds a fraction of what it will (fat_workers.py's grew 129 → 295 MB over its
 * first ~120 ms, a fifth of a 0.6-s epoch on a fast host; CI once added a worker past a budget on
 * such readings); null until such a worker has been read.
 */
export function perWorkerBytes(history: ReadonlyArray<ProcessTreeReading> | undefined, latest: ProcessTreeReading | null, settled = false): number | null {
  const all = [...(history ?? [])];
  // The latest reading is usually the history's last (a copy with its time): counted once.
  const last = all.at(-1);
  if (latest && !(last && last.cpuSecondsTotal === latest.cpuSecondsTotal && last.residentMemoryBytes === latest.residentMemoryBytes)) all.push(latest);
  let best: number | null = null;
  let before: ReadonlyArray<{ pid: number }> = [];
  for (const p of all) {
    const workers = settled ? p.children.filter((c) => (c.ageS !== undefined ? c.ageS >= WORKER_SETTLED_S : before.some((b) => b.pid === c.pid))) : p.children;
    before = p.children;
    if (workers.length === 0) continue;
    const rss = workers.map((c) => c.residentMemoryBytes).sort((a, b) => a - b)[workers.length >> 1];
    if (best === null || rss > best) best = rss;
  }
  return best;
}

/**
 * What the loader holds in host memory: each worker's resident memory, the batches it keeps ready
 * (prefetch_factor of them; in shared memory until the main process takes them) and, with
 * pin_memory, a page-locked copy of each in the main process. Batch bytes unknown: workers alone.
 */
export function predictedLoaderBytes(x: { workers: number; perWorker: number; prefetch: number; batchBytes: number | null; pin: boolean }): number {
  const batches = x.batchBytes === null ? 0 : x.workers * x.prefetch * x.batchBytes * (x.pin ? 2 : 1);
  return x.workers * x.perWorker + batches;
}
