// The sampler: collectors run together each tick, a failing one is marked down
// with its reason while the others go on, and the loop never stalls — with the
// stand-in nvidia-smi, and a host collector stuck reading a FIFO.
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CollectorHealth, Snapshot } from '../collectors/readings.js';
import { createSampler, type Sampler, type SamplerOptions } from '../collectors/sampler.js';
import { waitUntil } from './helpers/wait.js';

const STAND_IN = fileURLToPath(new URL('./bin/nvidia-smi', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-sampler-'));
const controlFile = join(dir, 'control.json');
const logFile = join(dir, 'argv.log');
process.env.FAKE_NVIDIA_SMI_CONTROL = controlFile;
process.env.FAKE_NVIDIA_SMI_LOG = logFile;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const setMode = (mode: string) => writeFileSync(controlFile, JSON.stringify({ mode }));
const byName = (hs: CollectorHealth[]) => Object.fromEntries(hs.map((h) => [h.name, h]));

const waitFor = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 8000): Promise<T> =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 25 });

let sampler: Sampler | null = null;
let snapshots: Snapshot[] = [];
function start(opts: Partial<SamplerOptions>): Promise<Sampler> {
  snapshots = [];
  sampler = createSampler({
    intervalS: 0.2,
    gpu: 'on',
    nvidiaSmiPath: STAND_IN,
    watchedRuns: () => [],
    onSnapshot: (s) => snapshots.push(s),
    onProcessExit: () => {},
    gpuTimings: { commandTimeoutS: 2, staleAfterS: 0.6, hangAfterS: 1.5, backoffInitialS: 0.1, backoffMaxS: 0.4 },
    ...opts,
  });
  return sampler.start().then(() => sampler!);
}
beforeEach(() => {
  setMode('ok');
  writeFileSync(logFile, '');
});
afterEach(async () => {
  await sampler?.stop();
  sampler = null;
});

describe('sampler', () => {
  it('--gpu on, nvidia-smi working: host, 8 GPUs and health in every snapshot', async () => {
    const s = await start({});
    expect(s.latest()).toBeDefined();
    // At a 0.2 s interval a loaded machine can miss the first tick's deadline; the next one catches up.
    const first = await waitFor('a snapshot with host and GPUs', () => snapshots.find((x) => x.host && x.gpus?.length === 8));
    expect(first.host?.memoryTotalBytes).toBeGreaterThan(0);
    expect(first.gpus).toHaveLength(8);
    expect(first.processes).toEqual([]);
    expect(byName(first.health)).toMatchObject({ host: { up: true }, gpu: { up: true }, process: { up: true } });
    await waitFor('three more snapshots', () => (snapshots.length >= 4 ? true : undefined));
    expect(snapshots.at(-1)!.host!.cpuUtilizationRatio).not.toBeNull(); // a delta now exists
    expect(s.inventory().gpu?.gpus).toHaveLength(8);
    expect(s.inventory().host?.cpuCores).toBeGreaterThan(0);
  });

  it('--gpu auto without nvidia-smi: no GPU collector, the rest runs', async () => {
    const s = await start({ gpu: 'auto', nvidiaSmiPath: join(dir, 'missing') });
    expect(s.health().map((h) => h.name)).toEqual(['host', 'process']);
    expect(s.latest()!.gpus).toBeNull();
    expect(s.inventory().gpu).toBeNull();
  });

  it('--gpu auto with nvidia-smi answering: GPUs collected', async () => {
    const s = await start({ gpu: 'auto' });
    expect(s.latest()!.gpus).toHaveLength(8);
  });

  it('--gpu off: nvidia-smi is never run', async () => {
    const s = await start({ gpu: 'off' });
    await waitFor('a few snapshots', () => (snapshots.length >= 3 ? true : undefined));
    expect(s.health().map((h) => h.name)).toEqual(['host', 'process']);
    expect(readFileSync(logFile, 'utf8')).toBe('');
  });

  it('--gpu on without nvidia-smi: the GPU collector is down with the reason, the others up', async () => {
    const s = await start({ nvidiaSmiPath: join(dir, 'missing') });
    await waitFor('two failed GPU readings', () => (byName(s.health()).gpu.errorsTotal >= 2 ? true : undefined));
    const h = byName(s.health());
    expect(h.gpu).toMatchObject({ up: false, lastSuccessTs: null });
    expect(h.gpu.lastError).toMatch(/nvidia-smi not found at .* \(ENOENT\)/);
    expect(h.host.up).toBe(true);
    expect(s.latest()!.gpus).toBeNull();
    expect(s.latest()!.host).not.toBeNull();
  });

  it('never stalls while nvidia-smi hangs, and the GPU collector comes back with it', async () => {
    setMode('hang');
    const s = await start({});
    const t0 = Date.now();
    const n0 = snapshots.length;
    await waitFor('GPU down', () => (byName(s.health()).gpu.up ? undefined : true));
    await new Promise((r) => setTimeout(r, 1000));
    const ticks = snapshots.length - n0;
    expect(ticks).toBeGreaterThanOrEqual(Math.floor((Date.now() - t0) / 200) - 2); // one per 0.2 s interval
    expect(byName(s.health()).gpu.lastError).toMatch(/no output from nvidia-smi|printed nothing usable/);
    expect(snapshots.at(-1)!.host).not.toBeNull();
    setMode('ok');
    await waitFor('GPU up again', () => (byName(s.health()).gpu.up ? true : undefined));
    // Health turns up when the stream's first reading arrives; the snapshot that carries it is the
    // next tick's (on a loaded machine, not always there yet when health is read).
    await waitFor('a snapshot with the GPUs', () => (s.latest()?.gpus ? true : undefined));
    expect(s.latest()!.gpus).toHaveLength(8);
    expect(byName(s.health()).gpu.lastError).toBeNull();
  });

  it('a collector that does not answer in time is down, and the others go on', async () => {
    // A proc root whose `stat` is a FIFO nobody writes: reading it blocks.
    const proc = join(dir, 'proc');
    mkdirSync(join(proc, 'net'), { recursive: true });
    for (const f of ['meminfo', 'diskstats', 'net/dev']) copyFileSync(join('/proc', f), join(proc, f));
    execFileSync('mkfifo', [join(proc, 'stat')]);
    try {
      const s = await start({ procRoot: proc, collectorTimeoutS: 0.1 });
      expect(byName(s.health()).host).toMatchObject({ up: false, lastError: 'no reading within 0.1 s' });
      await waitFor('a later tick', () => (snapshots.length >= 3 ? true : undefined));
      expect(byName(s.health()).host.lastError).toBe('the previous reading has not finished');
      expect(byName(s.health()).gpu.up).toBe(true);
      expect(snapshots.at(-1)!.gpus).toHaveLength(8);
    } finally {
      closeSync(openSync(join(proc, 'stat'), 'w')); // let the stuck read finish
    }
  });

  it('stop() ends the nvidia-smi children and the ticks', async () => {
    const s = await start({});
    await s.stop();
    const pids = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).pid as number);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('no stand-in left', () => (pids.some(alive) ? undefined : true));
    const n = snapshots.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(snapshots.length).toBe(n);
  });
});
