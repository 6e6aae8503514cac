// A real Prometheus (Debian's /usr/bin/prometheus) on 127.0.0.1, in a temp
// dir, scraping given targets every second and evaluating given rule files.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findBinary } from './prometheus-tools.js';

export interface PrometheusServer {
  url: string;
  /** GET /api/v1/<path>?params; throws unless Prometheus answers status "success". */
  api<T = unknown>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  logs(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function startPrometheus(opts: { job: string; targets: string[]; ruleFiles: string[] }): Promise<PrometheusServer> {
  const bin = findBinary('prometheus');
  if (!bin) throw new Error('prometheus is not installed (Debian package "prometheus"; .ci/run installs it)');
  const dir = await mkdtemp(join(tmpdir(), 'trainpilot-prometheus-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    rule_files: opts.ruleFiles,
    scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }],
  }));
  const proc: ChildProcess = spawn(bin, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stdout!.on('data', (d: Buffer) => { logs += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { logs += d.toString(); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when /-/ready answers 200 (TSDB open, config loaded).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}):\n${logs}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 20 s:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    logs: () => logs,
    stop,
    async api<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
      const res = await fetch(`${url}/api/v1/${path}?${qs}`);
      const body = await res.json() as { status: string; data: T; error?: string; errorType?: string };
      if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
      return body.data;
    },
  };
}
