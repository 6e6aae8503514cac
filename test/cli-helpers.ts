// For the client-command tests: a real sidecar app listening on loopback (store reachable for
// checks and for writing what only the tuner writes), and the built CLI as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO_ROOT } from '../bench/lib/sidecar-process.js';
import type { Decision } from '../domain/decisions.js';
import type { AppDeps } from '../server/app.js';
import { testApp, type TestApp } from './helpers/app.js';

export interface ListeningSidecar extends TestApp {
  url: string;
}

export async function listeningSidecar(deps: Partial<AppDeps> = {}): Promise<ListeningSidecar> {
  const t = await testApp(deps);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...t, url };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  proc: ChildProcess;
  /** Resolves once stdout has matched. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** What it printed on stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

/** `node bin/trainpilot.js ARGS` with TRAINPILOT_* cleared from the environment unless given. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): CliProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRAINPILOT_')));
  const proc = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters.filter((x) => x.re.test(stdout))) w.resolve();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    proc,
    done,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(re, timeoutMs = 15_000) {
      if (re.test(stdout)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} on stdout within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void done.then(() => reject(new Error(`exited before ${re}\nstdout: ${stdout}\nstderr: ${stderr}`)));
      });
    },
  };
}

export const cli = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => startCli(args, env, cwd).done;

/**
 * A job that reports steps like the client would: it attaches its config, then posts steps whose
 * throughput doubles halfway (samples 32 → 64 at the same duration), prints what it saw, and ends
 * as told by argv: `exit N`, `signal SIG`, `sleep MS` (then exit 0), or `wait` (until SIGTERM, then exit 7,
 * or SIGINT, then exit 8).
 */
export function writeJob(dir: string): string {
  const path = join(dir, 'job.mjs');
  writeFileSync(path, `
const url = process.env.TRAINPILOT_URL, id = process.env.TRAINPILOT_RUN_ID;
const headers = { 'content-type': 'application/json' };
if (process.env.TRAINPILOT_TOKEN) headers.authorization = 'Bearer ' + process.env.TRAINPILOT_TOKEN;
console.log(JSON.stringify({ job: 'started', pid: process.pid, url: url ?? null, id: id ?? null }));
if (url && id) {
  await fetch(url + '/v1/runs/' + id + '/config', { method: 'PUT', headers, body: JSON.stringify({ config: { batch_size: 32, learning_rate: 0.001, num_workers: 0 } }) });
  const steps = Array.from({ length: 40 }, (_, i) => ({ step: i, duration_s: 0.1, data_wait_s: i < 20 ? 0.05 : 0.01, samples: i < 20 ? 32 : 64, loss: 2 - i * 0.01 }));
  const r = await fetch(url + '/v1/runs/' + id + '/steps', { method: 'POST', headers, body: JSON.stringify({ steps }) });
  console.log(JSON.stringify({ job: 'reported', status: r.status }));
}
const [how, arg] = process.argv.slice(2);
if (how === 'signal') process.kill(process.pid, arg);
if (how === 'sleep') setTimeout(() => process.exit(0), Number(arg));
if (how === 'wait') {
  process.on('SIGTERM', () => { console.log(JSON.stringify({ job: 'got SIGTERM' })); process.exit(7); });
  // Counted, and a moment to let a duplicate arrive: one Ctrl-C must interrupt the job once.
  let sigints = 0;
  process.on('SIGINT', () => { console.log(JSON.stringify({ job: 'got SIGINT', n: ++sigints })); setTimeout(() => process.exit(8), 300); });
  console.log(JSON.stringify({ job: 'waiting' }));
  setInterval(() => {}, 1000);
} else if (how !== 'sleep') process.exit(Number(arg ?? 0));
`);
  return path;
}

/** What the tuner would write: a decision with its evidence and advice, through the store's tuner port. */
export function decision(overrides: Partial<Decision> = {}): Decision {
  const before = { batch_size: 32, learning_rate: 0.001, num_workers: 0, grad_accum_steps: 1 };
  return {
    knob: 'num_workers',
    action: 'increase',
    reason: 'input-bound: data wait is 50% of each step and 1.2 cores are free',
    evidence: { data_wait_ratio: 0.5, before_process_cpu_cores: 1.2 },
    configBefore: before,
    configAfter: { ...before, num_workers: 2 },
    advice: [{ code: 'faster_storage', title: 'Faster storage or caching', why: 'reads wait on the disk' }],
    recommendOnly: false,
    ...overrides,
  };
}
