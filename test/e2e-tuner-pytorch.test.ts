// The tuner on a real PyTorch job: a CPU job started mis-configured (batch 16, no data-loader
// workers, a costly per-sample transform) under the client and `trainpilot run --tune auto`. What
// must hold in any run is asserted: the tuner decides, the job applies its configs and trains on
// them, and the loss still falls. How fast the tuned job runs against a grid search (DESIGN §7:
// ≥ 1.5× its start, ≥ 90 % of the grid's best) is wall-clock throughput, so it is measured by
// `npm run bench -- tuner-pytorch` (bench/tuner-pytorch.ts), not here; the figures are printed.
// Needs `npm run build` and /usr/bin/python3 with torch (.ci/run installs it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JOB } from '../bench/lib/pytorch-job.js';
import { allSteps, api, versionRate } from '../bench/lib/run-api.js';
import { spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';
import { startCli } from './cli-helpers.js';

const PYTHON = '/usr/bin/python3';
/** How long the tuned run lasts: enough for the tuner's first trials and a steady stretch at the end. */
const TUNE_S = 120;

const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch && process.env.CI === 'true') throw new Error(`${PYTHON} has no torch: .ci/run installs python3-torch`);

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-e2e-tuner-'));
let sidecar: SidecarProcess | undefined;
afterAll(async () => {
  await sidecar?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasTorch && process.env.CI !== 'true')('the tuner on a real PyTorch job', () => {
  it('decides, the job applies and trains on the new configs, and the loss still falls', async () => {
    sidecar = await spawnSidecar(['--db', join(dir, 'tune.db'), '--gpu', 'off', '--interval', '1s']);
    const cli = startCli(['run', '--url', sidecar.url, '--tune', 'auto', '--name', 'e2e-tuner', '--',
      PYTHON, 'examples/pytorch/train.py', '--batch-size', '16', '--workers', '0', '--max-seconds', String(TUNE_S), ...JOB]);
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('trainpilot-example: '))!.slice(20)) as Record<string, any>;
    const id = summary.run as string;
    const steps = await allSteps(sidecar.url, id);
    const run = await api<{ config: Record<string, number>; config_version: number; applied_version: number }>(sidecar.url, `/v1/runs/${id}`);
    const decisions = (await api<{ decisions: Array<Record<string, any>> }>(sidecar.url, `/v1/runs/${id}/decisions`)).decisions;
    const lastVersion = Math.max(...steps.map((s) => s.config_version));
    const start = versionRate(steps, 1);
    const end = versionRate(steps, lastVersion);
    console.log([
      `e2e tuner: start b16 w0 ${start.rate.toFixed(0)} samples/s; end ${JSON.stringify(summary.config)} v${lastVersion} ${end.rate.toFixed(0)} samples/s (×${(end.rate / start.rate).toFixed(2)})`,
      `loss ${summary.loss_first_quarter} → ${summary.loss_last_quarter}`,
      `decisions: ${decisions.map((d) => `${d.knob} ${d.action} ${d.config_before?.[d.knob] ?? ''} → ${d.config_after?.[d.knob] ?? ''} [${d.outcome?.status}]`).join('; ')}`,
    ].join('\n  '));
    // Decisions made that changed the config, and applied: the job acknowledged a new version and
    // ran steps under it (one made in the run's last seconds may still be unapplied at its end).
    expect(decisions.filter((d) => !d.recommend_only && d.knob !== 'none').length).toBeGreaterThan(0);
    expect(run.config_version).toBeGreaterThan(1);
    expect(run.applied_version).toBeGreaterThan(1);
    expect(lastVersion).toBeGreaterThan(1);
    // A steady stretch under a new config (the newest may be a rollback made in the last seconds).
    const versions = [...new Set(steps.map((s) => s.config_version))].filter((v) => v > 1);
    expect(versions.some((v) => versionRate(steps, v).steps >= 5), 'a steady stretch under a new config').toBe(true);
    expect(summary.loss_last_quarter).toBeLessThan(summary.loss_first_quarter);
  }, (TUNE_S + 120) * 1000);
});
