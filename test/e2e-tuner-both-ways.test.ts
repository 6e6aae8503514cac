// The tuner moving both ways on real PyTorch jobs (issue 21), under the client, against a real
// sidecar: (b) a job near its stability edge whose batch increase scales SGD's learning rate past
// it: the loss turns non-finite, the decision is rolled back with that reason in words, and the job
// trains on. The figures are printed. Needs `npm run build` and /usr/bin/python3 with torch.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allSteps, api } from '../bench/lib/run-api.js';
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

describe.skipIf(!hasTorch && process.env.CI !== 'true')('the tuner on real PyTorch jobs, both ways', () => {
  it('rolls back a batch increase after which the loss turns non-finite, says so, and the job trains on', async () => {
    sidecar = await spawnSidecar(['--db', join(dir, 'edge.db'), '--gpu', 'off', '--interval', '1s']);
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
    const trial = decisions.find((d) => d.knob === 'batch_size' && d.action === 'increase');
    expect(trial, 'the tuner tried a larger batch').toBeDefined();
    expect(trial!.outcome).toMatchObject({ status: 'rolled_back', cause: 'loss', note: expect.stringMatching(/non-finite/) });
    const back = decisions.find((d) => d.action === 'rollback' && d.evidence?.rolled_back_decision === trial!.id);
    expect(back?.reason).toMatch(/^back to batch size 16: at \d+ the loss turned non-finite/);
    // The steps said so through the API (loss_non_finite), and the job trains on at the stable rate.
    expect(steps.some((s) => (s as Record<string, unknown>).loss_non_finite === true)).toBe(true);
    expect(summary.config.learning_rate).toBeLessThanOrEqual(1.0);
    const tail = steps.slice(-50);
    expect(tail.every((s) => typeof s.loss === 'number' && Number.isFinite(s.loss))).toBe(true);
    expect(summary.loss_last_50).toBeLessThan(5);
  }, 120_000);
});
