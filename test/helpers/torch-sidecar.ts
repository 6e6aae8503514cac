// The setup every zero-code end-to-end file opens with: /usr/bin/python3 must import torch (a clear
// failure, never a skip: .ci/run installs python3-torch), one real sidecar for the file with its
// store in a fresh folder, both gone after the file's tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { spawnSidecar, type SidecarProcess } from '../../bench/lib/sidecar-process.js';

export const PYTHON = '/usr/bin/python3';

/** Registers the file's beforeAll/afterAll; `url` is the sidecar's once the tests run. */
export function torchSidecar(name: string): { readonly url: string; readonly dir: string } {
  const dir = mkdtempSync(join(tmpdir(), `trainpilot-${name}-`));
  let s: SidecarProcess | undefined;
  beforeAll(async () => {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`${PYTHON} cannot import torch (.ci/run installs python3-torch): ${probe.stderr}`);
    s = await spawnSidecar(['--db', join(dir, `${name}.db`), '--gpu', 'off', '--interval', '1s']);
  }, 60_000);
  afterAll(async () => {
    await s?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get url() {
      if (!s) throw new Error('the sidecar is not started (beforeAll failed)');
      return s.url;
    },
    dir,
  };
}
