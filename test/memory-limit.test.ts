// The job's memory limit (collectors/memory-limit.ts) and the host-memory budget of the loader's
// knobs (tuner/host-memory.ts): pure parsers on the kernel's formats, the budget's arithmetic, and
// one real cgroup v1 memory limit read for a real process (root and /sys/fs/cgroup/memory needed:
// without them this fails under CI=true and is skipped elsewhere).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMemoryCgroup, parseMemoryLimit, readProcessMemoryLimit } from '../collectors/memory-limit.js';
import { hostMemoryBudget, perWorkerBytes, workersWithin } from '../tuner/host-memory.js';

const V1 = '/sys/fs/cgroup/memory';
const canCgroup = existsSync(`${V1}/memory.limit_in_bytes`) && process.getuid?.() === 0;
if (!canCgroup && process.env.CI === 'true') throw new Error(`${V1} is not writable here: the cgroup test cannot run (CI=true)`);

describe('memory limit', () => {
  it('parses v2 memory.max and v1 memory.limit_in_bytes, no limit as null', () => {
    expect(parseMemoryLimit('max\n')).toBeNull();
    expect(parseMemoryLimit('536870912\n')).toBe(536870912);
    expect(parseMemoryLimit('9223372036854771712\n')).toBeNull(); // v1 unlimited, page-rounded
  });

  it('finds the memory controller in /proc/PID/cgroup (v1 and v2)', () => {
    const v1 = '12:pids:/\n5:memory:/job/a\n4:cpu,cpuacct:/job\n0::/user.slice\n';
    expect(parseMemoryCgroup(v1)).toEqual({ v1: '/job/a', v2: '/user.slice' });
    expect(parseMemoryCgroup('0::/system.slice/job.service\n')).toEqual({ v1: null, v2: '/system.slice/job.service' });
  });

  it.skipIf(!canCgroup)('reads a real v1 limit for a process placed in that cgroup', async () => {
    const dir = `${V1}/trainpilot-test-${process.pid}`;
    mkdirSync(dir);
    const child = spawn('sleep', ['30']);
    try {
      writeFileSync(`${dir}/memory.limit_in_bytes`, String(300 * 2 ** 20));
      writeFileSync(`${dir}/cgroup.procs`, String(child.pid));
      const got = readProcessMemoryLimit(child.pid!);
      expect(got?.limitBytes).toBe(300 * 2 ** 20);
      expect(got?.file).toBe(`${dir}/memory.limit_in_bytes`);
      expect(got?.usageBytes ?? 0).toBeGreaterThanOrEqual(0);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      for (let i = 0; i < 20; i++) {
        try { rmdirSync(dir); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
      }
    }
  });
});

describe('host-memory budget', () => {
  const host = { memoryAvailableBytes: 8e9 } as never;
  const tree = (rss: number) => ({ residentMemoryBytes: rss, children: [] }) as never;

  const w = (rss: number) => ({ pid: 2, name: 'w', cpuSecondsTotal: 0, residentMemoryBytes: rss });

  it('under a cgroup limit: the limit less the rest of the job and a margin, workers present or not', () => {
    const limit = { limitBytes: 2e9, usageBytes: 700e6, file: 'memory.limit_in_bytes' };
    const withWorker = hostMemoryBudget({ host, process: { residentMemoryBytes: 900e6, children: [w(300e6)] } as never, limit })!;
    expect(withWorker.workersBytes).toBe(2e9 - 600e6 - 256e6); // main 600 MB; margin max(256 MB, 10 %)
    expect(withWorker.source).toMatch(/^cgroup memory limit 2000000000 bytes \(memory.limit_in_bytes\)/);
    // Between epochs the worker is gone and the cgroup holds less: the same budget for workers.
    const between = hostMemoryBudget({ host, process: tree(600e6), limit: { ...limit, usageBytes: 500e6 } })!;
    expect(between.workersBytes).toBe(withWorker.workersBytes);
  });

  it('an override wins; without any limit, the host less a margin', () => {
    expect(hostMemoryBudget({ host, process: tree(1e9), limit: null, overrideBytes: 3e9 })!.workersBytes).toBe(2e9);
    expect(hostMemoryBudget({ host, process: null, limit: null })!.workersBytes).toBeCloseTo(8e9 * 0.9, 0);
  });

  it('stops the workers at the budget, naming the first refused count', () => {
    const r = workersWithin(2, 300e6, { workersBytes: 700e6, source: 'cgroup memory limit' });
    expect(r.max).toBe(2);
    expect(r.refused).toBe(3);
    expect(r.note).toBe('3 workers would pass the host-memory budget (300 MB per worker, room for 2; cgroup memory limit)');
    expect(workersWithin(2, null, { workersBytes: 1, source: 'x' }).max).toBe(Infinity);
  });

  it('remembers what a worker costs across readings without workers (they restart every epoch)', () => {
    const r = (...rss: number[]) => ({ residentMemoryBytes: 0, children: rss.map((x, i) => ({ pid: i, name: 'w', cpuSecondsTotal: 0, residentMemoryBytes: x })) }) as never;
    expect(perWorkerBytes([r(300e6), r()], r())).toBe(300e6);
    expect(perWorkerBytes([], r())).toBeNull();
    // Settled: only a worker already there at the reading before (a young one is still growing).
    expect(perWorkerBytes([r(130e6), r(300e6)], null, true)).toBe(300e6);
    expect(perWorkerBytes([r(), r(130e6)], null, true)).toBeNull();
    // By age where the collector read it: a worker half a second old has made its data.
    const aged = (ageS: number, rss: number) => ({ residentMemoryBytes: 0, children: [{ pid: 9, name: 'w', cpuSecondsTotal: 0, residentMemoryBytes: rss, ageS }] }) as never;
    expect(perWorkerBytes([aged(0.05, 130e6)], null, true)).toBeNull();
    expect(perWorkerBytes([aged(0.05, 130e6), aged(0.3, 300e6)], null, true)).toBe(300e6);
    expect(perWorkerBytes([r(), aged(0.8, 290e6)], null, true)).toBe(290e6);
  });
});
