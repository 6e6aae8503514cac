// A run's energy (DESIGN §11): the power drawn by its GPUs, integrated over its steps. Pure.
//
// Power is what nvidia-smi's `power.draw` gives each sampler tick; between ticks it is held
// (zero-order hold: each reading stands until the next), the same convention as summing
// power × sample interval. Only the GPUs the run's processes hold memory on count (the run's
// GPU attribution); a run with none has no energy (null), not zero. NVML's total-energy
// counter (nvmlDeviceGetTotalEnergyConsumption, millijoules) would be exact, but no
// `nvidia-smi --query-gpu` field of the drivers in our captures (R418–R610) prints it, so
// the sidecar integrates; scripts/gpu-check compares the two where NVML is at hand.
import type { GpuReading, ProcessTreeReading } from '../../collectors/readings.js';

/** The run's GPUs' summed power at one tick. */
export interface PowerPoint {
  ts: number; // unix seconds
  watts: number;
}

/**
 * A reading older than this does not stand for the power now: a step that reaches past it
 * (the GPU collector down, a gap in sampling) is left out of the energy and of its samples,
 * so joules per sample stays a ratio of like with like.
 */
export const MAX_HOLD_S = 10;

/** Power points kept per run: ~10 min at 1 s sampling, far more than a step report lags. */
export const POWER_HISTORY = 600;

/** The run's GPUs (those its processes hold memory on) and their summed power; null with none or no power reading. */
export function runPower(gpus: readonly GpuReading[] | null, process: ProcessTreeReading | null): { watts: number; gpus: number[] } | null {
  if (!gpus || !process) return null;
  const held = new Set(Object.entries(process.gpuMemoryBytes).filter(([, b]) => b > 0).map(([i]) => Number(i)));
  const mine = gpus.filter((g) => held.has(g.index) && g.powerDrawWatts !== null);
  if (mine.length === 0) return null;
  return { watts: mine.reduce((a, g) => a + (g.powerDrawWatts as number), 0), gpus: mine.map((g) => g.index) };
}

/**
 * Joules over [from, to] from `trace` (oldest first), each reading held until the next; null when
 * the interval starts before the first reading or crosses a gap longer than MAX_HOLD_S.
 */
export function integrate(trace: readonly PowerPoint[], from: number, to: number): number | null {
  if (to < from) return null;
  // The reading in force at `from`: the last one at or before it.
  let i = -1;
  for (let k = trace.length - 1; k >= 0; k--) {
    if (trace[k].ts <= from) {
      i = k;
      break;
    }
  }
  if (i < 0) return null;
  let joules = 0;
  let t = from;
  for (; i < trace.length && t < to; i++) {
    const until = Math.min(to, trace[i + 1]?.ts ?? to);
    if (until - trace[i].ts > MAX_HOLD_S) return null;
    joules += trace[i].watts * (until - t);
    t = until;
  }
  return joules;
}

export interface StepSpan {
  ts: number; // when the step ended (unix seconds)
  durationS: number;
  samples: number;
  worldSize: number;
  rank: number;
}

/**
 * Energy and samples of the steps that `trace` covers: rank 0's steps (every rank shares the step's
 * time; the run's power already sums the GPUs of the node's ranks), each step's samples counted for
 * the whole job (samples × world size), as samples per second are (tuner/throughput.ts).
 */
export function stepsEnergy(trace: readonly PowerPoint[], steps: readonly StepSpan[]): { joules: number; samples: number; steps: number } {
  let joules = 0;
  let samples = 0;
  let n = 0;
  for (const s of steps) {
    if (s.rank !== 0) continue;
    const j = integrate(trace, s.ts - s.durationS, s.ts);
    if (j === null) continue;
    joules += j;
    samples += s.samples * s.worldSize;
    n += 1;
  }
  return { joules, samples, steps: n };
}

/** Joules per sample, null until a sample is counted. */
export function joulesPerSample(e: { joules: number; samples: number } | null): number | null {
  return e && e.samples > 0 ? e.joules / e.samples : null;
}
