// Zero-code mode end to end (DESIGN §10, issue 14): unmodified PyTorch scripts that never import
// trainpilot (test/fixtures/zero-code), run with real PyTorch under `trainpilot run` against a
// real sidecar process. Needs `npm run build` (dist/) and /usr/bin/python3 with torch: without
// them these tests fail, in CI and out of it (the zero-code mode is nothing without torch).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSidecar } from '../bench/lib/sidecar-process.js';
import { cli, startCli, type CliResult } from './cli-helpers.js';
import { torchSidecar } from './helpers/torch-sidecar.js';

const PYTHON = '/usr/bin/python3';
const LOOP = 'test/fixtures/zero-code/loop.py';
const NO_TORCH = 'test/fixtures/zero-code/no_torch.py';

interface Step { step: number; duration_s: number; data_wait_s: number; samples: number; loss: number | null; config_version: number | null }
interface Event { kind: string; step: number | null; data: Record<string, any> }
interface Epoch { workers: number; rate: number }
interface Ran extends CliResult { id: string; epochs: Epoch[]; result: Record<string, number> }

const s = torchSidecar('zero-code');
const dir = s.dir;

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(s.url + path, { ...init, headers: { 'content-type': 'application/json' } });
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}
const steps = (id: string) => api<{ steps: Step[] }>(`/v1/runs/${id}/steps?limit=10000`).then((r) => r.steps);
const events = (id: string) => api<{ events: Event[] }>(`/v1/runs/${id}/events?limit=10000`).then((r) => r.events);
const runOf = (id: string) => api<Record<string, any>>(`/v1/runs/${id}`);

/** What the fixture prints on stdout, and nothing else. */
const OWN_LINE = /^(epoch \d+: workers \d+, [\d.]+ samples\/s, wait [\d.]+|result: \{.*\})$/;

function parse(r: CliResult): Ran {
  const id = /\(run (\S+), pid \d+\)/.exec(r.stderr)?.[1] ?? '';
  const lines = r.stdout.trimEnd().split('\n');
  const epochs = lines.map((l) => /^epoch \d+: workers (\d+), ([\d.]+) samples\/s/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ workers: Number(m![1]), rate: Number(m![2]) }));
  const res = lines.find((l) => l.startsWith('result: '));
  return { ...r, id, epochs, result: res ? JSON.parse(res.slice(8)) : {} };
}

const run = async (args: string[], flags: string[] = ['--tune', 'advise'], env: NodeJS.ProcessEnv = {}) =>
  parse(await cli(['run', '--url', s.url, ...flags, '--', PYTHON, LOOP, ...args], env));

const ratio = (xs: Step[]) => xs.reduce((a, x) => a + x.data_wait_s, 0) / xs.reduce((a, x) => a + x.duration_s, 0);

