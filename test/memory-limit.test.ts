// The job's memory limit (collectors/memory-limit.ts) and the host-memory budget of the loader's
// knobs (tuner/host-memory.ts): pure parsers on the kernel's formats, the budget's arithmetic, and
// one real cgroup v1 memory limit read for a real process (root and /sys/fs/cgroup/memory needed:
// without them this fails under CI=true and is skipped elsewhere).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMemoryCgroup, parseMemoryLimit, readProcessMemoryLimit } from '../collectors/memory-limit.js';
import { hostMemoryBudget, workersWithin } from '../tuner/host-memory.js';

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

  it('under a cgroup limit: the limit less what is in use and a margin, never past the host', () => {
    const b = hostMemoryBudget({ host, process: tree(600e6), limit: { limitBytes: 2e9, usageBytes: 700e6, file: 'memory.limit_in_bytes' } })!;
    expect(b.roomBytes).toBeCloseTo(2e9 - 700e6 - 256e6, 0); // margin: max(256 MB, 10 %) = 256 MB
    expect(b.source).toMatch(/^cgroup memory limit 2000000000 bytes \(memory.limit_in_bytes\)/);
  });

  it('an override wins; without any limit, the host less a margin', () => {
    expect(hostMemoryBudget({ host, process: tree(1e9), limit: null, overrideBytes: 3e9 })!.roomBytes).toBe(2e9);
    expect(hostMemoryBudget({ host, process: null, limit: null })!.roomBytes).toBeCloseTo(8e9 * 0.9, 0);
  });

  it('stops the workers at the room, naming the first refused count', () => {
    const w = workersWithin(2, 300e6, { roomBytes: 700e6, source: 'cgroup memory limit' });
    expect(w.max).toBe(4);
    expect(w.refused).toBe(5);
    expect(w.note).toBe('5 workers would pass the host-memory budget (300 MB per worker, room for 2 more; cgroup memory limit)');
    expect(workersWithin(2, null, { roomBytes: 1, source: 'x' }).max).toBe(Infinity);
  });
});
