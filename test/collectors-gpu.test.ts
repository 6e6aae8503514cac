// The GPU collector against the stand-in nvidia-smi (test/bin/nvidia-smi):
// what it reads when nvidia-smi works, and what it says when nvidia-smi is
// missing, hangs, exits, prints garbage or writes to stderr — and that it
// recovers when nvidia-smi does. The stand-in's behaviour is switched through
// its control file while the collector runs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUERY_GPU_FIELDS } from '../collectors/gpu-csv.js';
import { parseNvidiaSmiXml } from '../collectors/gpu-xml.js';
import { createGpuCollector, type GpuCollector, type GpuTimings } from '../collectors/gpu.js';
import { waitUntil } from './helpers/wait.js';

const STAND_IN = fileURLToPath(new URL('./bin/nvidia-smi', import.meta.url));
const FIXTURE = readFileSync(new URL('./fixtures/nvidia-smi/datakit-gtx-8card.xml', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-gpu-'));
const controlFile = join(dir, 'control.json');
const logFile = join(dir, 'argv.log');
process.env.FAKE_NVIDIA_SMI_CONTROL = controlFile;
process.env.FAKE_NVIDIA_SMI_LOG = logFile;
// A stand-in nvidia-smi that was just killed may still be writing its log here: rmSync retries
// ENOTEMPTY/EBUSY (maxRetries) instead of failing the file on that race.
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

const FAST: Partial<GpuTimings> = {
  commandTimeoutS: 2, staleAfterS: 0.6, hangAfterS: 1.5, backoffInitialS: 0.1, backoffMaxS: 0.4, processesRefreshS: 0.2, inventoryRetryS: 0.3,
};
const setMode = (mode: string, apps: unknown[] = []) => writeFileSync(controlFile, JSON.stringify({ mode, apps }));

const waitFor = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 8000): Promise<T> =>
  waitUntil(what, probe, { timeoutMs, intervalMs: 50 });

/** The collector's verdict now: its readings, or the reason it gives. */
const outcome = (g: GpuCollector) => g.collect(new AbortController().signal).then((r) => ({ ok: r }), (e: Error) => ({ error: e.message }));
const errorMatching = (g: GpuCollector, re: RegExp) => waitFor(`an error matching ${re}`, async () => {
  const o = await outcome(g);
  return 'error' in o && re.test(o.error) ? o.error : undefined;
});
const readingsAgain = (g: GpuCollector) => waitFor('readings', async () => {
  const o = await outcome(g);
  return 'ok' in o ? o.ok : undefined;
});

let gpu: GpuCollector | null = null;
function collector(opts: { path?: string; wantProcesses?: boolean } = {}): GpuCollector {
  gpu = createGpuCollector({ nvidiaSmiPath: opts.path ?? STAND_IN, intervalS: 0.2, wantProcesses: () => opts.wantProcesses ?? false, timings: FAST });
  return gpu;
}
beforeEach(() => {
  setMode('ok');
  writeFileSync(logFile, '');
});
afterEach(async () => {
  await gpu?.close();
  gpu = null;
});

describe('gpu collector, nvidia-smi working', () => {
  it('streams the 8 GPUs, the same values the XML holds, and takes the inventory from -q -x', async () => {
    const g = collector();
    expect(await g.probe()).toBeNull();
    expect(g.inventory()?.gpus).toHaveLength(8);
    expect(g.inventory()?.driverVersion).toBe('460.73.01');
    g.start();
    await g.firstReading(5000);
    const readings = await readingsAgain(g);
    expect(readings).toHaveLength(8);
    expect(readings).toEqual(parseNvidiaSmiXml(FIXTURE).readings);
  });

  it('reads the inventory again when the stream restarts showing a GPU it lacks, not on a 5-minute timer', async () => {
    const g = collector();
    await g.probe();
    expect(g.inventory()?.gpus).toHaveLength(8);
    g.start();
    await g.firstReading(5000);
    await new Promise((r) => setTimeout(r, 600)); // ticks: nothing new, nothing read again
    const inventoryReads = () => readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => JSON.parse(l).argv[0] === '-q').length;
    for (let i = 0; i < 3; i++) await outcome(g);
    expect(inventoryReads()).toBe(1);
    // Another card now answers (as after a GPU swap and driver reload): the stream ends and starts again.
    process.env.FAKE_NVIDIA_SMI_FIXTURE = 'telegraf-tesla-t4.xml';
    try {
      const stream = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; argv: string[] })
        .find((x) => x.argv.includes('-lms'))!;
      process.kill(stream.pid, 'SIGKILL');
      const inv = await waitFor('the new inventory', async () => {
        await outcome(g); // the tick kicks the refresh
        return g.inventory()?.gpus.length === 1 ? g.inventory()! : undefined;
      });
      expect(inv.gpus[0].name).toMatch(/T4/);
      // The new stream's readings follow (the old card's age out after staleAfterS).
      await waitFor('readings of the new card alone', async () => {
        const o = await outcome(g);
        return 'ok' in o && o.ok.length === 1 && o.ok[0].uuid === inv.gpus[0].uuid ? true : undefined;
      });
    } finally {
      delete process.env.FAKE_NVIDIA_SMI_FIXTURE;
    }
  });

  it('runs nvidia-smi with argument lists: one long-lived -lms stream, and dmon once for GPM', async () => {
    const g = collector();
    await g.probe();
    g.start();
    await g.firstReading(5000);
    await new Promise((r) => setTimeout(r, 600)); // several samples
    const starts = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).argv as string[]);
    expect(starts[0]).toEqual(['-q', '-x']);
    // The stream and dmon start together; their order in the log is the OS's.
    expect(starts.slice(1).sort()).toEqual([
      [`--query-gpu=${QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', '200'],
      ['dmon', '--gpm-metrics', '2,3,5,10,12', '-d', '1'],
    ].sort());
  });

  it('asks for compute processes only while they are wanted', async () => {
    setMode('ok', [{ gpu: 2, pid: 4242, usedMiB: 1000, name: 'python' }]);
    const g = collector({ wantProcesses: true });
    await g.probe();
    g.start();
    const procs = await waitFor('compute processes', async () => {
      await outcome(g);
      return g.processes().length > 0 ? g.processes() : undefined;
    });
    expect(procs).toHaveLength(9); // pid 37305 on all 8 GPUs, and ours
    expect(procs.find((p) => p.pid === 4242)).toEqual({
      gpuIndex: 2, gpuUuid: 'GPU-8f75e71c-23dd-a060-d997-4caf592954db', pid: 4242, processName: 'python', usedMemoryBytes: 1000 * 1024 * 1024,
    });
    const none = collector({ wantProcesses: false });
    none.start();
    await readingsAgain(none);
    expect(none.processes()).toEqual([]);
  });

  it('stays up while nvidia-smi writes warnings to stderr', async () => {
    setMode('stderr');
    const g = collector();
    expect(await g.probe()).toBeNull();
    g.start();
    await g.firstReading(5000);
    for (let i = 0; i < 5; i++) {
      expect((await readingsAgain(g)).length).toBe(8);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});

describe('gpu collector, GPM activity', () => {
  afterEach(() => {
    delete process.env.FAKE_NVIDIA_SMI_GPM;
    delete process.env.FAKE_NVIDIA_SMI_DMON_MS;
  });

  it('marks GPM absent where dmon has none (the stand-in refuses it), stops asking, and the readings go on', async () => {
    const g = collector();
    await g.probe();
    g.start();
    const status = await waitFor('GPM judged', () => (g.gpmStatus().supported === null ? undefined : g.gpmStatus()));
    expect(status).toEqual({ supported: false, reason: expect.stringMatching(/^nvidia-smi dmon --gpm-metrics 2,3,5,10,12 -d 1 exited with code 2: Invalid combination/) });
    for (let i = 0; i < 5; i++) {
      const readings = await readingsAgain(g);
      expect(readings).toHaveLength(8);
      for (const r of readings) expect(r).not.toHaveProperty('activity');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Not respawned every back-off period: once, until the retry (minutes later).
    const dmons = readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => l.includes('"dmon"'));
    expect(dmons).toHaveLength(1);
  });

  it('merges dmon\'s GPM ratios into the readings of the GPUs that have them, and only those', async () => {
    process.env.FAKE_NVIDIA_SMI_GPM = 'gpm/dmon-gpm-documented.txt';
    process.env.FAKE_NVIDIA_SMI_DMON_MS = '100';
    const g = collector();
    await g.probe();
    g.start();
    const readings = await waitFor('GPM activity', async () => {
      const o = await outcome(g);
      return 'ok' in o && o.ok[0].activity ? o.ok : undefined;
    });
    expect(g.gpmStatus()).toEqual({ supported: true, reason: null });
    expect(readings).toHaveLength(8);
    expect([0.93, 0.94]).toContain(readings[0].activity?.smActiveRatio);
    expect([0.02, 0.01]).toContain(readings[0].activity?.tensorActiveRatio);
    expect(readings[1].activity).toEqual({ smActiveRatio: 0, smOccupancyRatio: 0, tensorActiveRatio: 0, dramActiveRatio: 0, fp32ActiveRatio: 0 });
    for (const r of readings.slice(2)) expect(r).not.toHaveProperty('activity');
    // The query stream's values are untouched.
    expect(readings.map(({ activity: _, ...r }) => r)).toEqual(parseNvidiaSmiXml(FIXTURE).readings);
  });
});

describe('gpu collector, nvidia-smi failing', () => {
  it('says nvidia-smi is missing', async () => {
    const g = collector({ path: join(dir, 'no-such-nvidia-smi') });
    expect(await g.probe()).toMatch(/nvidia-smi not found at ".*no-such-nvidia-smi" \(ENOENT\)/);
    g.start();
    await errorMatching(g, /not found .*ENOENT/);
  });

  it.each([
    ['hang', /-q -x did not answer within 2 s; killed it/],
    ['exit', /nvidia-smi -q -x exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/],
    ['garbage', /malformed XML/],
  ])('probe: %s', async (mode, reason) => {
    setMode(mode);
    expect(await collector().probe()).toMatch(reason);
  });

  it.each([
    ['exit', /nvidia-smi --query-gpu=… -lms 200 exited with code 9: NVIDIA-SMI has failed/],
    ['garbage', /unexpected nvidia-smi output/],
    ['hang', /no output from nvidia-smi for|printed nothing usable for/],
  ])('stream: %s is reported with its reason, and collection recovers', async (mode, reason) => {
    const g = collector();
    await g.probe();
    g.start();
    expect(await readingsAgain(g)).toHaveLength(8);
    setMode(mode);
    await errorMatching(g, reason);
    setMode('ok');
    expect(await readingsAgain(g)).toHaveLength(8);
  });

  it('kills a hung stream and starts a new one', async () => {
    const g = collector();
    g.start();
    await readingsAgain(g);
    setMode('hang');
    await errorMatching(g, /printed nothing usable for 1\.\d s; killed it/);
    const streams = () => readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('--query-gpu')).length;
    await waitFor('a restarted stream', () => (streams() >= 2 ? true : undefined));
    setMode('ok');
    expect(await readingsAgain(g)).toHaveLength(8);
  });

  it('keeps a partial failure visible: the inventory retries until nvidia-smi answers', async () => {
    setMode('exit');
    const g = collector();
    expect(await g.probe()).toMatch(/exited with code 9/);
    g.start();
    await errorMatching(g, /exited with code 9/);
    expect(g.inventory()).toBeNull();
    setMode('ok');
    await readingsAgain(g);
    await waitFor('the inventory', async () => {
      await outcome(g);
      return g.inventory() ?? undefined;
    });
  });
});
