// The GPU collector, speaking to nvidia-smi directly:
//   readings  — one long-lived `--query-gpu=… --format=csv,noheader,nounits -lms <interval>`
//               stream, parsed line by line; collect() hands out the latest line per GPU;
//   inventory — `-q -x` at start and every few minutes, in the background;
//   processes — `--query-compute-apps` every 10 s, only while runs are watched
//               (each call costs nvidia-smi's NVML start-up, tens of ms of CPU);
//   activity  — `dmon --gpm-metrics …` where the GPU has GPM (gpu-gpm-stream.ts), merged into
//               the readings; absent, never zero, where it has not.
// collect() never waits on nvidia-smi: a hung or failing nvidia-smi shows as a
// thrown reason, never as a stalled sampler.
import { reasonOf, silentLogger, type Collector, type Logger } from './collector.js';
import { COMPUTE_APPS_FIELDS, QUERY_GPU_FIELDS, parseComputeAppsCsv, parseQueryGpuLine } from './gpu-csv.js';
import { createGpmStream, type GpmStatus } from './gpu-gpm-stream.js';
import { createLineStream } from './gpu-stream.js';
import { parseNvidiaSmiXml } from './gpu-xml.js';
import { commandLabel, runNvidiaSmi } from './nvidia-smi.js';
import type { GpuInventory, GpuProcess, GpuReading } from './readings.js';

export interface GpuTimings {
  /** Deadline for one-shot commands (`-q -x`, `--query-compute-apps`). */
  commandTimeoutS: number;
  inventoryRefreshS: number;
  /** How soon to try `-q -x` again while there is no inventory. */
  inventoryRetryS: number;
  processesRefreshS: number;
  /** A GPU whose last stream line is older than this is not reported. */
  staleAfterS: number;
  /** A stream that printed nothing usable for this long is killed and restarted. */
  hangAfterS: number;
  backoffInitialS: number;
  backoffMaxS: number;
  /** Stop `dmon --gpm-metrics` when it gives no GPM value for this long. */
  gpmGiveUpS: number;
  /** After GPM was found unsupported, try dmon again this much later. */
  gpmRetryS: number;
}

export function defaultGpuTimings(intervalS: number): GpuTimings {
  return {
    commandTimeoutS: 10,
    // `-q -x` of 8 GPUs is ~230 KB of XML: 90–165 ms of the sidecar's CPU to parse and a few MB of
    // resident memory each time (docs/footprint.md, "The inventory"). What it holds (GPUs, driver,
    // MIG devices) changes with a driver reload or a GPU reset, which end the query stream, or
    // with a GPU the stream shows and the inventory lacks: either reads it again at once
    // (inventoryStale); the timer is the backstop (MIG instances made without a reset).
    inventoryRefreshS: 3600,
    inventoryRetryS: 30,
    // Each run spawns nvidia-smi (~2 ms of the sidecar's CPU to fork at its size): every 10 s
    // rather than 5 s halves that share of the idle budget (DESIGN §7, docs/footprint.md).
    processesRefreshS: Math.max(10, intervalS),
    staleAfterS: Math.max(3, 3 * intervalS),
    hangAfterS: Math.max(10, 5 * intervalS),
    backoffInitialS: 1,
    backoffMaxS: 60,
    gpmGiveUpS: Math.max(30, 10 * intervalS),
    gpmRetryS: 300,
  };
}

export interface GpuCollectorOptions {
  nvidiaSmiPath: string;
  intervalS: number;
  /** Whether per-process GPU memory is wanted now (runs are watched). */
  wantProcesses: () => boolean;
  timings?: Partial<GpuTimings>;
  /** Read GPM activity with `dmon --gpm-metrics` (default true; off where no GPU has it). */
  gpm?: boolean;
  log?: Logger;
}

export interface GpuCollector extends Collector<GpuReading[]> {
  /** Run `-q -x` once: null when nvidia-smi answered (the inventory is then set), else the reason. */
  probe(): Promise<string | null>;
  /** Start the query stream. */
  start(): void;
  /** Resolves at the stream's first usable sample, when it fails, or after `timeoutMs`. */
  firstReading(timeoutMs: number): Promise<void>;
  inventory(): GpuInventory | null;
  /** The latest `--query-compute-apps` result. */
  processes(): readonly GpuProcess[];
  /** Whether GPM activity is read, and why not. */
  gpmStatus(): GpmStatus;
  close(): Promise<void>;
}

