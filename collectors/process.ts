// The process collector: for every watched run, the whole process tree under
// its pid, found through /proc/<pid>/task/*/children (every thread's children,
// so data-loader workers forked from any thread count), with CPU, RSS and the
// GPU memory its processes hold.
//
// Reads are synchronous on purpose. A training tree means a hundred or more small
// files per tick (a PyTorch main process has dozens of threads, each with a
// `children` file); readFileSync costs ~14 µs of CPU per file where
// fs.promises.readFile costs ~185 µs. These files (stat, status, task/*/children)
// are generated from the task structs without taking the process's mmap lock,
// unlike cmdline/environ/maps, which this collector does not read, so they do not block.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Collector } from './collector.js';
import { isGone, parseChildren, parsePidStat, parseStatusRss, type PidStat } from './process-parse.js';
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

export function createProcessCollector(opts: ProcessCollectorOptions): Collector<ProcessTreeReading[]> {
  const { procRoot } = opts;
  /** First start time seen per run: a different one at the same pid is a new process. */
  const startTicks = new Map<string, number>();
  const lastCpu = new Map<string, number>();

  function readMember(pid: number): Member | null {
    try {
      const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
      const status = readFileSync(join(procRoot, String(pid), 'status'), 'utf8');
      return { stat: parsePidStat(stat), rss: parseStatusRss(status) };
    } catch (err) {
      if (isMissing(err)) return null; // ended while we looked
      throw err;
    }
  }

  function childrenOf(pid: number): number[] {
    const kids: number[] = [];
    try {
      for (const tid of readdirSync(join(procRoot, String(pid), 'task'))) {
        try {
          kids.push(...parseChildren(readFileSync(join(procRoot, String(pid), 'task', tid, 'children'), 'utf8')));
        } catch (err) {
          if (!isMissing(err)) throw err; // the thread ended while we looked
        }
      }
    } catch (err) {
      if (!isMissing(err)) throw err;
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
      children: live.map((m) => ({ pid: m.stat.pid, name: m.stat.comm, cpuSecondsTotal: m.stat.cpuSeconds, residentMemoryBytes: m.rss })),
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
      return runs.map(readRun);
    },
  };
}
