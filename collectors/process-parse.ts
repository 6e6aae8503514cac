// /proc/<pid>/… text → one process's figures. Pure; collectors/process.ts walks the tree.
// Field numbers are proc(5)'s, counted from 1.

/**
 * USER_HZ, the unit of the times in /proc/<pid>/stat. It is 100 on every
 * architecture Linux runs ML jobs on (x86, arm64, ppc64le, s390x; only Alpha differs),
 * and Node has no sysconf(_SC_CLK_TCK) to ask.
 */
export const USER_HZ = 100;

export interface PidStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), X (dead), T, t, I, … */
  state: string;
  ppid: number;
  /** utime + stime of the process itself, seconds. */
  cpuSeconds: number;
  /** cutime + cstime: children it has waited for, seconds. */
  reapedChildrenCpuSeconds: number;
  /** Start time after boot, in clock ticks: with the pid, it names one process (pids are reused). */
  startTicks: number;
}

/** /proc/<pid>/stat. The command name sits in parentheses and may itself hold spaces and parentheses. */
export function parsePidStat(text: string): PidStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 60))}`);
  const f = text.slice(close + 2).trim().split(/\s+/); // f[0] is field 3 (state)
  const n = (field: number): number => Number(f[field - 3]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid: n(4),
    cpuSeconds: (n(14) + n(15)) / USER_HZ,
    reapedChildrenCpuSeconds: (n(16) + n(17)) / USER_HZ,
    startTicks: n(22),
  };
}

/** VmRSS of /proc/<pid>/status in bytes; 0 where there is none (kernel threads, zombies). */
export function parseStatusRss(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** /proc/<pid>/task/<tid>/children: the pids of the thread's children, space-separated. */
export function parseChildren(text: string): number[] {
  return text.split(/\s+/).filter((s) => s !== '').map(Number);
}

/** A process that has ended but was not yet reaped still has a /proc entry. */
export function isGone(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}
