// The process collector: for every watched run, the whole process tree under
// its pid, found through /proc/<pid>/task/*/children (every thread's children,
// so data-loader workers forked from any thread count), with CPU, RSS and the
// GPU memory its processes hold.
//
// Reads are synchronous on purpose. A training tree means a hundred or more small
// files per tick (a PyTorch main process has dozens of threads, each with a
// `children` file); readFileSync costs ~14 µs of CPU per file where
// fs.promises.readFile costs ~185 µs. These files (stat, task/*/children) are
// generated from the task structs without taking the process's mmap lock,
// unlike cmdline/environ/maps, which this collector does not read, so they do not block.
//
// The files stay open between ticks and are read again from offset 0 (the kernel writes
// them afresh on each read), as the host collector does: one read(2) a file where
// readFileSync costs open, fstat, read and close. An open /proc/<pid> file stays bound to its
// process: once the process is reaped, reading it fails (ESRCH), the file is closed and the
// path opened afresh, so a pid taken by another process is read as that process (and its start
// time tells them apart). Files of processes and threads no longer in any tree are closed at the
// end of each tick. RSS comes from stat (field 24, in pages) rather than a second file, status;
// the page size is read from the auxiliary vector, and where that cannot be read, VmRSS from
// status is read as before.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Collector } from './collector.js';
import { isGone, pageSizeFromAuxv, parseChildren, parsePidStat, parseStatusRss, type PidStat, USER_HZ } from './process-parse.js';
import type { GpuProcess, ProcessTreeReading } from './readings.js';

export interface WatchedRun { runId: string; pid: number }

export interface ProcessCollectorOptions {
  procRoot: string;
  runs: () => readonly WatchedRun[];
  /** The GPU collector's latest compute processes (empty without GPUs). */
  gpuProcesses: () => readonly GpuProcess[];
}

interface Member { stat: PidStat; rss: number }

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
};

/** Open files kept past this many are read and closed at once (a tree of thousands of threads). */
const MAX_OPEN = 512;

/** The system's page size, or null when the auxiliary vector cannot be read. */
function systemPageSize(): number | null {
  try {
    return pageSizeFromAuxv(readFileSync('/proc/self/auxv'), endianness());
  } catch {
    return null;
  }
}

/** /proc files kept open between ticks, each read whole from offset 0. */
class OpenProcFiles {
  private readonly open = new Map<string, { fd: number; tick: number }>();
  private tick = 0;
  private buf = Buffer.alloc(4096);

  constructor(private readonly maxOpen = MAX_OPEN) {}

  /** The file's text; null when it is gone (the process or thread ended, or never was). */
  read(path: string): string | null {
    const held = this.open.get(path);
    if (held) {
      try {
        held.tick = this.tick;
        return this.readFd(held.fd);
      } catch (err) {
        this.drop(path, held.fd);
        if (!isMissing(err)) throw err;
        // The process it was opened for is gone; the path may now name another one.
      }
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const keep = this.open.size < this.maxOpen;
    if (keep) this.open.set(path, { fd, tick: this.tick });
    try {
      return this.readFd(fd);
    } catch (err) {
      if (keep) this.drop(path, fd);
      if (isMissing(err)) return null;
      throw err;
    } finally {
      if (!keep) closeSync(fd);
    }
  }

  /** Closes the files not read since the last sweep. */
  sweep(): void {
    for (const [path, held] of this.open) if (held.tick !== this.tick) this.drop(path, held.fd);
    this.tick++;
  }

  closeAll(): void {
    for (const [path, held] of this.open) this.drop(path, held.fd);
  }

  private drop(path: string, fd: number): void {
    this.open.delete(path);
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }

  private readFd(fd: number): string {
    for (;;) {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      if (n < this.buf.length) return this.buf.toString('utf8', 0, n);
      this.buf = Buffer.alloc(this.buf.length * 2); // a long children list
    }
  }
}

export function createProcessCollector(opts: ProcessCollectorOptions): Collector<ProcessTreeReading[]> {
  const procRoot = opts.procRoot.replace(/\/+$/, '');
  /** First start time seen per run: a different one at the same pid is a new process. */
  const startTicks = new Map<string, number>();
  const lastCpu = new Map<string, number>();
  const files = new OpenProcFiles();
  const pageSize = systemPageSize();

  function readMember(pid: number): Member | null {
    const text = files.read(`${procRoot}/${pid}/stat`);
    if (text === null) return null; // ended while we looked
    const stat = parsePidStat(text);
    if (pageSize !== null) return { stat, rss: stat.rssPages * pageSize };
    const status = files.read(`${procRoot}/${pid}/status`);
    return status === null ? null : { stat, rss: parseStatusRss(status) };
  }

  function childrenOf(pid: number): number[] {
    const kids: number[] = [];
    let tids: string[];
    try {
      tids = readdirSync(`${procRoot}/${pid}/task`);
    } catch (err) {
      if (isMissing(err)) return kids;
      throw err;
    }
    for (const tid of tids) {
      const text = files.read(`${procRoot}/${pid}/task/${tid}/children`);
      if (text !== null && text !== '') kids.push(...parseChildren(text)); // null: the thread ended meanwhile
    }
    return kids;
  }

  /** The root and every descendant, breadth first; null when the root is gone. */
  function readTree(rootPid: number): Member[] | null {
    const root = readMember(rootPid);
    if (!root || isGone(root.stat.state)) return null;
    const members: Member[] = [root];
    const seen = new Set([rootPid]);
    for (let i = 0; i < members.length; i++) {
      if (isGone(members[i].stat.state)) continue; // a zombie has no children left
      for (const kid of childrenOf(members[i].stat.pid)) {
        if (seen.has(kid)) continue;
        seen.add(kid);
        const m = readMember(kid);
        if (m) members.push(m);
      }
    }
    return members;
  }

  function gpuMemory(pids: ReadonlySet<number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of opts.gpuProcesses()) {
      if (!pids.has(p.pid) || p.gpuIndex < 0 || p.usedMemoryBytes === null) continue;
      const key = String(p.gpuIndex);
      out[key] = (out[key] ?? 0) + p.usedMemoryBytes;
    }
    return out;
  }

