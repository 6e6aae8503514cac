// The CPU budget of a job's process, read from outside it: its affinity mask
// (/proc/PID/status Cpus_allowed_list) and the quota of the cgroup it runs in (/proc/PID/cgroup →
// that cgroup's cpu.max on v2, cpu.cfs_quota_us / cpu.cfs_period_us on v1; a parent's quota caps
// its children, so the smallest along the path counts). The sidecar's own affinity and cgroup never
// enter: a sidecar limited to half a core can watch a job that has eight.
import { join } from 'node:path';
import { ancestors, readOr } from './cgroup.js';

export interface CpuBudget {
  /** Cores the job may use: the smaller of the affinity mask and the cgroup quota. */
  cores: number;
  /** Where it was read, for a person: "affinity 8 CPUs (/proc/123/status), cgroup quota 2 cores (/sys/fs/cgroup/cpu/job/cpu.cfs_quota_us)". */
  source: string;
}

/**
 * cgroup v2 `cpu.max`: "$MAX $PERIOD" or "max $PERIOD" (Documentation/admin-guide/cgroup-v2.rst,
 * "cpu.max"). Returns cores, or null for no limit.
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

/** A cpulist ("0-3,8,10-11", proc(5) Cpus_allowed_list): how many CPUs it names, or null when unreadable. */
export function parseCpuList(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  let n = 0;
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return null;
    n += hi - lo + 1;
  }
  return n > 0 ? n : null;
}

/** `Cpus_allowed_list` of a /proc/PID/status text. */
export function affinityFromStatus(status: string): number | null {
  const line = status.split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
  return line ? parseCpuList(line.slice('Cpus_allowed_list:'.length)) : null;
}

export interface CgroupMembership {
  /** The unified (v2) hierarchy's path, when the process is in one. */
  v2: string | null;
  /** The v1 hierarchy that holds the cpu controller: its controllers ("cpu,cpuacct") and path. */
  v1Cpu: { controllers: string; path: string } | null;
}

/** /proc/PID/cgroup: "hierarchy-ID:controller-list:cgroup-path" per line (cgroups(7)). */
export function parseProcCgroup(text: string): CgroupMembership {
  let v2: string | null = null;
  let v1Cpu: CgroupMembership['v1Cpu'] = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, path] = m;
    if (id === '0' && controllers === '') v2 = path;
    else if (controllers.split(',').includes('cpu')) v1Cpu = { controllers, path };
  }
  return { v2, v1Cpu };
}



interface Quota { cores: number; file: string }

function smallest(qs: Quota[]): Quota | null {
  return qs.reduce<Quota | null>((a, q) => (a === null || q.cores < a.cores ? q : a), null);
}

/** The tightest quota along a process's cgroup path, v2 first, then v1. */
export function cgroupQuota(membership: CgroupMembership, cgroupRoot = '/sys/fs/cgroup'): Quota | null {
  if (membership.v2 !== null) {
    const found: Quota[] = [];
    for (const dir of ancestors(cgroupRoot, membership.v2)) {
      const text = readOr(join(dir, 'cpu.max'));
      const cores = text === null ? null : parseCpuMax(text);
      if (cores !== null) found.push({ cores, file: join(dir, 'cpu.max') });
    }
    const q = smallest(found);
    if (q) return q;
  }
  if (membership.v1Cpu) {
    // The cpu controller is mounted under its controller list ("cpu,cpuacct", with "cpu" a link to it) or alone.
    const mounts = [...new Set([join(cgroupRoot, membership.v1Cpu.controllers), join(cgroupRoot, 'cpu')])];
    for (const mount of mounts) {
      const found: Quota[] = [];
      let seen = false;
      for (const dir of ancestors(mount, membership.v1Cpu.path)) {
        const q = readOr(join(dir, 'cpu.cfs_quota_us'));
        const p = readOr(join(dir, 'cpu.cfs_period_us'));
        if (q === null || p === null) continue;
        seen = true;
        const cores = parseCfsQuota(q, p);
        if (cores !== null) found.push({ cores, file: join(dir, 'cpu.cfs_quota_us') });
      }
      if (seen) return smallest(found);
    }
  }
  return null;
}

/** Combines an affinity count with an optional quota into a budget, saying where each came from. */
export function cpuBudgetOf(affinityCores: number, quota: Quota | null, affinityFrom: string): CpuBudget {
  if (quota !== null && quota.cores < affinityCores) {
    return { cores: quota.cores, source: `cgroup quota ${round2(quota.cores)} cores (${quota.file}); affinity ${affinityCores} CPUs (${affinityFrom})` };
  }
  return { cores: affinityCores, source: `affinity ${affinityCores} CPUs (${affinityFrom})${quota ? `; cgroup quota ${round2(quota.cores)} cores (${quota.file})` : '; no cgroup quota'}` };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * The budget of process `pid` as the kernel states it, or null when its /proc entry cannot be read
 * (the process is gone, or lives in a PID namespace we do not see).
 */
export function readProcessCpuBudget(pid: number, opts: { procRoot?: string; cgroupRoot?: string } = {}): CpuBudget | null {
  const proc = opts.procRoot ?? '/proc';
  const statusPath = join(proc, String(pid), 'status');
  const status = readOr(statusPath);
  if (status === null) return null;
  const affinity = affinityFromStatus(status);
  if (affinity === null) return null;
  const cg = readOr(join(proc, String(pid), 'cgroup'));
  const quota = cg === null ? null : cgroupQuota(parseProcCgroup(cg), opts.cgroupRoot);
  return cpuBudgetOf(affinity, quota, statusPath);
}
