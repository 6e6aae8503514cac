// Goodput signals without code (issue 22): an unmodified script under `trainpilot run` gets the
// gradient noise scale and the statistical efficiency into its bottleneck evidence from the
// norms the zero-code hook samples, and trains exactly as without trainpilot. Real PyTorch
// (/usr/bin/python3) and a real sidecar; needs `npm run build`. Without torch this fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli } from './cli-helpers.js';
import { torchSidecar } from './helpers/torch-sidecar.js';

const PYTHON = '/usr/bin/python3';
const NOISY = 'test/fixtures/zero-code/noisy.py';
const s = torchSidecar('goodput');
const dir = s.dir;

const get = async (path: string) => (await fetch(s.url + path)).json() as Promise<Record<string, any>>;

describe('goodput signals on an unmodified script', () => {
  it('puts b_noise and the statistical efficiency in the evidence within a minute; losses equal a bare run', async () => {
    const args = ['--epochs', '6', '--device-ms', '8'];
    const bareLosses = join(dir, 'bare.json');
    const bare = spawnSync(PYTHON, [NOISY, ...args, '--losses', bareLosses], { encoding: 'utf8' });
    expect(bare.status, bare.stderr).toBe(0);

    const hookedLosses = join(dir, 'hooked.json');
    const job = startCli(['run', '--url', s.url, '--', PYTHON, NOISY, ...args, '--losses', hookedLosses]);
    let stderr = '';
    job.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 60_000;
    let evidence: Record<string, any> | null = null;
    let id = '';
    while (Date.now() < deadline && evidence === null) {
      id ||= /\(run (\S+), pid \d+\)/.exec(stderr)?.[1] ?? '';
      if (id) {
        const e = (await get(`/v1/runs/${id}`)).bottleneck?.evidence;
        if (typeof e?.b_noise === 'number') evidence = e;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = await job.done;
    expect(r.code, r.stderr).toBe(0);
    expect(evidence, 'b_noise in the bottleneck evidence within the first minute').not.toBeNull();
    console.log(`goodput e2e: b_noise ${evidence!.b_noise}, efficiency ${evidence!.statistical_efficiency_ratio}: ${evidence!.noise_scale}`);
    expect(evidence!.b_noise).toBeGreaterThan(0);
    expect(evidence!.statistical_efficiency_ratio).toBeGreaterThan(0);
    expect(evidence!.statistical_efficiency_ratio).toBeLessThanOrEqual(1);
    expect(evidence!.noise_scale).toMatch(/^gradient noise scale [\d.,]+ samples: at its batch of 16 .* would learn [\d.]+ % less per sample$/);
    expect(r.stdout.trimEnd().split('\n').at(-1), 'stdout is the job\'s').toBe(bare.stdout.trimEnd().split('\n').at(-1));

    const steps = (await get(`/v1/runs/${id}/steps?limit=10000`)).steps as Array<Record<string, any>>;
    const normed = steps.filter((x) => typeof x.grad_sq_norm === 'number');
    expect(normed.length).toBeGreaterThan(0);
    expect(normed.length).toBeLessThan(steps.length);
    // The norms only read the gradients: the training is the bare run's, loss for loss.
    expect(JSON.parse(readFileSync(hookedLosses, 'utf8'))).toEqual(JSON.parse(readFileSync(bareLosses, 'utf8')));
  }, 120_000);
});
