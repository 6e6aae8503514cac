// scripts/gpu-check as CI runs it: with no GPU (it says so and exits 0), and against the stand-in
// nvidia-smi (no training job without PyTorch+CUDA; the collectors checked against nvidia-smi's
// own stream), with and without dmon GPM rows. compare() itself is judged on figures that must fail.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, mismatches, type GpuFigures } from '../bench/gpu-check/compare.js';
import { REPO_ROOT } from '../bench/lib/sidecar-process.js';
import { findBinary } from './helpers/prometheus-tools.js';

const SCRIPT = join(REPO_ROOT, 'scripts/gpu-check');
const STAND_IN = join(REPO_ROOT, 'test/bin/nvidia-smi');
const dir = mkdtempSync(join(tmpdir(), 'trainpilot-gpu-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

function gpuCheck(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(SCRIPT, args, { env, timeout: 120_000, encoding: 'utf8' }, (e, stdout, stderr) => res({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

describe('scripts/gpu-check', () => {
  it('without a GPU: says so and exits 0 (PATH holds only what the script needs, no nvidia-smi)', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const tool of ['bash', 'dirname', 'node']) symlinkSync(findBinary(tool) ?? process.execPath, join(bin, tool));
    const r = await gpuCheck([], { PATH: bin, HOME: process.env.HOME });
    expect(r.out).toBe('gpu-check: no NVIDIA GPU here: nvidia-smi is not on PATH (nor given with --nvidia-smi). Nothing to check.\n');
    expect(r.code).toBe(0);
  });

  it('against the stand-in: every collector figure agrees with nvidia-smi\'s own, GPM absent on both sides', async () => {
    const out = join(dir, 'standin');
    const r = await gpuCheck(['--nvidia-smi', STAND_IN, '--out', out, '--python', join(dir, 'no-such-python')]);
    expect(r.out).toContain('no training job; checking the collectors alone');
    // datakit-gtx-8card.xml, GPU 0: 97 %, 31689 MiB of 32510 MiB, 232.80 W.
    expect(r.out).toMatch(/GPU 0 power +232\.8 W +232\.8 W +± 34\.9 W +ok/);
    expect(r.out).toMatch(/GPU 0 GPM +absent +unsupported \(dmon\) +absent +ok/);
    expect(r.out).toContain('gpu-check: all 40 checks agree');
    expect(r.code).toBe(0);
    for (const f of ['nvidia-smi-q-x.xml', 'query-gpu-stream.csv', 'dmon-gpm.txt', 'metrics.txt', 'table.txt']) expect(readFileSync(join(out, f), 'utf8').length, f).toBeGreaterThan(0);
  }, 120_000);

  it('against the stand-in answering dmon with GPM rows: the sidecar\'s ratios agree with dmon\'s', async () => {
    const r = await gpuCheck(['--nvidia-smi', STAND_IN, '--out', join(dir, 'gpm'), '--python', join(dir, 'no-such-python')],
      { ...process.env, FAKE_NVIDIA_SMI_GPM: 'gpm/dmon-gpm-documented.txt' });
    expect(r.out).toMatch(/GPU 0 SM active \(GPM\) +9\d\.\d % +9\d\.\d % +± 20\.0 % +ok/);
    expect(r.out).toMatch(/GPU 1 tensor active \(GPM\) +0\.0 % +0\.0 %/);
    // GPUs 2–7 have no GPM rows: the sidecar exports none, dmon gave none.
    expect(r.out).toMatch(/GPU 2 SM active \(GPM\) +absent +absent +absent +ok/);
    expect(r.out).toContain('gpu-check: all 48 checks agree');
    expect(r.code).toBe(0);
  }, 120_000);
});

// The job path without a GPU: test/fixtures/gpu-check/fake-python answers the torch probe as CUDA and
// plays the job (steps over HTTP as the client sends them, its pid on GPU 0 of the stand-in). 12 s: the
// sidecar reads compute apps every 5 s, and the run's GPU must be known while steps still come.
describe('scripts/gpu-check, the job path against the stand-in and a stand-in python', () => {
  const FAKE_PYTHON = join(REPO_ROOT, 'test/fixtures/gpu-check/fake-python');
  const jobCheck = (name: string, extra: NodeJS.ProcessEnv = {}) => gpuCheck(['--nvidia-smi', STAND_IN, '--out', join(dir, name), '--python', FAKE_PYTHON, '--seconds', '12'],
    { ...process.env, FAKE_NVIDIA_SMI_CONTROL: join(dir, `${name}-control.json`), ...extra });

  it('runs the job under trainpilot run and finds attribution, memory, steps, energy per sample and decisions in agreement', async () => {
    const r = await jobCheck('job');
    expect(r.out).toContain('PyTorch stand-in with CUDA: a 12 s training job under trainpilot run --tune auto');
    expect(r.out).toMatch(/run GPU attribution +0 +0 +same GPUs +ok/);
    expect(r.out).toMatch(/run GPU memory vs torch reserved +2048 MiB +1600 MiB \(\+ context\)/);
    expect(r.out).toMatch(/step reports +(\d+) +\1 +equal +ok/);
    // 232.80 W (GPU 0 of the capture) × 0.1 s per step of 32 samples = 0.7275 J per sample, on both sides.
    expect(r.out).toMatch(/energy per sample +0\.727\d J +0\.727\d J \(nvidia-smi power × job time\) +± 25 % +ok/);
    expect(r.out).toMatch(/gpu-check: all \d+ checks agree/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('exits 1 when the sidecar saw fewer steps than the job made', async () => {
    const r = await jobCheck('job-short', { FAKE_JOB_UNREPORTED: '3' });
    expect(r.out).toMatch(/step reports +(\d+) +(\d+) +equal +MISMATCH/);
    expect(r.out).toMatch(/gpu-check: 1 of \d+ checks disagree: step reports/);
    expect(r.code).toBe(1);
  }, 120_000);
});

describe('compare', () => {
  const g = (over: Partial<GpuFigures> = {}): GpuFigures => ({
    index: 0, utilizationRatio: 0.97, memoryUsedBytes: 31689 * 2 ** 20, memoryTotalBytes: 32510 * 2 ** 20, powerDrawWatts: 232.8,
    smActiveRatio: null, tensorActiveRatio: null, ...over,
  });
  it('agrees on equal figures and flags each one that differs beyond its tolerance', () => {
    expect(mismatches(compare({ sidecar: [g()], nvidiaSmi: [g()], gpmSupported: false, job: null, run: null }))).toEqual([]);
    const bad = compare({ sidecar: [g({ utilizationRatio: 0.5, powerDrawWatts: 120, smActiveRatio: 0.9 })], nvidiaSmi: [g()], gpmSupported: false, job: null, run: null });
    expect(mismatches(bad).map((r) => r.check)).toEqual(['GPU 0 utilisation', 'GPU 0 power', 'GPU 0 GPM']);
    expect(mismatches(compare({ sidecar: [], nvidiaSmi: [g()], gpmSupported: false, job: null, run: null })).map((r) => r.check)).toEqual(['GPU 0 readings']);
    // Memory used: 5 % of the reading or 512 MiB, not 5 % of the device (7 GiB on an H200).
    const h200 = { memoryUsedBytes: 1083 * 2 ** 20, memoryTotalBytes: 143771 * 2 ** 20 };
    const memory = (usedMiB: number) => compare({ sidecar: [g({ ...h200, memoryUsedBytes: usedMiB * 2 ** 20 })], nvidiaSmi: [g(h200)], gpmSupported: false, job: null, run: null })
      .find((r) => r.check === 'GPU 0 memory used')?.verdict;
    expect(memory(1083 + 500)).toBe('ok');
    expect(memory(1083 + 600)).toBe('MISMATCH');
    expect(memory(1083 + 5000)).toBe('MISMATCH');
  });

  it('judges the run: attribution, memory against torch, steps, energy per sample, decisions applied', () => {
    const job = { steps: 500, samples: 128000, joulesPerSample: 0.5, joulesSource: 'NVML energy counter', gpuIndex: 0, reservedBytes: 4e9, endTs: 1000 };
    const run = { steps: 500, joulesPerSample: 0.55, gpuMemoryBytes: { '0': 4.5e9 }, decisions: 2, configVersion: 3, appliedVersion: 3, bottleneck: 'tensor_cores_idle', lastDecisionTs: 900 };
    const base = { sidecar: [g()], nvidiaSmi: [g()], gpmSupported: false };
    expect(mismatches(compare({ ...base, job, run }))).toEqual([]);
    const bad = compare({ ...base, job, run: { ...run, steps: 499, joulesPerSample: 0.7, gpuMemoryBytes: { '1': 4.5e9 }, appliedVersion: 2 } });
    expect(mismatches(bad).map((r) => r.check)).toEqual(['run GPU attribution', 'run GPU memory vs torch reserved', 'step reports', 'energy per sample', 'tuner decisions']);
    // A decision in the job's last seconds may find no epoch boundary to be applied at.
    expect(compare({ ...base, job, run: { ...run, appliedVersion: 2, lastDecisionTs: 995 } }).at(-1)?.verdict).toBe('info');
  });
});
