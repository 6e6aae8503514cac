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
  /** Bytes the job's process tree may still add (more workers, deeper prefetch). */
  roomBytes: number;
  /** Where it came from, for a person. */
  source: string;
}

/**
 * Room to grow: under a cgroup limit, the limit minus the tree's resident memory (what it charges
 * now, when known: the cgroup's usage) minus a margin; else the host's available memory minus a
 * margin; an override (bytes the whole tree may use) wins over both.
 */
export function hostMemoryBudget(x: { host: HostReading | null; process: ProcessTreeReading | null; limit: MemoryLimit | null; overrideBytes?: number | null }): HostMemoryBudget | null {
  const tree = treeRssBytes(x.process);
  if (x.overrideBytes != null && x.overrideBytes > 0) {
    return { roomBytes: Math.max(0, x.overrideBytes - (tree ?? 0)), source: `override ${x.overrideBytes} bytes for the job` };
  }
  const margin = (total: number) => Math.max(MEMORY_MARGIN_MIN_BYTES, total * MEMORY_MARGIN_RATIO);
  if (x.limit) {
    const used = Math.max(x.limit.usageBytes ?? 0, tree ?? 0);
    const fromLimit = x.limit.limitBytes - used - margin(x.limit.limitBytes);
    const fromHost = x.host ? x.host.memoryAvailableBytes - margin(x.host.memoryAvailableBytes) : Infinity;
    return { roomBytes: Math.max(0, Math.min(fromLimit, fromHost)), source: `cgroup memory limit ${x.limit.limitBytes} bytes (${x.limit.file}) less ${used} in use and a margin` };
  }
  if (!x.host) return null;
  const avail = x.host.memoryAvailableBytes;
  return { roomBytes: Math.max(0, avail - margin(avail)), source: 'host memory available less a margin' };
}

/** Resident memory of the job's process tree (main process and its children), or null. */
export function treeRssBytes(p: ProcessTreeReading | null): number | null {
  return p ? p.residentMemoryBytes : null; // summed over the tree by the collector
}

/**
 * Worker counts above `current` that the room allows, at `perWorkerBytes` each (measured: the
 * median worker's RSS); and the smallest refused, to be named in the evidence.
 */
export function workersWithin(current: number, perWorkerBytes: number | null, budget: HostMemoryBudget | null): { max: number; refused: number | null; note: string | null } {
  if (!budget || perWorkerBytes === null || !(perWorkerBytes > 0)) return { max: Infinity, refused: null, note: null };
  const more = Math.floor(budget.roomBytes / perWorkerBytes);
  return {
    max: current + more,
    refused: current + more + 1,
    note: `${current + more + 1} workers would pass the host-memory budget (${Math.round(perWorkerBytes / 1e6)} MB per worker, room for ${more} more; ${budget.source})`,
  };
}