describe('an unmodified PyTorch script under trainpilot run', () => {
  it('is measured step by step and its workers are raised at an epoch boundary: faster, same output', async () => {
    const samples = 480;
    const batch = 8;
    const r = await run(['--epochs', '5', '--samples', String(samples), '--batch-size', String(batch), '--transform-ms', '2', '--device-ms', '16'],
      ['--tune', 'auto']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/zero-code hook on/);
    expect(r.stderr).toMatch(/zero-code hook: tuned: num_workers, prefetch_factor, persistent_workers; batch size and learning rate are the script's \(DataLoader at test\/fixtures\/zero-code\/loop\.py:\d+, optimizer at test\/fixtures\/zero-code\/loop\.py:\d+\)/);
    for (const line of r.stdout.trimEnd().split('\n')) expect(line, 'stdout is the script\'s own').toMatch(OWN_LINE);
    const got = await steps(r.id);
    const evs = await events(r.id);
    const run0 = await runOf(r.id);
    const decisions = (await api<{ decisions: Array<Record<string, any>> }>(`/v1/runs/${r.id}/decisions`)).decisions;
    const changes = evs.filter((e) => e.kind === 'config_applied' && e.data.version > 1);
    console.log(`zero-code e2e: ${got.length} steps stored, ${r.result.steps} counted by the script; data wait ${ratio(got).toFixed(3)} ` +
      `stored, ${r.result.wait_ratio.toFixed(3)} by the script; epochs ${r.epochs.map((e) => `w=${e.workers} ${e.rate}/s`).join(', ')}; ` +
      `applied ${changes.map((e) => `v${e.data.version}@${e.step} w=${e.data.num_workers}`).join(', ')}; ` +
      `decisions: ${decisions.map((d) => `${d.knob} ${d.action} (${d.reason})`).join('; ')}`);

    expect(got.length).toBe(r.result.steps);
    expect(got.every((x) => x.samples === batch)).toBe(true);
    expect(Math.abs(ratio(got) - r.result.wait_ratio)).toBeLessThanOrEqual(0.1 * r.result.wait_ratio);
    expect(run0.tune.knobs).toEqual(['num_workers', 'prefetch_factor', 'persistent_workers']);
    expect(run0.config).toMatchObject({ batch_size: batch, learning_rate: 0.05 });
    // Attached with the script's own settings, and the line that built its loader named.
    expect(evs.find((e) => e.kind === 'config_applied' && e.data.version === 1)?.data).toMatchObject({ num_workers: 0, batch_size: batch });
    expect(evs.find((e) => e.kind === 'note')?.data.loader).toMatch(/loop\.py:\d+$/);

    // The tuner's change reached the script at an epoch boundary, and the script saw it.
    const perEpoch = samples / batch;
    const raised = changes.find((e) => e.data.num_workers > 0);
    expect(raised, `no config_applied raising workers; decisions: ${JSON.stringify(decisions)}`).toBeDefined();
    expect(raised!.step! % perEpoch, 'applied when an epoch began').toBe(0);
    expect(r.epochs[0].workers).toBe(0);
    expect(r.epochs[raised!.step! / perEpoch].workers).toBe(raised!.data.num_workers);
    expect(r.epochs.at(-1)!.rate).toBeGreaterThanOrEqual(1.3 * r.epochs[0].rate);
  }, 120_000);

  it('applies a version pushed mid-epoch when the next epoch starts, and acknowledges it', async () => {
    const cliRun = startCli(['run', '--url', s.url, '--tune', 'off', '--', PYTHON, LOOP,
      '--epochs', '8', '--samples', '160', '--batch-size', '8', '--transform-ms', '1', '--device-ms', '4']);
    let stderr = '';
    cliRun.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 60_000;
    let id = '';
    let version = 0;
    while (Date.now() < deadline) {
      id ||= /\(run (\S+), pid \d+\)/.exec(stderr)?.[1] ?? '';
      if (id) {
        const cur = await api<{ config_version: number; config: Record<string, number> | null }>(`/v1/runs/${id}/config`);
        if (cur.config_version >= 1 && cur.config) {
          version = (await api<{ config_version: number }>(`/v1/runs/${id}/config`, {
            method: 'PUT', body: JSON.stringify({ config: { ...cur.config, num_workers: 1 }, reason: 'zero-code test' }),
          })).config_version;
          break;
        }
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const r = parse({ ...(await cliRun.done), stderr });
    expect(r.code, r.stderr).toBe(0);
    expect(version).toBe(2);
    const ack = (await events(id)).find((e) => e.kind === 'config_applied' && e.data.version === 2);
    expect(ack, JSON.stringify(await events(id))).toBeDefined();
    expect(ack!.data.num_workers).toBe(1);
    expect(ack!.step! % 20).toBe(0);
    const from = ack!.step! / 20;
    expect(r.epochs.map((e) => e.workers)).toEqual(r.epochs.map((_, i) => (i < from ? 0 : 1)));
    expect(r.result.workers).toBe(1);
    const got = await steps(id);
    expect(got.length).toBe(r.result.steps);
    expect(got.filter((x) => x.step >= ack!.step!).every((x) => x.config_version === 2)).toBe(true);
  }, 120_000);

  const small = ['--epochs', '2', '--samples', '96', '--batch-size', '8', '--transform-ms', '0.2'];
  it.each([
    ['gradient accumulation', ['--accum', '3'], 24],
    ['an eval loader', ['--eval'], 8],
    ['an IterableDataset', ['--iterable'], 8],
    ['two optimizers', ['--two-optimizers'], 8],
  ])('%s: exits as it would, one step report per optimizer step', async (_what, extra, perStep) => {
    const r = await run([...small, ...extra, '--exit', '3']);
    expect(r.code, r.stderr).toBe(3);
    const got = await steps(r.id);
    expect(got.length).toBe(r.result.steps);
    expect(got.every((x) => x.samples === perStep)).toBe(true);
    expect(got.reduce((a, x) => a + x.samples, 0)).toBe(2 * 96);
    const run0 = await runOf(r.id);
    expect(run0.tune.knobs).toEqual(extra[0] === '--iterable' ? [] : ['num_workers', 'prefetch_factor', 'persistent_workers']);
    if (extra[0] === '--accum') expect(run0.config.grad_accum_steps).toBe(3);
  }, 60_000);
});

describe('what zero-code mode leaves alone', () => {
  it('a script that never imports torch: same output, same exit code, nothing reported', async () => {
    const r = parse(await cli(['run', '--url', s.url, '--', PYTHON, NO_TORCH, '3']));
    const bare = spawnSync(PYTHON, [NO_TORCH, '3'], { encoding: 'utf8' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(bare.stdout);
    expect(await steps(r.id)).toEqual([]);
  }, 60_000);

  it('the sidecar killed mid-run: the job runs on to its end, exit code and output its own', async () => {
    const doomed = await spawnSidecar(['--db', join(dir, 'doomed.db'), '--gpu', 'off', '--interval', '1s']);
    const cliRun = startCli(['run', '--url', doomed.url, '--', PYTHON, LOOP,
      '--epochs', '6', '--samples', '160', '--batch-size', '8', '--transform-ms', '1', '--device-ms', '4', '--exit', '6']);
    let stderr = '';
    cliRun.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const id = /\(run (\S+), pid \d+\)/.exec(stderr)?.[1];
      const n = id ? (await fetch(`${doomed.url}/v1/runs/${id}/steps?limit=10000`).then((x) => x.json()) as { steps: Step[] }).steps.length : 0;
      if (n >= 10 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await doomed.stop('SIGKILL');
    const r = parse({ ...(await cliRun.done), stderr });
    expect(r.code, r.stderr).toBe(6);
    expect(r.result.steps).toBe(120);
    for (const line of r.stdout.trimEnd().split('\n')) expect(line).toMatch(OWN_LINE);
    expect(r.stderr).not.toMatch(/Traceback/);
  }, 90_000);

  it('a job that uses the client is measured by the client alone, not twice', async () => {
    const r = parse(await cli(['run', '--url', s.url, '--', PYTHON, 'test/fixtures/zero-code/with_client.py']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('client steps: 12\n');
    const got = await steps(r.id);
    expect(got.map((x) => x.step)).toEqual([...Array(12).keys()]);
    expect((await events(r.id)).filter((e) => e.data.source === 'zero-code hook')).toEqual([]);
    expect((await runOf(r.id)).tune.knobs).toContain('batch_size'); // the client's, not the hook's
  }, 60_000);

  it('the sitecustomize already on PYTHONPATH still runs', async () => {
    const site = join(dir, 'site');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'sitecustomize.py'), 'print("their sitecustomize ran")\n');
    const r = await cli(['run', '--url', s.url, '--', PYTHON, NO_TORCH], { PYTHONPATH: site });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^their sitecustomize ran\nno torch: /);
  }, 60_000);

  it('torch missing: the job fails as it would without trainpilot, with its exit code', async () => {
    // A torch that cannot be imported, as on an interpreter without it.
    const missing = join(dir, 'no-torch');
    mkdirSync(join(missing, 'torch'), { recursive: true });
    writeFileSync(join(missing, 'torch', '__init__.py'), 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n');
    const r = await run(['--epochs', '1'], ['--tune', 'auto'], { PYTHONPATH: missing });
    const bare = spawnSync(PYTHON, [LOOP, '--epochs', '1'], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: missing } });
    expect(bare.status).toBe(1);
    expect(r.code).toBe(bare.status);
    expect(r.stderr).toContain(bare.stderr.trim().split('\n').at(-1)!);
    expect(r.stderr).toContain('zero-code hook on');
  }, 60_000);

  it('--no-inject, TRAINPILOT_INJECT=0 and a command that is not Python start the job untouched', async () => {
    const show = ['-c', 'import os; print(os.environ.get("PYTHONPATH", "unset"))'];
    const hooked = await cli(['run', '--url', s.url, '--', PYTHON, ...show]);
    expect(hooked.stdout.trim()).toMatch(/clients\/python\/hook$/);
    expect((await cli(['run', '--url', s.url, '--no-inject', '--', PYTHON, ...show])).stdout.trim()).toBe('unset');
    expect((await cli(['run', '--url', s.url, '--', PYTHON, ...show], { TRAINPILOT_INJECT: '0' })).stdout.trim()).toBe('unset');
    const node = await cli(['run', '--url', s.url, '--', process.execPath, '-e', 'console.log(process.env.PYTHONPATH ?? "unset")']);
    expect(node.stdout.trim()).toBe('unset');
    expect(node.stderr).not.toMatch(/zero-code hook on/);
  }, 60_000);
});
