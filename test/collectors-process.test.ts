// The process collector on a real tree: a parent that starts workers, each of
// which holds 64 MiB and burns CPU, like a training job with data-loader
// workers. CPU and RSS of the tree, worker count, GPU memory attribution
// through the stand-in nvidia-smi, exit detection; and pid reuse on a made-up /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createProcessCollector } from '../collectors/process.js';
import { pageSizeFromAuxv } from '../collectors/process-parse.js';
import type { ProcessTreeReading } from '../collectors/readings.js';
import { createSampler, type Sampler } from '../collectors/sampler.js';
import { waitUntil } from './helpers/wait.js';

const MiB = 1024 * 1024;
const WORKERS = 3;
const BURN_MS = 500;
const STAND_IN = fileURLToPath(new URL('./bin/nvidia-smi', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-proc-'));
const controlFile = join(dir, 'control.json');
process.env.FAKE_NVIDIA_SMI_CONTROL = controlFile;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each worker fills 64 MiB (so it is resident), burns BURN_MS of CPU time, then idles; it says "ready" when done.
const WORKER = `const b = Buffer.alloc(${64 * MiB}, 1);
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
while (cpuMs() < ${BURN_MS}) {}
process.stdout.write('ready\\n'); setInterval(() => { b[0]++; }, 1000);`;
const PARENT = `const { spawn } = require('node:child_process');
let ready = 0;
const workers = Array.from({ length: ${WORKERS} }, () => spawn(process.execPath, ['-e', ${JSON.stringify(WORKER)}], { stdio: ['ignore', 'pipe', 'inherit'] }));
for (const w of workers) w.stdout.on('data', () => { if (++ready === workers.length) console.log(JSON.stringify(workers.map((w) => w.pid))); });
process.on('SIGTERM', () => { workers.forEach((w) => w.kill('SIGKILL')); process.exit(0); });
setInterval(() => {}, 1000);`;

/** Start the tree; resolves with the parent and its workers' pids once every worker has burnt its CPU. */
function startTree(): Promise<{ parent: ChildProcess; workers: number[] }> {
  const parent = spawn(process.execPath, ['-e', PARENT], { stdio: ['ignore', 'pipe', 'inherit'] });
  trees.push(parent);
  return new Promise((resolve, reject) => {
    parent.stdout!.once('data', (d) => resolve({ parent, workers: JSON.parse(String(d)) }));
    parent.once('exit', (code) => reject(new Error(`tree parent exited early (${code})`)));
  });
}
const trees: ChildProcess[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) if (t.exitCode === null) t.kill('SIGTERM');
});

const waitFor = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 8000): Promise<T> =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 50 });

