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
  /** Threads of the process (field 20). */
  threads: number;
  /** Resident set in pages (field 24): the same counters as status's VmRSS, in pages. */
  rssPages: number;
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
    threads: n(20),
    rssPages: n(24),
  };
}

/**
 * The page size from an auxiliary vector (/proc/self/auxv: pairs of native-endian 64-bit words;
 * AT_PAGESZ is type 6), or null when it is not there. 4 KiB on x86; arm64 kernels run 4, 16 or
 * 64 KiB pages, so it is read, not assumed.
 */
export function pageSizeFromAuxv(auxv: Buffer, endianness: 'LE' | 'BE' = 'LE'): number | null {
  const AT_NULL = 0n;
  const AT_PAGESZ = 6n;
  const word = (off: number): bigint => (endianness === 'LE' ? auxv.readBigUInt64LE(off) : auxv.readBigUInt64BE(off));
  for (let off = 0; off + 16 <= auxv.length; off += 16) {
    const type = word(off);
    if (type === AT_NULL) break;
    if (type === AT_PAGESZ) return Number(word(off + 8));
  }
  return null;
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
