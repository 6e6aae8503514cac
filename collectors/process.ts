// The process collector: for every watched run, the whole process tree under
// its pid, found through /proc/<pid>/task/*/children (every thread's children,
// so data-loader workers forked from any thread count), with CPU, RSS and the
// GPU memory its processes hold.
import { readdir, readFile } from 'node:fs/promises';
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

  async function readMember(pid: number, signal: AbortSignal): Promise<Member | null> {
    try {
      const [stat, status] = await Promise.all([
        readFile(join(procRoot, String(pid), 'stat'), { encoding: 'utf8', signal }),
        readFile(join(procRoot, String(pid), 'status'), { encoding: 'utf8', signal }),
      ]);
      return { stat: parsePidStat(stat), rss: parseStatusRss(status) };
    } catch (err) {
      if (isMissing(err)) return null; // ended while we looked
      throw err;
    }
  }

  async function childrenOf(pid: number, signal: AbortSignal): Promise<number[]> {
    let tids: string[];
    try {
      tids = await readdir(join(procRoot, String(pid), 'task'));
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const lists = await Promise.all(
      tids.map((tid) =>
        readFile(join(procRoot, String(pid), 'task', tid, 'children'), { encoding: 'utf8', signal }).then(parseChildren, (err) => {
          if (isMissing(err)) return [];
          throw err;
        }),
      ),
    );
    return lists.flat();
  }

  /** The root and every descendant, breadth first; null when the root is gone. */
  async function readTree(rootPid: number, signal: AbortSignal): Promise<Member[] | null> {
    const root = await readMember(rootPid, signal);
    if (!root || isGone(root.stat.state)) return null;
    const members: Member[] = [root];
    const seen = new Set([rootPid]);
    let frontier = [rootPid];
    while (frontier.length > 0) {
      const kids = (await Promise.all(frontier.map((p) => childrenOf(p, signal)))).flat().filter((p) => !seen.has(p));
      kids.forEach((p) => seen.add(p));
      const read = await Promise.all(kids.map((p) => readMember(p, signal)));
      const found = read.filter((m): m is Member => m !== null);
      members.push(...found);
      frontier = found.filter((m) => !isGone(m.stat.state)).map((m) => m.stat.pid);
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

  async function readRun(run: WatchedRun, signal: AbortSignal): Promise<ProcessTreeReading> {
    const key = `${run.runId}\0${run.pid}`;
    const members = await readTree(run.pid, signal);
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
    async collect(signal) {
      const runs = opts.runs();
      const keys = new Set(runs.map((r) => `${r.runId}\0${r.pid}`));
      for (const k of startTicks.keys()) if (!keys.has(k)) startTicks.delete(k);
      for (const k of lastCpu.keys()) if (!keys.has(k)) lastCpu.delete(k);
      return Promise.all(runs.map((r) => readRun(r, signal)));
    },
  };
}