describe('process collector on a real tree', () => {
  it('CPU and RSS of the whole tree, per worker, worker count; a killed worker leaves its CPU in the total', async () => {
    const { parent, workers } = await startTree();
    const c = createProcessCollector({ procRoot: '/proc', runs: () => [{ runId: 'r1', pid: parent.pid! }], gpuProcesses: () => [] });
    const read = async () => (await c.collect(new AbortController().signal))[0];

    const startedAt = performance.now();
    const r = await read();
    expect(r).toMatchObject({ runId: 'r1', pid: parent.pid, alive: true, workerCount: WORKERS, gpuMemoryBytes: {} });
    // Each worker's age from its start time and /proc/uptime: started before this test asked, and
    // not before the test's own process (both at USER_HZ resolution).
    const testAgeS = process.uptime() + 0.02;
    for (const ch of r.children) {
      expect(ch.ageS).toBeGreaterThanOrEqual(0);
      expect(ch.ageS!).toBeLessThanOrEqual(testAgeS + (performance.now() - startedAt) / 1000);
    }
    expect(r.children.map((ch) => ch.pid).sort()).toEqual([...workers].sort());
    for (const ch of r.children) {
      expect(ch.name).toBe('node');
      expect(ch.residentMemoryBytes).toBeGreaterThan(64 * MiB);
      expect(ch.cpuSecondsTotal).toBeGreaterThanOrEqual(BURN_MS / 1000 - 0.02); // USER_HZ resolution
    }
    const childRss = r.children.reduce((s, ch) => s + ch.residentMemoryBytes, 0);
    expect(r.residentMemoryBytes).toBeGreaterThan(childRss); // plus the parent's own
    expect(r.cpuSecondsTotal).toBeGreaterThanOrEqual(r.children.reduce((s, ch) => s + ch.cpuSecondsTotal, 0));

    process.kill(workers[0], 'SIGKILL');
    const after = await waitFor('one worker fewer', async () => {
      const x = await read();
      return x.workerCount === WORKERS - 1 ? x : undefined;
    });
    expect(after.children.map((ch) => ch.pid)).not.toContain(workers[0]);
    // The parent reaped it, so its CPU moved into the parent's cutime: the total does not drop.
    expect(after.cpuSecondsTotal).toBeGreaterThanOrEqual(r.cpuSecondsTotal - 0.02);
  });

  it('holds open the files of the live tree only: a killed worker\'s are closed on the next tick, close() closes the rest', async () => {
    // The /proc files this test process holds open under the tree's pids.
    const held = (pids: number[]) =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return pids.some((p) => readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/proc/${p}/`));
        } catch {
          return false; // closed while listed (readdir's own)
        }
      }).length;
    const { parent, workers } = await startTree();
    const c = createProcessCollector({ procRoot: '/proc', runs: () => [{ runId: 'r3', pid: parent.pid! }], gpuProcesses: () => [] });
    const signal = new AbortController().signal;
    await c.collect(signal);
    const again = (await c.collect(signal))[0];
    expect(again.workerCount).toBe(WORKERS);
    expect(held([workers[0]])).toBeGreaterThanOrEqual(2); // its stat and its threads' children
    const before = held([parent.pid!, ...workers]);

    process.kill(workers[0], 'SIGKILL');
    // Its files go on the first tick after its parent reaped it (a zombie is still read).
    await waitFor('the killed worker\'s files closed', async () => {
      const r = (await c.collect(signal))[0];
      return r.workerCount === WORKERS - 1 && held([workers[0]]) === 0 ? true : undefined;
    });
    expect(held([parent.pid!, ...workers])).toBeLessThan(before);
    // Read from held files, the figures still move: the workers idle, the parent's reaped CPU grew.
    expect((await c.collect(signal))[0].cpuSecondsTotal).toBeGreaterThanOrEqual(again.cpuSecondsTotal);

    await c.close!();
    expect(held([parent.pid!, ...workers])).toBe(0);
  });

  it('through the sampler: GPU memory of the tree by GPU, and one exit event when the root goes', async () => {
    const { parent, workers } = await startTree();
    // nvidia-smi lists the parent on GPU 0, a worker on GPU 1, and the fixture's own pid 37305 on all 8.
    writeFileSync(controlFile, JSON.stringify({ mode: 'ok', apps: [{ gpu: 0, pid: parent.pid, usedMiB: 2000 }, { gpu: 1, pid: workers[1], usedMiB: 1000 }] }));
    const exits: Array<[string, number]> = [];
    let latest: ProcessTreeReading | undefined;
    const sampler: Sampler = createSampler({
      intervalS: 0.2,
      gpu: 'on',
      nvidiaSmiPath: STAND_IN,
      watchedRuns: () => [{ runId: 'r2', pid: parent.pid! }],
      onSnapshot: (s) => (latest = s.processes[0]),
      onProcessExit: (runId, pid) => exits.push([runId, pid]),
      gpuTimings: { processesRefreshS: 0.2 },
    });
    try {
      await sampler.start();
      const withGpu = await waitFor('GPU memory attributed', () => (latest && Object.keys(latest.gpuMemoryBytes).length > 0 ? latest : undefined));
      expect(withGpu.gpuMemoryBytes).toEqual({ '0': 2000 * MiB, '1': 1000 * MiB });
      expect(withGpu.workerCount).toBe(WORKERS);

      parent.kill('SIGTERM');
      await waitFor('the exit event', () => (exits.length > 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 600)); // more ticks: still one event
      expect(exits).toEqual([['r2', parent.pid]]);
      expect(latest).toMatchObject({ alive: false, workerCount: 0, residentMemoryBytes: 0 });
      expect(latest!.cpuSecondsTotal).toBeGreaterThan(0); // the last total, kept
    } finally {
      await sampler.stop();
    }
  });
});

describe('process collector on a made-up /proc', () => {
  const proc = join(dir, 'proc');
  // RSS is read from stat in pages of the machine's size: 1 MiB each.
  const pages = (1024 * 1024) / pageSizeFromAuxv(readFileSync('/proc/self/auxv'))!;
  const writeProc = (pid: number, startTicks: number, children: number[] = [], state = 'S') => {
    mkdirSync(join(proc, String(pid), 'task', String(pid)), { recursive: true });
    writeFileSync(
      join(proc, String(pid), 'stat'),
      `${pid} (python) ${state} 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 100 50 0 0 20 0 1 0 ${startTicks} 1000 ${pages} 0`,
    );
    writeFileSync(join(proc, String(pid), 'status'), `Name:\tpython\nVmRSS:\t  1024 kB\n`);
    writeFileSync(join(proc, String(pid), 'task', String(pid), 'children'), children.map((c) => `${c} `).join(''));
  };
  const collect = (c: ReturnType<typeof createProcessCollector>) => c.collect(new AbortController().signal).then((r) => r[0]);

  it('a pid that now names another process (other start time) is an exit', async () => {
    writeProc(500, 1000, [501]);
    writeProc(501, 1001);
    const c = createProcessCollector({ procRoot: proc, runs: () => [{ runId: 'r', pid: 500 }], gpuProcesses: () => [] });
    expect(await collect(c)).toMatchObject({ alive: true, workerCount: 1, cpuSecondsTotal: 3, residentMemoryBytes: 2048 * 1024 });
    writeProc(500, 9999); // the pid was reused
    expect(await collect(c)).toMatchObject({ alive: false, cpuSecondsTotal: 3 });
  });

  it('a zombie root is an exit; a zombie worker is not a worker', async () => {
    writeProc(600, 1, [601, 602]);
    writeProc(601, 2);
    writeProc(602, 3, [], 'Z');
    const c = createProcessCollector({ procRoot: proc, runs: () => [{ runId: 'r', pid: 600 }], gpuProcesses: () => [] });
    expect(await collect(c)).toMatchObject({ alive: true, workerCount: 1 });
    writeProc(600, 1, [601, 602], 'Z');
    expect((await collect(c)).alive).toBe(false);
  });
});
