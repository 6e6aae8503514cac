// Starts `trainpilot serve` as a real child process (the built CLI) and finds its address.
// Used by end-to-end tests and benchmarks; needs `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { steadyStateV8Flags } from '../../cli/v8-settings.js';

/** The repository root, from bench/lib (source) or dist/bench/lib (built). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const CLI = resolve(REPO_ROOT, 'bin/trainpilot.js');

/**
 * node's flags for in-process benchmarks (bench/run.ts) and helper processes: the sidecar's once
 * started (cli/v8-settings.ts), so figures are what a long-running `trainpilot serve` gets.
 */
export const LAUNCHER_FLAGS: string[] = steadyStateV8Flags();

/**
 * node's flags for the sidecar: none by default, as users start it (`trainpilot run`, npx, a
 * global install: bin/trainpilot.js, which sets its run-time V8 settings itself, cli/v8-settings.ts).
 * BENCH_NODE_FLAGS (space-separated) adds command-line flags to measure other settings, e.g. the
 * image's ENTRYPOINT (commandLineV8Flags()); the launcher still applies its run-time part unless
 * they give the tier-up flag another value.
 */
export const SIDECAR_NODE_FLAGS: string[] = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

export interface SidecarProcess {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGTERM and wait; resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export async function spawnSidecar(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<SidecarProcess> {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  // Run the CLI as users do: the launcher, with no node flags unless BENCH_NODE_FLAGS gives some.
  const proc = spawn(process.execPath, [...SIDECAR_NODE_FLAGS, CLI, 'serve', '--port', '0', '--log', 'warn', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  // BENCH_SIDECAR_STDOUT: a file for the sidecar's stdout (what --trace-gc and the like print there).
  if (process.env.BENCH_SIDECAR_STDOUT) proc.stdout!.pipe(createWriteStream(process.env.BENCH_SIDECAR_STDOUT));
  else proc.stdout!.resume();
  const exited = new Promise<number | string>((res) => proc.once('exit', (code, sig) => res(code ?? sig ?? -1)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`sidecar did not start within ${opts.timeoutMs ?? 15000} ms:\n${err}`)), opts.timeoutMs ?? 15000);
    const onData = () => {
      const m = /serving on (http:\/\/[^\s,]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        proc.stderr!.off('data', onData);
        res(m[1]);
      }
    };
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`sidecar exited (${code}) before serving:\n${err}`));
    });
  });
  return {
    proc,
    url,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
