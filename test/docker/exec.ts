import { execFile } from 'node:child_process';

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command after this long; 0 waits forever. */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** The last `max` characters of a command's output, for error messages. */
function tail(text: string, max = 4000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * Run a command with an argument list (never through a shell) and resolve with
 * its output; reject with the exit status and the tail of its output.
 */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 0,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const how = error.killed ? `killed (${error.signal ?? 'timeout'})` : `exit ${String(error.code)}`;
          reject(new Error(`${cmd} ${args.join(' ')}: ${how}\n${tail(stderr || stdout)}`));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}
