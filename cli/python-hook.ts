// Zero-code mode (DESIGN §10), the launcher's part: for a Python command, `trainpilot run` puts
// clients/python/hook first on the job's PYTHONPATH. Its sitecustomize runs the sitecustomize it
// shadows, then waits for the job to import torch and activates the hook (clients/python/
// trainpilot/_autohook). Any other command is started exactly as given.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder `trainpilot run` puts on PYTHONPATH: from cli/ (source), dist/cli/ or dist/app/ (built). */
export const HOOK_DIR: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'clients', 'python', 'hook');
})();

/** python, python3, python3.11, /usr/bin/python3 (with or without a version). */
const PYTHON_NAME = /^python(\d+(\.\d+)*)?$/;

/** The first bytes of a file, '' when it cannot be read. */
function head(path: string, bytes = 512): string {
  let fd: number | null = null;
  try {
    if (!statSync(path).isFile()) return '';
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0)).toString('latin1');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Where the command runs from: a path as given, else the first match on PATH (as execvp looks). */
function locate(command: string, env: NodeJS.ProcessEnv, cwd: string): string | null {
  if (command.includes('/')) return isAbsolute(command) ? command : resolve(cwd, command);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * A script Python runs: `#!/usr/bin/env python3`, `#!/usr/bin/python3 -u`, torchrun's own; also
 * the `#!/bin/sh` + `'''exec' /long/path/python "$0" "$@"` preamble pip writes when the
 * interpreter's path is too long for a shebang line.
 */
export function pythonShebang(text: string): boolean {
  if (!text.startsWith('#!')) return false;
  const [first, second = ''] = text.split('\n', 2);
  if (/^#!\s*\S*\bpython(\d+(\.\d+)*)?\b/.test(first) || /^#!\s*\S*env\s+(-\S+\s+)*python(\d+(\.\d+)*)?\b/.test(first)) return true;
  return /^#!\s*\/bin\/sh\b/.test(first) && /^'''exec' \S*python/.test(second);
}

/** Whether CMD is a Python program: an interpreter by name, or a script with a Python shebang. */
export function isPythonCommand(cmd: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): boolean {
  if (cmd.length === 0) return false;
  if (PYTHON_NAME.test(basename(cmd[0]))) return true;
  const path = locate(cmd[0], env, cwd);
  return path !== null && pythonShebang(head(path));
}

const OFF = new Set(['0', 'false', 'no', 'off']);

/** TRAINPILOT_INJECT=0 (or false, no, off) turns the hook off as --no-inject does. */
export const injectOffByEnv = (env: NodeJS.ProcessEnv): boolean => OFF.has((env.TRAINPILOT_INJECT ?? '').trim().toLowerCase());

/** The job's environment with the hook first on PYTHONPATH (what was there stays, as it was, after it). */
export function withHook(env: NodeJS.ProcessEnv, hookDir = HOOK_DIR): NodeJS.ProcessEnv {
  const before = env.PYTHONPATH ?? '';
  return { ...env, PYTHONPATH: before ? `${hookDir}${delimiter}${before}` : hookDir };
}

/**
 * The summary's line about the hook, from its `note` events: where the loader and optimizer whose
 * batch size and learning rate stay the script's were built, or why the hook stopped. Null when
 * the hook never spoke (no torch, no optimizer step, or the job's own client reported instead).
 */
export function zeroCodeSummary(events: ReadonlyArray<{ kind: string; data: Record<string, unknown> }>): string | null {
  const notes = events.filter((e) => e.kind === 'note' && e.data.source === 'zero-code hook');
  if (notes.length === 0) return null;
  const lines: string[] = [];
  const attach = notes.find((e) => 'loader' in e.data);
  if (attach) {
    const tuned = Array.isArray(attach.data.tuned) && attach.data.tuned.length ? `tuned: ${attach.data.tuned.join(', ')}` : 'nothing tuned';
    const where = attach.data.loader ? `DataLoader at ${String(attach.data.loader)}, optimizer at ${String(attach.data.optimizer)}` : `optimizer at ${String(attach.data.optimizer)}, no DataLoader`;
    const own = Array.isArray(attach.data.tuned) && attach.data.tuned.includes('batch_size')
      ? 'the learning rate follows the batch by the optimizer\'s rule' : 'batch size and learning rate are the script\'s';
    lines.push(`  zero-code hook: ${tuned}; ${own} (${where})`);
  }
  const failed = notes.find((e) => 'error' in e.data);
  if (failed) lines.push(`  zero-code hook stopped: ${String(failed.data.message)} (${String(failed.data.error)})`);
  return `${lines.join('\n')}\n`;
}
