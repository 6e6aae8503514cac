// The sampling loop: every interval the collectors run concurrently, each
// against a deadline. One that throws or runs late is marked down with its
// reason and its readings are null; the others go on, and it is asked again
// on the next tick. Per-collector health is kept for /metrics and /v1/host:
// `lastError` is why the collector is down now (null while it is up); every
// up/down change is logged, so a failure that healed itself still leaves a trace.
import { performance } from 'node:perf_hooks';
import { reasonOf, silentLogger, type Collector, type Logger } from './collector.js';
import { createGpuCollector, type GpuCollector, type GpuTimings } from './gpu.js';
import { createHostCollector, readHostInventory } from './host.js';
import { createProcessCollector, type WatchedRun } from './process.js';
import type { CollectorHealth, GpuInventory, GpuReading, HostInventory, HostReading, ProcessTreeReading, Snapshot } from './readings.js';

export type { WatchedRun } from './process.js';

export interface SamplerOptions {
  intervalS: number; // --interval
  gpu: 'auto' | 'on' | 'off'; // --gpu
  nvidiaSmiPath: string; // --nvidia-smi
  procRoot?: string; // default '/proc' (tests may point elsewhere)
  watchedRuns: () => WatchedRun[]; // runs with a pid, asked every tick
  onSnapshot: (s: Snapshot) => void; // called once per tick with everything read
  onProcessExit: (runId: string, pid: number) => void; // the run's root pid disappeared
  /** Collector up/down transitions and GPU detection go here (pino fits). */
  logger?: Logger;
  /** Deadline for one collector's reading; default 80 % of the interval, at most 5 s. */
  collectorTimeoutS?: number;
  /** GPU collector timings (tests shorten them). */
  gpuTimings?: Partial<GpuTimings>;
}

export interface Sampler {
  start(): Promise<void>; // resolves once collectors are set up (gpu auto-detection done)
  stop(): Promise<void>; // kills nvidia-smi children, clears timers
  latest(): Snapshot | undefined;
  health(): CollectorHealth[];
  inventory(): { host: HostInventory | null; gpu: GpuInventory | null };
}

interface Slot<T> {
  collector: Collector<T>;
  health: CollectorHealth;
  inflight: boolean;
  /** Handed to every reading; replaced only once it has been aborted (none is made per tick). */
  ac: AbortController;
  /** Clears `inflight`; made once per slot, not once per reading. */
  settled: () => void;
}

/** How long start() waits for nvidia-smi's first streamed sample before the first tick. */
const FIRST_GPU_SAMPLE_WAIT_MS = 2000;

