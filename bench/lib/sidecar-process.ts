// Starts `trainpilot serve` as a real child process (the built CLI) and finds its address.
// Used by end-to-end tests and benchmarks; needs `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from bench/lib (source) or dist/bench/lib (built). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const CLI = resolve(REPO_ROOT, 'bin/trainpilot.js');

/**
 * The V8 flags bin/trainpilot.js's shell line gives `trainpilot serve` on this Node: in-process
 * benchmarks run under them too, so figures are what users get. Of the tier-up flags named
 * there, the one this V8 knows (--interrupt-budget before V8 12, the invocation count after).
 */
export const LAUNCHER_FLAGS: string[] = (() => {
  const execLine = readFileSync(CLI, 'utf8').split('\n').find((l) => l.includes('exec node')) ?? '';
  const newV8 = Number(process.versions.v8.split('.')[0]) >= 12;
  return (execLine.match(/--[\w-]+=\d+/g) ?? []).filter((f) =>
    f.startsWith('--interrupt-budget=') ? !newV8 : f.startsWith('--invocation-count-for-turbofan=') ? newV8 : true);
})();

export interface SidecarProcess {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGTERM and wait; resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export async function spawnSidecar(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<SidecarProcess> {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  // Run the CLI as users do (its shebang carries the V8 flags).
  const proc = spawn(CLI, ['serve', '--port', '0', '--log', 'warn', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  proc.stdout!.resume();
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
