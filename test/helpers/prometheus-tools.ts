// Debian's prometheus and promtool, for the tests that need the real thing.
// In CI (CI=true) a missing binary fails the test that needs it; elsewhere the
// test may skip (see `skipWithout`).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when the test should skip: the binary is missing and we are not in CI. In CI it runs, and fails. */
export function skipWithout(name: string): boolean {
  return findBinary(name) === undefined && process.env.CI !== 'true';
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `bin args…` without a shell, feeding `stdin`. Throws when it cannot start (missing in CI). */
export function runTool(bin: string, args: string[], stdin = '', cwd?: string): Promise<RunResult> {
  const path = findBinary(bin) ?? bin;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
