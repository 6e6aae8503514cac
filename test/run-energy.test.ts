// Energy per sample (DESIGN §11): the power of a run's GPUs integrated over its steps, checked
// against sums done by hand on a real capture's power readings: the `load :: dmon` section of
// test/fixtures/nvidia-smi/nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt
// (H100 under gpu_burn, `dmon -c 5`, one row a second): pwr 631, 634, 633, 634, 636 W.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GpuReading, ProcessTreeReading } from '../collectors/readings.js';
import { MAX_HOLD_S, integrate, joulesPerSample, runPower, stepsEnergy, type PowerPoint } from '../server/runs/energy.js';

const CAPTURE = new URL('./fixtures/nvidia-smi/nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', import.meta.url);

/** The capture's load dmon power column, one reading a second from t0. */
export function h100LoadPower(t0: number): PowerPoint[] {
  const lines = readFileSync(CAPTURE, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('# load :: dmon'));
  const rows = lines.slice(at + 5).filter((l) => /^\s+\d/.test(l)).slice(0, 5);
  return rows.map((l, i) => ({ ts: t0 + i, watts: Number(l.trim().split(/\s+/)[1]) }));
}

const T0 = 1_764_300_000;
const trace = h100LoadPower(T0);

it('reads the capture as the comment says', () => {
  expect(trace.map((p) => p.watts)).toEqual([631, 634, 633, 634, 636]);
});

describe('integrate: each reading holds until the next', () => {
  it('over whole seconds is the sum of the readings', () => {
    expect(integrate(trace, T0, T0 + 4)).toBe(631 + 634 + 633 + 634);
  });
  it('across a reading: the parts on each side', () => {
    // 0.5 s at 631 W, then 0.25 s at 634 W.
    expect(integrate(trace, T0 + 0.5, T0 + 1.25)).toBeCloseTo(0.5 * 631 + 0.25 * 634, 3);
  });
  it('past the last reading holds it, within MAX_HOLD_S', () => {
    expect(integrate(trace, T0 + 4, T0 + 6)).toBe(2 * 636);
    expect(integrate(trace, T0 + 4, T0 + 4 + MAX_HOLD_S + 1)).toBeNull();
  });
  it('before the first reading is unknown', () => {
    expect(integrate(trace, T0 - 0.1, T0 + 1)).toBeNull();
  });
});

describe('stepsEnergy and joules per sample', () => {
  const step = (end: number, durationS: number, samples: number, rank = 0, worldSize = 1) => ({ ts: T0 + end, durationS, samples, rank, worldSize });

  it('sums rank 0 steps, counts the job\'s samples, and leaves out steps it cannot cover', () => {
    const steps = [
      step(0.8, 0.8, 64), // 0.8 s at 631 W = 504.8 J
      step(1.6, 0.8, 64), // 0.2 s at 631 + 0.6 s at 634 = 126.2 + 380.4 = 506.6 J
      step(1.6, 0.8, 64, 1), // another rank's copy of the same step: not counted again
      step(3.5, 1.5, 64, 0, 2), // 1 s at 633 + 0.5 s at 634 = 950 J, 128 samples for the job
      step(0.05, 0.1, 64), // starts before the first reading: left out
    ];
    const e = stepsEnergy(trace, steps);
    expect(e.steps).toBe(3);
    expect(e.samples).toBe(64 + 64 + 128);
    // Unix-second timestamps near 1.76e9 resolve ~0.2 µs: a milli-joule is as close as they allow.
    expect(e.joules).toBeCloseTo(504.8 + 506.6 + 950, 3);
    expect(joulesPerSample(e)).toBeCloseTo((504.8 + 506.6 + 950) / 256, 5);
    expect(joulesPerSample({ joules: 0, samples: 0 })).toBeNull();
  });
});

describe('runPower: the GPUs the run holds memory on', () => {
  const gpu = (index: number, powerDrawWatts: number | null) => ({ index, powerDrawWatts }) as GpuReading;
  const proc = (gpuMemoryBytes: Record<string, number>) => ({ gpuMemoryBytes }) as ProcessTreeReading;
  it('sums only those, and is null with none', () => {
    const gpus = [gpu(0, 631), gpu(1, 118), gpu(2, null)];
    expect(runPower(gpus, proc({ 0: 1e9, 2: 1e9 }))).toEqual({ watts: 631, gpus: [0] });
    expect(runPower(gpus, proc({ 0: 1e9, 1: 5 }))).toEqual({ watts: 749, gpus: [0, 1] });
    expect(runPower(gpus, proc({}))).toBeNull();
    expect(runPower(null, proc({ 0: 1 }))).toBeNull();
  });
});
