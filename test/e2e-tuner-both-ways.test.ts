// The tuner moving both ways on real PyTorch jobs (issue 21), under the client, against a real
// sidecar: (a) a CPU job started with 8 data-loader workers on this 2-core host ends with fewer,
// no slower within noise than its start config measured in the same run, and with less resident
// memory in its process tree; a job already at its best keeps no change; (b) a job near its stability edge whose batch increase scales SGD's learning rate past
// it: the loss turns non-finite, the decision is rolled back with that reason in words, and the job
// trains on. The figures are printed. Needs `npm run build` and /usr/bin/python3 with torch.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB } from '../bench/lib/pytorch-job.js';
import { allSteps, api, versionRate } from '../bench/lib/run-api.js';
import { startCli } from './cli-helpers.js';
import { spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch && process.env.CI === 'true') throw new Error(`${PYTHON} has no torch: .ci/run installs python3-torch`);

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-both-ways-'));
let sidecar: SidecarProcess | undefined;
afterAll(async () => {
  await sidecar?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function runPython(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(PYTHON, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => { stdout += b; });
    p.stderr.on('data', (b) => { stderr += b; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Median of a run's sampled process-tree RSS between two times (the sidecar's own readings). */
async function rssBetween(url: string, id: string, from: number, to: number): Promise<number | null> {
  const r = await api<{ points: Array<[number, number | null]> }>(url, `/v1/runs/${id}/series?metric=process_resident_memory_bytes&from=${from}&to=${to}`);
  const v = r.points.map((p) => p[1]).filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length ? v[v.length >> 1] : null;
}

/** Samples/s of a config over every version of the run that ran it, each less its first 3 steps (as versionRate). */
function configRate(steps: Awaited<ReturnType<typeof allSteps>>, decisions: Array<Record<string, any>>, config: { batch_size: number; num_workers: number }) {
  const versions = [...new Set(decisions
    .filter((d) => d.config_version != null && d.config_after?.batch_size === config.batch_size && d.config_after?.num_workers === config.num_workers)
    .map((d) => d.config_version as number))];
  let samples = 0;
  let span = 0;
  let n = 0;
  for (const v of versions) {
    const mine = steps.filter((s) => s.rank === 0 && s.config_version === v).sort((a, b) => a.step - b.step).slice(3);
    if (mine.length < 3) continue;
    samples += mine.reduce((k, s) => k + s.samples, 0);
    span += mine[mine.length - 1].ts - (mine[0].ts - mine[0].duration_s);
    n += mine.length;
  }
  return { rate: span > 0 ? samples / span : 0, steps: n, versions };
}

async function tunedRun(name: string, args: string[], seconds: number, mode: 'auto' | 'off' = 'auto') {
  const cli = startCli(['run', '--url', sidecar!.url, '--tune', mode, '--name', name, '--',
    PYTHON, 'examples/pytorch/train.py', ...args, '--tune', mode, '--max-seconds', String(seconds)]);
  const r = await cli.done;
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('trainpilot-example: '))!.slice(20)) as Record<string, any>;
  const id = summary.run as string;
  const steps = await allSteps(sidecar!.url, id);
  const decisions = (await api<{ decisions: Array<Record<string, any>> }>(sidecar!.url, `/v1/runs/${id}/decisions`)).decisions;
  return { summary, id, steps, decisions };
}

describe.skipIf(!hasTorch && process.env.CI !== 'true')('the tuner on real PyTorch jobs, both ways', () => {
  const EIGHT = ['--batch-size', '32', '--workers', '8', '--max-batch-size', '32', '--transform-cost', '40', '--width', '3'];

  it('a CPU job started with 8 workers on 2 cores ends with fewer, no slower than its start config, holding less memory', async () => {
    sidecar ??= await spawnSidecar(['--db', join(dir, 'workers.db'), '--gpu', 'off', '--interval', '1s']);
    // The start config measured on its own (tune off), past the first steps its 8 workers' prefetch flatters.
    const base = await tunedRun('eight-workers-untuned', EIGHT, 25, 'off');
    const steady = base.steps.filter((s) => s.step >= 15);
    const baseRate = versionRate(steady, 1, 0);
    const rssBase = await rssBetween(sidecar.url, base.id, steady[0].ts, steady.at(-1)!.ts);
    const many = await tunedRun('eight-workers', EIGHT, 60);
    // Where it settled: the end config, or, when the job stopped with a trial still being measured,
    // the config that trial left (CI once ended on a trial a few steps long: nothing to measure).
    const lastChange = many.decisions.filter((d) => !d.recommend_only && d.knob !== 'none' && d.config_version != null).at(-1);
    const settled = (lastChange?.outcome?.status === 'pending' ? lastChange.config_before : many.summary.config) as { batch_size: number; num_workers: number };
    // The settled config's own samples/s over every version that ran it (a rollback returns to one),
    // each less its warm-up: the search may probe near the end of the run, and a version can be a few
    // steps long (15 steps once, 57 s into a 59 s run, after a probe of 6 workers).
    const end = configRate(many.steps, many.decisions, settled);
    // Its memory over its longest version.
    const vEnd = end.versions
      .map((v) => many.steps.filter((s) => s.rank === 0 && s.config_version === v))
      .sort((a, b) => b.length - a.length)[0] ?? [];
    const rssEnd = vEnd.length ? await rssBetween(sidecar.url, many.id, vEnd[0].ts, vEnd.at(-1)!.ts) : null;
    console.log([
      `8 workers, untuned: ${baseRate.rate.toFixed(0)} samples/s (${baseRate.steps} steps), RSS ${(rssBase! / 1e6).toFixed(0)} MB`,
      `tuned: end ${JSON.stringify(many.summary.config)}, settled ${JSON.stringify(settled)} ${end.rate.toFixed(0)} samples/s (${end.steps} steps in versions ${end.versions.join(', ')}; the longest from ${vEnd.length ? (vEnd[0].ts - many.steps[0].ts).toFixed(1) : '-'} s of ${(many.steps.at(-1)!.ts - many.steps[0].ts).toFixed(1)} s), RSS ${rssEnd === null ? '-' : (rssEnd / 1e6).toFixed(0)} MB`,
      ...many.decisions.map((d) => `  ${d.knob} ${d.action} [${d.outcome?.status}${d.outcome?.note ? `: ${d.outcome.note}` : ''}]: ${d.reason}`),
    ].join('\n  '));
    expect(settled.num_workers).toBeLessThan(8);
    expect(end.steps, 'the settled config was measured').toBeGreaterThanOrEqual(10);
    // No slower within noise: this 2-core VM is shared, and its step times drift by several per cent.
    expect(end.rate).toBeGreaterThanOrEqual(0.9 * baseRate.rate);
    expect(rssEnd).not.toBeNull();
    expect(rssBase).not.toBeNull();
    expect(rssEnd!).toBeLessThan(rssBase!);
  }, 150_000);

  it('a job already at its best keeps no change', async () => {
    sidecar ??= await spawnSidecar(['--db', join(dir, 'best.db'), '--gpu', 'off', '--interval', '1s']);
    // At its best within the bounds its user set: the largest batch it allows (32), and one worker
    // (the most it allows). Each step also waits 20 ms on a synchronous call (logging, metrics) that
    // does not grow with the batch, so half the batch is far slower (by hand, 20 s runs alternated on a
    // 2-core VM: b32 704–832 samples/s in 2-s slices, b16 424–504): the descent's trial must fail.
    // Without that fixed cost b16 and b32 run alike on a CPU (both per-sample costs), and which is
    // faster turns on the host of the day (one CI host found b16 faster). Workers are held at one:
    // the 4 % of each step spent taking a batch from the worker reads like a loader that sets the
    // pace, a second worker measures the same within this host's drift (−10 % to +15 % on first
    // windows), and a job whose best worker count is a coin toss is no job at its best.
    const best = await tunedRun('at-its-best', ['--batch-size', '32', '--workers', '1', '--max-workers', '1', '--max-batch-size', '32', '--transform-cost', '0', '--width', '1', '--step-wait-ms', '20'], 30);
    const kept = best.decisions.filter((d) => !d.recommend_only && d.knob !== 'none' && d.action !== 'rollback' && d.outcome?.status === 'kept');
    console.log(`at its best: end ${JSON.stringify(best.summary.config)}; decisions: ${best.decisions.map((d) => `${d.knob} ${d.action} [${d.outcome?.status}]: ${d.reason}${d.outcome?.note ? ` => ${d.outcome.note}` : ''}`).join('; ') || 'none'}`);
    expect(kept).toEqual([]);
    // Where it settled: the end config, or, when the job stopped with a trial still being measured (the
    // search opens again when the host's speed shifts under a fixed config), the config that trial left.
    const last = best.decisions.filter((d) => !d.recommend_only && d.knob !== 'none' && d.config_version != null).at(-1);
    const settled = last?.outcome?.status === 'pending' ? last.config_before : best.summary.config;
    expect(settled).toMatchObject({ batch_size: 32, num_workers: 1 });
  }, 90_000);

  it('rolls back a batch increase after which the loss turns non-finite, says so, and the job trains on', async () => {
    sidecar ??= await spawnSidecar(['--db', join(dir, 'edge.db'), '--gpu', 'off', '--interval', '1s']);
    const r = await runPython(['test/fixtures/pytorch/edge_of_stability.py', '--seconds', '45', '--batch-size', '16', '--lr', '1.0'], { TRAINPILOT_URL: sidecar.url });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('edge-of-stability: '))!.slice(19)) as Record<string, any>;
    const id = summary.run as string;
    const decisions = (await api<{ decisions: Array<Record<string, any>> }>(sidecar.url, `/v1/runs/${id}/decisions`)).decisions;
    const steps = await allSteps(sidecar.url, id);
    console.log([
      `edge of stability: ${summary.steps} steps, ${summary.non_finite_steps} with a non-finite loss, loss over the last 50 ${summary.loss_last_50}, end ${JSON.stringify(summary.config)}`,
      ...decisions.map((d) => `${d.knob} ${d.action} ${d.config_before?.batch_size} → ${d.config_after?.batch_size} (lr ${d.config_before?.learning_rate} → ${d.config_after?.learning_rate}) [${d.outcome?.status}]: ${d.reason}`),
    ].join('\n  '));
    // The first batch increase whose loss turned non-finite or jumped (at batch 16 → 32 the learning rate
    // doubles to 2, where this job diverges only now and then, so that one may pass its judging
    // window; the next doubling diverges at once).
    const trial = decisions.find((d) => d.knob === 'batch_size' && d.action === 'increase' && d.outcome?.status === 'rolled_back');
    expect(trial, 'a larger batch tried and rolled back').toBeDefined();
    // Non-finite, or a jump beyond the loss's noise first (both are the loss's cause, in words).
    expect(trial!.outcome).toMatchObject({ status: 'rolled_back', cause: 'loss', note: expect.stringMatching(/non-finite|jumped/) });
    const back = decisions.find((d) => d.action === 'rollback' && d.evidence?.rolled_back_decision === trial!.id);
    expect(back?.reason).toMatch(new RegExp(`^back to batch size ${trial!.config_before.batch_size}: at ${trial!.config_after.batch_size} the loss (turned non-finite|jumped)`));
    // No larger batch (and so no larger learning rate) than the stable one is tried again.
    const later = decisions.filter((d) => d.id > back!.id && d.knob === 'batch_size' && d.action === 'increase');
    expect(later.filter((d) => d.config_after.batch_size > trial!.config_before.batch_size)).toEqual([]);
    expect(summary.config.learning_rate).toBeLessThanOrEqual(trial!.config_before.learning_rate);
    // The steps said so through the API (loss_non_finite), and the job trained on after the rollback.
    const flagged = steps.filter((s) => (s as unknown as Record<string, unknown>).loss_non_finite === true).length;
    expect(flagged > 0).toBe(summary.non_finite_steps > 0);
    expect(flagged).toBeLessThanOrEqual(summary.non_finite_steps);
    expect(steps.filter((s) => s.step > (back!.step ?? 0) && typeof s.loss === 'number' && Number.isFinite(s.loss)).length).toBeGreaterThan(100);
  }, 120_000);
});
