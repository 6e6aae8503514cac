// Running nvidia-smi: always the executable itself with an argument list,
// never through a shell (DESIGN §8), and always with a deadline.
import { execFile } from 'node:child_process';

/** `nvidia-smi -q -x` etc. as a short label for messages. */
export function commandLabel(args: readonly string[]): string {
  const shown = args.filter((a) => !a.startsWith('--format')).map((a) => (a.includes('=') ? `${a.split('=')[0]}=…` : a));
  return ['nvidia-smi', ...shown].join(' ');
}

/** The last non-empty line of what a process printed, shortened. */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/** Why a spawn failed, in words an operator can act on. */
export function describeSpawnError(path: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `nvidia-smi not found at ${JSON.stringify(path)} (ENOENT)`;
  if (err.code === 'EACCES') return `nvidia-smi at ${JSON.stringify(path)} is not executable (EACCES)`;
  return `cannot run nvidia-smi at ${JSON.stringify(path)}: ${err.message}`;
}

/** How an ended nvidia-smi ended, with the last thing it said. */
export function describeExit(label: string, code: number | null, signal: NodeJS.Signals | null, stderr: string, stdout = ''): string {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const said = lastLine(stderr) || lastLine(stdout);
  return said ? `${label} ${how}: ${said}` : `${label} ${how}`;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Run nvidia-smi once and return its stdout; throws an Error whose message says what went wrong. */
export function runNvidiaSmi(path: string, args: readonly string[], opts: RunOptions): Promise<string> {
  const label = commandLabel(args);
  return new Promise((resolve, reject) => {
    execFile(
      path,
      args,
      { timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', signal: opts.signal, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null; code?: number | string | null };
        if (typeof e.code === 'string' && e.code !== 'ABORT_ERR') return reject(new Error(describeSpawnError(path, e)));
        if (e.name === 'AbortError' || e.code === 'ABORT_ERR') return reject(new Error(`${label} was cancelled`));
        if (e.killed) return reject(new Error(`${label} did not answer within ${opts.timeoutMs / 1000} s; killed it`));
        reject(new Error(describeExit(label, typeof e.code === 'number' ? e.code : null, e.signal ?? null, stderr, stdout)));
      },
    );
  });
}