export function createGpuCollector(opts: GpuCollectorOptions): GpuCollector {
  const t: GpuTimings = { ...defaultGpuTimings(opts.intervalS), ...opts.timings };
  const log = opts.log ?? silentLogger;
  const path = opts.nvidiaSmiPath;
  const latest = new Map<number, { reading: GpuReading; at: number }>();
  /** Why the last stream line was unusable; null once a usable one came. */
  let parseError: string | null = null;
  let inventory: GpuInventory | null = null;
  let inventoryError: string | null = null;
  let inventoryAt = 0;
  let inventoryBusy = false;
  /** Read the inventory again at the next tick (at most every inventoryRetryS): the stream restarted or shows a GPU it lacks. */
  let inventoryStale = false;
  let inventoryUuids = new Set<string>();
  let procs: readonly GpuProcess[] = [];
  let procsAt = 0;
  let procsBusy = false;
  let started = false;
  const closing = new AbortController();
  let firstWaiters: Array<() => void> = [];
  const wake = (): void => {
    firstWaiters.forEach((resolve) => resolve());
    firstWaiters = [];
  };

  const streamArgs = [
    `--query-gpu=${QUERY_GPU_FIELDS.join(',')}`,
    '--format=csv,noheader,nounits',
    '-lms',
    String(Math.max(100, Math.round(opts.intervalS * 1000))),
  ];
  const stream = createLineStream({
    path,
    args: streamArgs,
    label: commandLabel(streamArgs),
    hangAfterMs: t.hangAfterS * 1000,
    backoff: { initialMs: t.backoffInitialS * 1000, maxMs: t.backoffMaxS * 1000 },
    onLine(line) {
      if (line.trim() === '') return false;
      try {
        const reading = parseQueryGpuLine(line);
        latest.set(reading.index, { reading, at: Date.now() });
        if (inventory && !inventoryUuids.has(reading.uuid)) inventoryStale = true;
        parseError = null;
        wake();
        return true;
      } catch (err) {
        parseError = reasonOf(err);
        return false;
      }
    },
    onEnd() {
      inventoryStale = true; // a driver reload or a GPU reset ends the stream too
      wake();
    },
  });

  const gpm = opts.gpm === false ? null : createGpmStream({
    path,
    intervalS: opts.intervalS,
    giveUpS: t.gpmGiveUpS,
    retryS: t.gpmRetryS,
    staleAfterS: Math.max(t.staleAfterS, 3 * Math.max(1, Math.round(opts.intervalS))),
    log,
  });

  async function refreshInventory(): Promise<string | null> {
    inventoryBusy = true;
    inventoryAt = Date.now();
    inventoryStale = false;
    try {
      const xml = await runNvidiaSmi(path, ['-q', '-x'], { timeoutMs: t.commandTimeoutS * 1000, signal: closing.signal });
      inventory = parseNvidiaSmiXml(xml).inventory;
      inventoryUuids = new Set(inventory.gpus.map((g) => g.uuid));
      if (inventoryError) log.info(`gpu inventory read again (${inventory.gpus.length} GPUs)`);
      inventoryError = null;
      return null;
    } catch (err) {
      const reason = reasonOf(err);
      if (closing.signal.aborted) return reason;
      if (inventoryError !== reason) log.warn(`gpu inventory: ${reason}`);
      inventoryError = reason;
      return reason;
    } finally {
      inventoryBusy = false;
    }
  }

  function indexByUuid(): Map<string, number> {
    const m = new Map<string, number>();
    for (const g of inventory?.gpus ?? []) m.set(g.uuid, g.index);
    for (const { reading } of latest.values()) m.set(reading.uuid, reading.index);
    return m;
  }

  async function refreshProcesses(): Promise<void> {
    procsBusy = true;
    procsAt = Date.now();
    try {
      const csv = await runNvidiaSmi(path, [`--query-compute-apps=${COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits'], {
        timeoutMs: t.commandTimeoutS * 1000,
        signal: closing.signal,
      });
      procs = parseComputeAppsCsv(csv, indexByUuid());
    } catch (err) {
      procs = []; // stale attribution is worse than none
      if (!closing.signal.aborted) log.warn(`gpu processes: ${reasonOf(err)}`);
    } finally {
      procsBusy = false;
    }
  }

  /** Background refreshes that are due; never awaited on the sampling path. */
  function kickRefreshes(now: number): void {
    const inventoryEvery = (inventory && !inventoryStale ? t.inventoryRefreshS : t.inventoryRetryS) * 1000;
    if (!inventoryBusy && now - inventoryAt >= inventoryEvery) void refreshInventory();
    if (opts.wantProcesses()) {
      if (!procsBusy && now - procsAt >= t.processesRefreshS * 1000) void refreshProcesses();
    } else if (procs.length > 0) {
      procs = [];
    }
  }

  function whyNoData(): string {
    const s = stream.status();
    // An ended process's exit says more than the last line it printed.
    if (!s.running && s.lastError) return s.lastError;
    const since = s.lastGoodAt === null ? 'since it started' : `for ${((Date.now() - s.lastGoodAt) / 1000).toFixed(1)} s`;
    return parseError ?? s.lastError ?? `no output from nvidia-smi ${since}`;
  }

  return {
    name: 'gpu',
    probe: refreshInventory,
    start() {
      started = true;
      stream.start();
      gpm?.start();
    },
    async collect() {
      if (!started) throw new Error('gpu collector not started');
      const now = Date.now();
      kickRefreshes(now);
      const fresh = [...latest.values()].filter((e) => now - e.at <= t.staleAfterS * 1000);
      if (fresh.length === 0) throw new Error(whyNoData());
      return fresh.map((e) => {
        const activity = gpm?.activity(e.reading.index, now);
        return activity ? { ...e.reading, activity } : e.reading;
      }).sort((a, b) => a.index - b.index);
    },
    firstReading(timeoutMs) {
      if (latest.size > 0) return Promise.resolve();
      return new Promise((resolve) => {
        firstWaiters.push(resolve);
        setTimeout(resolve, timeoutMs).unref();
      });
    },
    inventory: () => inventory,
    processes: () => procs,
    gpmStatus: () => gpm?.status() ?? { supported: false, reason: 'GPM reading is off' },
    async close() {
      started = false;
      closing.abort();
      await Promise.all([stream.stop(), gpm?.stop()]);
    },
  };
}
