// `trainpilot serve` as a user runs it: flags, refusal to expose itself, clear errors, clean shutdown.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonClient } from '../bench/lib/http.js';
import { CLI, REPO_ROOT, spawnSidecar } from '../bench/lib/sidecar-process.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('trainpilot serve', () => {
  it('serves, answers /healthz, and exits 0 on SIGTERM', async () => {
    const s = await spawnSidecar(['--db', join(dir, 'a', 'nested', 'store.db'), '--gpu', 'off']);
    const c = jsonClient(s.url);
    expect((await c.get('/healthz')).json).toEqual({ status: 'ok' });
    const ready = await c.get('/readyz');
    expect(ready.status).toBe(200);
    const pending = c.get('/v1/runs');
    expect((await pending).status).toBe(200);
    c.close();
    const t0 = Date.now();
    expect(await s.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(s.stderr()).toMatch(/SIGTERM, shutting down/);
  });

  it('answers a waiting long-poll when it shuts down', async () => {
    const s = await spawnSidecar(['--db', join(dir, 'b.db'), '--gpu', 'off']);
    const c = jsonClient(s.url);
    const run = (await c.post('/v1/runs', { name: 'poll', config: { batch_size: 8, learning_rate: 0.1, num_workers: 0 } })).json;
    const poll = c.get(`/v1/runs/${run.id}/config?after=1&wait_s=60`);
    await new Promise((r) => setTimeout(r, 200));
    const code = s.stop('SIGINT');
    expect((await poll).json.config_version).toBe(1);
    expect(await code).toBe(0);
    c.close();
  });

  it('refuses to bind a non-loopback address without a token', async () => {
    const r = await cli(['serve', '--host', '0.0.0.0', '--db', join(dir, 'c.db')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a loopback address.*token is required/);
  });

  it('names an unwritable store path and exits 1', async () => {
    // A regular file where a directory should be: unwritable for root too.
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'not a directory');
    const r = await cli(['serve', '--db', join(blocker, 'x', 'store.db'), '--gpu', 'off', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot use --db .*not writable|cannot open store/);
  });

  it('reports every bad flag at once, exit 2', async () => {
    const r = await cli(['serve', '--interval', 'often', '--gpu', 'maybe', '--bogus', '1']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown flag --bogus/);
    expect(r.err).toMatch(/--interval/);
    expect(r.err).toMatch(/--gpu/);
  });

  it('takes flags from the environment', async () => {
    const s = await spawnSidecar(['--db', join(dir, 'd.db')], { env: { TRAINPILOT_GPU: 'off', TRAINPILOT_INTERVAL: '2s' } });
    const c = jsonClient(s.url);
    const host = (await c.get('/v1/host')).json;
    expect(host.collectors.map((h: { name: string }) => h.name)).not.toContain('gpu');
    c.close();
    await s.stop();
  });

  it('prints its flags with --help', async () => {
    const r = await cli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--host', '--port', '--db', '--interval', '--nvidia-smi', '--gpu', '--token-file', '--retention', '--metrics-listen']) expect(r.out).toContain(f);
    expect(r.out).toContain('TRAINPILOT_TOKEN_FILE');
  });
});
