// The job's memory limit, read for its process as the kernel states it (/proc/PID/cgroup → that
// cgroup's memory.max and memory.current on v2, memory.limit_in_bytes and memory.usage_in_bytes
// on v1; a parent's limit caps its children, so the tightest along the path counts). The
// sidecar's own cgroup never counts (DESIGN §6: the job's budget, not the sidecar's). The host
// memory budget of the data-loader knobs (tuner/host-memory.ts) starts from it.
import { join } from 'node:path';
import { ancestors, readOr } from './cgroup.js';

export interface MemoryLimit {
  /** The tightest limit along the job's cgroup path, bytes. */
  limitBytes: number;
  /** What that cgroup holds now (page cache included, as the kernel charges it), bytes. */
  usageBytes: number | null;
  /** The file the limit was read from, for a person. */
  file: string;
}

/**
 * cgroup v2 `memory.max` ("max" or bytes) or v1 `memory.limit_in_bytes` (bytes; no limit reads
 * as PAGE_COUNTER_MAX rounded to pages, about 2^63: anything at or above 2^60 is no limit).
 */
export function parseMemoryLimit(text: string): number | null {
  const t = text.trim();
  if (t === '' || t === 'max') return null;
  const n = Number(t);
  return Number.isFinite(n) && n > 0 && n < 2 ** 60 ? n : null;
}

/** /proc/PID/cgroup: the v2 path ("0::/x") and the v1 memory controller's path ("5:memory:/x"). */
export function parseMemoryCgroup(text: string): { v2: string | null; v1: string | null } {
  let v2: string | null = null;
  let v1: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3];
    else if (m[2].split(',').includes('memory')) v1 = m[3];
  }
  return { v2, v1 };
}



/** The tightest memory limit along the process's cgroup path (v1 memory controller, then v2), or null. */
export function readProcessMemoryLimit(pid: number, cgroupRoot = '/sys/fs/cgroup', procRoot = '/proc'): MemoryLimit | null {
  const text = readOr(join(procRoot, String(pid), 'cgroup'));
  if (text === null) return null;
  const { v2, v1 } = parseMemoryCgroup(text);
  const tries: Array<{ dirs: string[]; limit: string; usage: string }> = [];
  if (v1 !== null) tries.push({ dirs: ancestors(join(cgroupRoot, 'memory'), v1), limit: 'memory.limit_in_bytes', usage: 'memory.usage_in_bytes' });
  if (v2 !== null) tries.push({ dirs: ancestors(v1 !== null ? join(cgroupRoot, 'unified') : cgroupRoot, v2), limit: 'memory.max', usage: 'memory.current' });
  for (const t of tries) {
    let best: MemoryLimit | null = null;
    for (const dir of t.dirs) {
      const raw = readOr(join(dir, t.limit));
      const limit = raw === null ? null : parseMemoryLimit(raw);
      if (limit === null || (best !== null && best.limitBytes <= limit)) continue;
      const usage = Number((readOr(join(dir, t.usage)) ?? '').trim());
      best = { limitBytes: limit, usageBytes: Number.isFinite(usage) && usage > 0 ? usage : null, file: join(dir, t.limit) };
    }
    if (best) return best;
  }
  return null;
}