  /** Seconds since boot, read once a collection (a child's age: a worker just forked is still growing), or null. */
  let uptimeS: number | null = null;
  function readUptime(): number | null {
    const text = files.read(`${procRoot}/uptime`);
    const v = text === null ? NaN : Number(text.split(' ')[0]);
    return Number.isFinite(v) ? v : null;
  }

  function readRun(run: WatchedRun): ProcessTreeReading {
    const key = `${run.runId}\0${run.pid}`;
    const members = readTree(run.pid);
    const root = members?.[0];
    const known = startTicks.get(key);
    if (root && known === undefined) startTicks.set(key, root.stat.startTicks);
    if (!members || !root || (known !== undefined && known !== root.stat.startTicks)) {
      return {
        runId: run.runId, pid: run.pid, alive: false, cpuSecondsTotal: lastCpu.get(key) ?? 0,
        residentMemoryBytes: 0, children: [], workerCount: 0, gpuMemoryBytes: {},
      };
    }
    // Reaped children's CPU (cutime+cstime) keeps the total from dropping when a worker exits.
    const cpu = members.reduce((sum, m) => sum + m.stat.cpuSeconds + m.stat.reapedChildrenCpuSeconds, 0);
    lastCpu.set(key, cpu);
    const live = members.slice(1).filter((m) => !isGone(m.stat.state));
    return {
      runId: run.runId,
      pid: run.pid,
      alive: true,
      cpuSecondsTotal: cpu,
      residentMemoryBytes: members.reduce((sum, m) => sum + m.rss, 0),
      children: live.map((m) => {
        const c: ProcessTreeReading['children'][number] = { pid: m.stat.pid, name: m.stat.comm, cpuSecondsTotal: m.stat.cpuSeconds, residentMemoryBytes: m.rss };
        uptimeS ??= readUptime();
        if (uptimeS !== null) c.ageS = Math.max(0, uptimeS - m.stat.startTicks / USER_HZ);
        return c;
      }),
      workerCount: live.length,
      gpuMemoryBytes: gpuMemory(new Set(members.map((m) => m.stat.pid))),
    };
  }

  return {
    name: 'process',
    async collect() {
      const runs = opts.runs();
      const keys = new Set(runs.map((r) => `${r.runId}\0${r.pid}`));
      for (const k of startTicks.keys()) if (!keys.has(k)) startTicks.delete(k);
      for (const k of lastCpu.keys()) if (!keys.has(k)) lastCpu.delete(k);
      uptimeS = null;
      try {
        return runs.map(readRun);
      } finally {
        files.sweep();
      }
    },
    async close() {
      files.closeAll();
    },
  };
}
