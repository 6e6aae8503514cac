// `npm run bench -- tuner-pytorch`: the tuner on a real PyTorch job against a grid search measured
// on the same machine, and DESIGN §7's budget for it: a CPU job started mis-configured (batch 16,
// no data-loader workers, a costly per-sample transform) under the client and `trainpilot run
// --tune auto` should reach ≥ 1.5× its start and ≥ 90 % of the best configuration a grid over
// batch × workers finds, its loss still falling. Throughput is wall-clock, so it is measured here
// and printed, not asserted in the suite (test/e2e-tuner-pytorch.test.ts checks what must hold in
// any run: decisions made and applied, the loss not worse). Needs /usr/bin/python3 with torch.
// Options: --seconds N (the tuned run, default 200), --grid-seconds N (each grid cell, default 6).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB } from './lib/pytorch-job.js';
import { allSteps, api, versionRate } from './lib/run-api.js';
import { CLI, REPO_ROOT, spawnSidecar } from './lib/sidecar-process.js';

const PYTHON = '/usr/bin/python3';
const BATCHES = [16, 32, 64, 128, 256];
const WORKERS = [0, 1, 2];
const BUDGET = { ofStart: 1.5, ofGrid: 0.9 };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<number> {
  if (spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    console.log(`${PYTHON} has no torch: nothing to measure (apt-get install python3-torch)`);
    return 0;
  }
  const tuneS = arg('seconds', 200);
  const gridS = arg('grid-seconds', 6);
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-tuner-pytorch-'));
  // 1. The grid: every batch × workers configuration, a few seconds each, no sidecar.
  const grid = spawnSync(PYTHON, ['examples/pytorch/grid.py', '--batch-sizes', BATCHES.join(','), '--workers', WORKERS.join(','),
    '--seconds', String(gridS), '--warmup-seconds', '2', ...JOB.slice(0, 4)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
  if (grid.status !== 0) throw new Error(`grid.py failed: ${grid.stderr}`);
  const rows = grid.stdout.split('\n').filter((l) => l.startsWith('grid: ')).map((l) => JSON.parse(l.slice(6)) as { batch_size: number; num_workers: number; samples_per_s: number });
  const best = rows.reduce((a, r) => (r.samples_per_s > a.samples_per_s ? r : a));

  // 2. The tuned run: started mis-configured, under the client and the tuner.
  const sidecar = await spawnSidecar(['--db', join(dir, 'tune.db'), '--gpu', 'off', '--interval', '1s']);
  try {
    const job = spawn(process.execPath, [CLI, 'run', '--url', sidecar.url, '--tune', 'auto', '--name', 'bench-grid', '--',
      PYTHON, 'examples/pytorch/train.py', '--batch-size', '16', '--workers', '0', '--max-seconds', String(tuneS), ...JOB],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    job.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number>((res) => job.once('exit', (c) => res(c ?? 1)));
    if (code !== 0) throw new Error(`trainpilot run exited ${code}`);
    const summary = JSON.parse(out.split('\n').find((l) => l.startsWith('trainpilot-example: '))!.slice(20)) as Record<string, any>;
    const id = summary.run as string;
    const steps = await allSteps(sidecar.url, id);
    const decisions = (await api<{ decisions: Array<Record<string, any>> }>(sidecar.url, `/v1/runs/${id}/decisions`)).decisions;
    const start = versionRate(steps, 1);
    const lastVersion = Math.max(...steps.map((s) => s.config_version));
    const end = versionRate(steps, lastVersion);
    const ofStart = end.rate / start.rate;
    const ofGrid = end.rate / best.samples_per_s;
    console.log(`grid (${gridS} s a cell): ${rows.map((x) => `b${x.batch_size}/w${x.num_workers} ${x.samples_per_s.toFixed(0)}`).join(', ')}`);
    console.log(`grid best: b${best.batch_size} w${best.num_workers} ${best.samples_per_s.toFixed(0)} samples/s`);
    console.log(`tuned (${tuneS} s): start b16 w0 ${start.rate.toFixed(0)} samples/s (${start.steps} steps); end ${JSON.stringify(summary.config)} v${lastVersion} ${end.rate.toFixed(0)} samples/s (${end.steps} steps)`);
    console.log(`decisions: ${decisions.map((d) => `${d.knob} ${d.action} ${d.config_before?.[d.knob] ?? ''} → ${d.config_after?.[d.knob] ?? ''} [${d.outcome?.status}]`).join('; ')}`);
    console.log(`loss: ${summary.loss_first_quarter} → ${summary.loss_last_quarter}`);
    const met = ofStart >= BUDGET.ofStart && ofGrid >= BUDGET.ofGrid && summary.loss_last_quarter < summary.loss_first_quarter;
    console.log(`×${ofStart.toFixed(2)} the start (budget ≥ ${BUDGET.ofStart}), ${(100 * ofGrid).toFixed(1)} % of the grid's best (budget ≥ ${100 * BUDGET.ofGrid} %): budget ${met ? 'met' : 'MISSED'}`);
    return met ? 0 : 1;
  } finally {
    await sidecar.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