export function createSampler(opts: SamplerOptions): Sampler {
  if (!(opts.intervalS > 0) || !Number.isFinite(opts.intervalS)) throw new RangeError(`intervalS must be a positive number, got ${opts.intervalS}`);
  const log = opts.logger ?? silentLogger;
  const procRoot = opts.procRoot ?? '/proc';
  const timeoutMs = (opts.collectorTimeoutS ?? Math.min(5, opts.intervalS * 0.8)) * 1000;
  let runs: WatchedRun[] = [];
  let gpu: GpuCollector | null = null;
  let hostInventory: HostInventory | null = null;
  let last: Snapshot | undefined;
  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  let state: 'new' | 'running' | 'stopped' = 'new';
  const exited = new Set<string>();

  const slot = <T>(collector: Collector<T>): Slot<T> => {
    const s: Slot<T> = {
      collector,
      inflight: false,
      health: { name: collector.name, up: false, lastError: null, lastDurationSeconds: null, errorsTotal: 0, lastSuccessTs: null },
      ac: new AbortController(),
      settled: () => (s.inflight = false),
    };
    return s;
  };
  const hostSlot = slot(createHostCollector({ procRoot }));
  const processSlot = slot(createProcessCollector({ procRoot, runs: () => runs, gpuProcesses: () => gpu?.processes() ?? [] }));
  let gpuSlot: Slot<GpuReading[]> | null = null;

  function record(h: CollectorHealth, error: string | null, seconds: number | null): void {
    if (error === null) {
      if (!h.up && h.lastError !== null) log.info(`collector ${h.name} up again`);
      Object.assign(h, { up: true, lastError: null, lastDurationSeconds: seconds, lastSuccessTs: Date.now() / 1000 });
    } else {
      if (h.up || h.lastError !== error) log.warn(`collector ${h.name} down: ${error}`);
      Object.assign(h, { up: false, lastError: error, lastDurationSeconds: seconds, errorsTotal: h.errorsTotal + 1 });
    }
  }

  // One deadline per tick for all the collectors, not a timer, a promise and an AbortController
  // for each: the 1-second path is what the idle sidecar's CPU budget is spent on (docs/footprint.md,
  // "Where the CPU goes"). When it falls, every reading of this tick still under way is aborted and
  // its collector marked down.
  const deadlineError = (): Error => new Error(`no reading within ${timeoutMs / 1000} s`);

  async function run<T>(s: Slot<T>, late: Promise<never>, t0: number): Promise<T | null> {
    if (s.inflight) {
      record(s.health, 'the previous reading has not finished', null);
      return null;
    }
    s.inflight = true;
    const work = s.collector.collect(s.ac.signal);
    work.then(s.settled, s.settled);
    try {
      const value = await Promise.race([work, late]);
      record(s.health, null, (performance.now() - t0) / 1000);
      return value;
    } catch (err) {
      record(s.health, reasonOf(err), (performance.now() - t0) / 1000);
      return null;
    }
  }

  /** The tick's readings against one deadline; each is null where its collector failed or ran late. */
  async function readAll(): Promise<[HostReading | null, GpuReading[] | null, ProcessTreeReading[] | null]> {
    const slots = [hostSlot, gpuSlot, processSlot];
    let expire!: (err: Error) => void;
    const late = new Promise<never>((_, reject) => (expire = reject));
    const deadline = setTimeout(() => {
      for (const s of slots) {
        if (!s?.inflight) continue;
        s.ac.abort();
        s.ac = new AbortController();
      }
      expire(deadlineError());
    }, timeoutMs);
    const t0 = performance.now();
    try {
      return await Promise.all([run(hostSlot, late, t0), gpuSlot ? run(gpuSlot, late, t0) : null, run(processSlot, late, t0)]);
    } finally {
      clearTimeout(deadline);
    }
  }

  function reportExits(snapshot: Snapshot): void {
    const current = new Set(runs.map((r) => `${r.runId}\0${r.pid}`));
    for (const k of exited) if (!current.has(k)) exited.delete(k);
    for (const p of snapshot.processes) {
      const key = `${p.runId}\0${p.pid}`;
      if (p.alive || exited.has(key)) continue;
      exited.add(key);
      try {
        opts.onProcessExit(p.runId, p.pid);
      } catch (err) {
        log.warn(`onProcessExit failed: ${reasonOf(err)}`);
      }
    }
  }

  async function tick(): Promise<void> {
    try {
      runs = opts.watchedRuns();
    } catch (err) {
      log.warn(`watchedRuns failed: ${reasonOf(err)}`);
    }
    const ts = Date.now() / 1000;
    const [host, gpus, processes] = await readAll();
    const snapshot: Snapshot = { ts, host, gpus, processes: processes ?? [], health: health() };
    last = snapshot;
    reportExits(snapshot);
    try {
      opts.onSnapshot(snapshot);
    } catch (err) {
      log.warn(`onSnapshot failed: ${reasonOf(err)}`);
    }
  }

  function schedule(): void {
    if (state !== 'running') return;
    const periodMs = opts.intervalS * 1000;
    timer = setTimeout(() => {
      timer = null;
      ticking = tick().finally(() => {
        ticking = null;
        schedule();
      });
    }, periodMs - (Date.now() % periodMs)); // on the interval's grid, so samples line up across restarts
    timer.unref();
  }

  async function setUpGpu(): Promise<void> {
    if (opts.gpu === 'off') return;
    const g = createGpuCollector({
      nvidiaSmiPath: opts.nvidiaSmiPath,
      intervalS: opts.intervalS,
      wantProcesses: () => runs.length > 0,
      timings: opts.gpuTimings,
      log,
    });
    if (opts.gpu === 'auto') {
      const reason = await g.probe();
      if (reason !== null) {
        log.info(`GPU collection off (--gpu auto): ${reason}`);
        await g.close();
        return;
      }
    } else {
      void g.probe(); // 'on': collect whatever nvidia-smi does; its failures show as the collector's reason
    }
    gpu = g;
    gpuSlot = slot(g);
    g.start();
    await g.firstReading(FIRST_GPU_SAMPLE_WAIT_MS);
  }

  function health(): CollectorHealth[] {
    return [hostSlot, gpuSlot, processSlot].filter((s) => s !== null).map((s) => ({ ...s.health }));
  }

  return {
    async start() {
      if (state !== 'new') return;
      state = 'running';
      const [inventory] = await Promise.all([
        readHostInventory({ procRoot }).catch((err) => {
          log.warn(`host inventory: ${reasonOf(err)}`);
          return null;
        }),
        setUpGpu(),
      ]);
      hostInventory = inventory;
      if (state !== 'running') {
        await gpu?.close(); // stopped while starting: stop() did not see it yet
        return;
      }
      ticking = tick().finally(() => (ticking = null));
      await ticking;
      schedule();
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      if (timer) clearTimeout(timer);
      timer = null;
      await ticking;
      await Promise.all([hostSlot, processSlot, gpuSlot].map((s) => s?.collector.close?.()));
    },
    latest: () => last,
    health,
    inventory: () => ({ host: hostInventory, gpu: gpu?.inventory() ?? null }),
  };
}
