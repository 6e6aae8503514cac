// Zero-code mode where `trainpilot run` cannot wrap the job (DESIGN §10, issue 25): an unmodified
// PyTorch script started by plain /usr/bin/python3 with only PYTHONPATH=$(trainpilot hook-path)
// and TRAINPILOT_URL set, as a pod's trainer container, a node's job or a launcher of its own
// starts it, against a real sidecar process. Needs `npm run build` (dist/) and /usr/bin/python3
// with torch.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';
import { cli } from './cli-helpers.js';

const PYTHON = '/usr/bin/python3';
const LOOP = 'test/fixtures/zero-code/loop.py';
const DDP = 'test/fixtures/zero-code/ddp.py';

interface Step { step: number; duration_s: number; data_wait_s: number; samples: number; config_version: number | null }
interface Event { kind: string; step: number | null; data: Record<string, any> }
interface Ran { code: number | null; stdout: string; stderr: string; result: Record<string, number>; workers: number[] }

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-own-run-'));
let s: SidecarProcess;
let hookPath = '';
beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import torch (.ci/run installs python3-torch): ${probe.stderr}`);
  s = await spawnSidecar(['--db', join(dir, 'own-run.db'), '--gpu', 'off', '--interval', '1s']);
  hookPath = (await cli(['hook-path'])).stdout.trim();
}, 60_000);
afterAll(async () => {
  await s?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function api<T>(url: string, path: string): Promise<T> {
  const r = await fetch(url + path);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function send(url: string, path: string, method: string, body: unknown): Promise<Record<string, any>> {
  const r = await fetch(url + path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as Record<string, any>;
}

/** The script as a launcher of its own starts it: plain python, only the two variables set. */
function python(args: string[], env: Record<string, string>, script = LOOP): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.trimEnd().split('\n');
      const res = lines.find((l) => l.startsWith('result: '));
      const workers = lines.map((l) => /^epoch \d+: workers (\d+)/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
      resolve({ code, stdout, stderr, result: res ? JSON.parse(res.slice(8)) : {}, workers });
    });
  });
}

/** The script's own lines with its timings masked: what must not change under the hook. */
const shape = (out: string) => out.replace(/[\d.]+ samples\/s, wait [\d.]+/g, 'R samples/s, wait W')
  .replace(/"(rate|wait_ratio|seconds|elapsed_s)": [\d.e-]+/g, '"$1": X');
const OWN_LINE = /^(epoch \d+: workers \d+, [\d.]+ samples\/s, wait [\d.]+|result: \{.*\})$/;

describe('trainpilot hook-path', () => {
  it('prints the hook folder; --copy-to fills a folder a trainer can mount; --help', async () => {
    expect(existsSync(join(hookPath, 'sitecustomize.py'))).toBe(true);
    const copied = await cli(['hook-path', '--copy-to', join(dir, 'shared')]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toBe(`${join(dir, 'shared', 'hook')}\n`);
    expect(readdirSync(join(dir, 'shared')).sort()).toEqual(['hook', 'trainpilot']);
    expect(existsSync(join(dir, 'shared', 'trainpilot', '_autohook', '_own_run.py'))).toBe(true);
    const help = await cli(['hook-path', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: trainpilot hook-path \[--copy-to DIR\]/);
    expect(help.stdout).toMatch(/TRAINPILOT_TUNE/);
    expect((await cli(['hook-path', 'extra'])).code).toBe(2);
  }, 30_000);
});

describe('an unmodified PyTorch script with only PYTHONPATH=$(trainpilot hook-path) and TRAINPILOT_URL', () => {
  it('registers one run, stores every step, takes new workers at an epoch start, records finished; stdout its own', async () => {
    // The version the tuner would push, pushed mid-epoch through the API (TRAINPILOT_TUNE=off: the
    // tuner's own moves depend on how busy the host is; the next test runs it).
    const samples = 160;
    const batch = 8;
    const perEpoch = samples / batch;
    const args = ['--epochs', '8', '--samples', String(samples), '--batch-size', String(batch), '--transform-ms', '1', '--device-ms', '4'];
    const before = (await api<{ runs: unknown[] }>(s.url, '/v1/runs')).runs.length;
    const job = python(args, { PYTHONPATH: hookPath, TRAINPILOT_URL: s.url, TRAINPILOT_TUNE: 'off' });
    let id = '';
    let version = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !version;) {
      const runs = (await api<{ runs: Array<Record<string, any>> }>(s.url, '/v1/runs')).runs;
      if (runs.length > before && runs[0].config_version >= 1) {
        id = runs[0].id;
        version = (await send(s.url, `/v1/runs/${id}/config`, 'PUT', { config: { ...runs[0].config, num_workers: 1 }, reason: 'own-run test' })).config_version;
      } else await new Promise((res) => setTimeout(res, 100));
    }
    const r = await job;
    expect(r.code, r.stderr).toBe(0);
    expect(version).toBe(2);
    for (const line of r.stdout.trimEnd().split('\n')) expect(line, 'stdout is the script\'s own').toMatch(OWN_LINE);

    const runs = (await api<{ runs: Array<Record<string, any>> }>(s.url, '/v1/runs')).runs;
    expect(runs.length - before, 'one run registered').toBe(1);
    const run0 = runs[0];
    const got = (await api<{ steps: Step[] }>(s.url, `/v1/runs/${id}/steps?limit=10000`)).steps;
    const evs = (await api<{ events: Event[] }>(s.url, `/v1/runs/${id}/events?limit=10000`)).events;
    const ack = evs.find((e) => e.kind === 'config_applied' && e.data.version === 2);
    const end = evs.find((e) => e.kind === 'finished' || e.kind === 'failed');
    const wait = got.reduce((a, x) => a + x.data_wait_s, 0) / got.reduce((a, x) => a + x.duration_s, 0);
    console.log(`zero-code own run: ${got.length} steps stored, ${r.result.steps} counted by the script; data wait ${wait.toFixed(3)} stored, ` +
      `${r.result.wait_ratio.toFixed(3)} by the script; workers by epoch ${r.workers.join(',')}; ` +
      `v2 applied at step ${ack?.step} w=${ack?.data.num_workers}; end ${end?.kind} ${JSON.stringify(end?.data)}`);

    expect(run0.name).toBe('loop.py');
    expect(run0.pid).toBeGreaterThan(0);
    expect(run0.tune).toMatchObject({ mode: 'off', knobs: ['num_workers', 'prefetch_factor', 'persistent_workers'] });
    expect(got.length).toBe(r.result.steps);
    expect(got.map((x) => x.step)).toEqual([...Array(r.result.steps).keys()]);
    expect(got.every((x) => x.samples === batch)).toBe(true);
    expect(Math.abs(wait - r.result.wait_ratio)).toBeLessThanOrEqual(0.1 * r.result.wait_ratio);
    expect(ack, JSON.stringify(evs.map((e) => e.kind))).toBeDefined();
    expect(ack!.data.num_workers).toBe(1);
    expect(ack!.step! % perEpoch, 'applied when an epoch began').toBe(0);
    const from = ack!.step! / perEpoch;
    expect(r.workers).toEqual(r.workers.map((_, i) => (i < from ? 0 : 1)));
    expect(got.filter((x) => x.step >= ack!.step!).every((x) => x.config_version === 2)).toBe(true);
    expect(end?.kind).toBe('finished');
    expect(end?.data).toMatchObject({ exit_code: 0, by: 'zero-code hook' });
    expect((await api<Record<string, any>>(s.url, `/v1/runs/${id}`)).state).toBe('finished');
  }, 120_000);

  it('under TRAINPILOT_TUNE=auto the tuner decides from its steps, and what it applies lands at an epoch start', async () => {
    const samples = 480;
    const batch = 8;
    const r = await python(['--epochs', '5', '--samples', String(samples), '--batch-size', String(batch), '--transform-ms', '2', '--device-ms', '16'],
      { PYTHONPATH: hookPath, TRAINPILOT_URL: s.url });
    expect(r.code, r.stderr).toBe(0);
    const run0 = (await api<{ runs: Array<Record<string, any>> }>(s.url, '/v1/runs')).runs[0];
    expect(run0.tune).toMatchObject({ mode: 'auto', knobs: ['num_workers', 'prefetch_factor', 'persistent_workers'] });
    const decisions = (await api<{ decisions: Array<Record<string, any>> }>(s.url, `/v1/runs/${run0.id}/decisions`)).decisions;
    const evs = (await api<{ events: Event[] }>(s.url, `/v1/runs/${run0.id}/events?limit=10000`)).events;
    const changes = evs.filter((e) => e.kind === 'config_applied' && e.data.version > 1);
    console.log(`zero-code own run, tuned: workers by epoch ${r.workers.join(',')}; applied ${changes.map((e) => `v${e.data.version}@${e.step} ` +
      `w=${e.data.num_workers}`).join(', ') || 'nothing'}; decisions: ${decisions.map((d) => `${d.knob} ${d.action} (${d.reason})`).join('; ')}`);
    expect(decisions.length).toBeGreaterThan(0);
    for (const c of changes) {
      expect(c.step! % (samples / batch), 'applied when an epoch began').toBe(0);
      expect(r.workers[c.step! / (samples / batch)]).toBe(c.data.num_workers);
    }
    expect(evs.filter((e) => e.kind === 'finished').map((e) => e.data.exit_code)).toEqual([0]);
  }, 120_000);

  it('data-parallel ranks started by a launcher of their own (torchrun\'s environment) join one run', async () => {
    // Debian's torch 1.13 torchrun fails on Python 3.11 before it starts a worker (its Std enum):
    // the two ranks are started here as torchrun starts them, with its environment.
    const port = String(20_000 + (process.pid % 20_000));
    const before = (await api<{ runs: unknown[] }>(s.url, '/v1/runs')).runs.length;
    const ranks = await Promise.all([0, 1].map((rank) => python([], {
      PYTHONPATH: hookPath, TRAINPILOT_URL: s.url, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2',
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: port,
    }, DDP)));
    for (const r of ranks) expect(r.code, r.stderr).toBe(0);
    const runs = (await api<{ runs: Array<Record<string, any>> }>(s.url, '/v1/runs')).runs;
    expect(runs.length - before, 'one run for the job').toBe(1);
    const id = runs[0].id as string;
    const counted = ranks.map((r) => Number(/steps (\d+)/.exec(r.stdout)?.[1]));
    const got = (await api<{ steps: Array<Step & { rank: number }> }>(s.url, `/v1/runs/${id}/steps?limit=10000`)).steps;
    const evs = (await api<{ events: Event[] }>(s.url, `/v1/runs/${id}/events?limit=10000`)).events;
    console.log(`zero-code own run, 2 ranks: stored ${[0, 1].map((k) => got.filter((x) => x.rank === k).length).join('+')}, ` +
      `counted ${counted.join('+')}; ends ${evs.filter((e) => e.kind === 'finished' || e.kind === 'failed').map((e) => `${e.kind} ${e.data.exit_code}`)}`);
    expect(runs[0].name).toBe('ddp.py');
    expect([0, 1].map((k) => got.filter((x) => x.rank === k).length)).toEqual(counted);
    expect(evs.filter((e) => e.kind === 'finished' || e.kind === 'failed').map((e) => [e.kind, e.data.exit_code])).toEqual([['finished', 0]]);
  }, 120_000);

  it('a job that exits 4: the run failed with that exit code', async () => {
    const r = await python(['--epochs', '1', '--samples', '64', '--batch-size', '8', '--transform-ms', '0', '--exit', '4'],
      { PYTHONPATH: hookPath, TRAINPILOT_URL: s.url, TRAINPILOT_TUNE: 'advise' });
    expect(r.code, r.stderr).toBe(4);
    const run0 = (await api<{ runs: Array<Record<string, any>> }>(s.url, '/v1/runs')).runs[0];
    expect(run0.tune.mode).toBe('advise');
    const evs = (await api<{ events: Event[] }>(s.url, `/v1/runs/${run0.id}/events?limit=10000`)).events;
    expect(evs.filter((e) => e.kind === 'finished' || e.kind === 'failed').map((e) => [e.kind, e.data.exit_code])).toEqual([['failed', 4]]);
    expect((await api<{ steps: Step[] }>(s.url, `/v1/runs/${run0.id}/steps?limit=10000`)).steps.length).toBe(r.result.steps);
  }, 60_000);

  it('with the sidecar down the script runs as without trainpilot: same output, same exit code', async () => {
    const args = ['--epochs', '2', '--samples', '64', '--batch-size', '8', '--transform-ms', '0', '--exit', '3'];
    const down = await python(args, { PYTHONPATH: hookPath, TRAINPILOT_URL: 'http://127.0.0.1:9' });
    const bare = await python(args, {});
    expect(down.code).toBe(3);
    expect(bare.code).toBe(3);
    expect(shape(down.stdout)).toBe(shape(bare.stdout));
    expect(down.stderr).not.toMatch(/Traceback/);
  }, 60_000);
});
