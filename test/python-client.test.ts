// The Python client's own unit tests (clients/python/tests, unittest) run as part of the suite,
// with the interpreter CI installs PyTorch for. A stand-in sidecar inside those tests is the
// network peer; the end-to-end tests with the real sidecar are in e2e-pytorch.test.ts.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../bench/lib/sidecar-process.js';

/** Debian's python3-torch lives under /usr/bin/python3; the python3 on PATH may be another. */
export const PYTHON = '/usr/bin/python3';
const CLIENT = join(REPO_ROOT, 'clients/python');

interface Ran { code: number; out: string }

function python(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 240_000): Promise<Ran> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRAINPILOT_')));
  return new Promise((resolve) => {
    execFile(PYTHON, args, { cwd: REPO_ROOT, env: { ...base, ...env }, timeout: timeoutMs, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }));
  });
}

describe('Python client (clients/python)', () => {
  it(`${PYTHON} is there`, () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing: .ci/run installs python3-torch for it`).toBe(true);
  });

  it('passes its unit tests (unittest discover), torch ones included', async () => {
    const r = await python(['-m', 'unittest', 'discover', '-v', '-s', join(CLIENT, 'tests'), '-t', join(CLIENT, 'tests')],
      { PYTHONPATH: CLIENT, PYTHONDONTWRITEBYTECODE: '1' });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^OK/m);
    // Outside CI a machine without torch skips the torch modules; in CI that is a failure.
    if (process.env.CI === 'true') expect(r.out, 'nothing is skipped in CI').not.toMatch(/skipped/);
  }, 300_000);

  it('imports with the standard library alone (no torch imported by the package)', async () => {
    const r = await python(['-c', [
      'import sys, trainpilot, trainpilot.distributed, trainpilot.oom',
      'assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))',
      'print(trainpilot.__version__)',
    ].join('; ')], { PYTHONPATH: CLIENT });
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim()).toBe('0.1.0');
  });
});
