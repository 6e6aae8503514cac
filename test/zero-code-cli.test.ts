// Which commands `trainpilot run` gives the zero-code hook (cli/python-hook.ts), with real files
// for the shebang cases; the hook itself is tested in zero-code.test.ts and clients/python/tests.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HOOK_DIR, injectOffByEnv, isPythonCommand, pythonShebang, withHook, zeroCodeSummary } from '../cli/python-hook.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-zero-code-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, 0o755);
  return p;
}

describe('a Python command', () => {
  it.each([
    ['python'], ['python3'], ['python3.11'], ['/usr/bin/python3'], ['/opt/venv/bin/python3.12'],
  ])('%s by name', (cmd) => {
    expect(isPythonCommand([cmd, 'train.py'], { PATH: '' })).toBe(true);
  });

  it('python -m module', () => {
    expect(isPythonCommand(['python3', '-m', 'torch.distributed.run', 'train.py'], { PATH: '' })).toBe(true);
  });

  it('a script with a python shebang, by path or found on PATH', () => {
    const p = script('train', '#!/usr/bin/env python3\nprint(1)\n');
    expect(isPythonCommand([p], {})).toBe(true);
    expect(isPythonCommand(['train'], { PATH: `/nonexistent:${dir}` })).toBe(true);
    expect(isPythonCommand(['./train'], {}, dir)).toBe(true);
  });

  it('shebang forms', () => {
    expect(pythonShebang('#!/usr/bin/python3\n')).toBe(true);
    expect(pythonShebang('#!/usr/bin/python3.11 -u\n')).toBe(true);
    expect(pythonShebang('#! /usr/bin/env python\n')).toBe(true);
    expect(pythonShebang('#!/usr/bin/env -S python3 -u\n')).toBe(true);
    // pip's preamble when the interpreter's path is too long for a shebang line.
    expect(pythonShebang("#!/bin/sh\n'''exec' /very/long/venv/bin/python3 \"$0\" \"$@\"\n' '''\n")).toBe(true);
    expect(pythonShebang('#!/bin/bash\npython3 train.py\n')).toBe(false);
    expect(pythonShebang('#!/usr/bin/env node\n')).toBe(false);
    expect(pythonShebang('print("no shebang")\n')).toBe(false);
  });

  it('torchrun, when it is a python script on PATH', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    script('bin/torchrun', '#!/usr/bin/python3\nfrom torch.distributed.run import main\nmain()\n');
    expect(isPythonCommand(['torchrun', '--nproc-per-node', '2', 'train.py'], { PATH: bin })).toBe(true);
  });
});

describe('not a Python command', () => {
  it.each([
    [['bash', 'train.sh']], [['node', 'job.mjs']], [['pythonic']], [['python3-config']], [['./missing-file']], [['uv', 'run', 'python', 'x.py']],
  ])('%j', (cmd) => {
    expect(isPythonCommand(cmd, { PATH: dir }, dir)).toBe(false);
  });

  it('a directory or a shell script named like a python one', () => {
    mkdirSync(join(dir, 'tool.py'), { recursive: true });
    expect(isPythonCommand([join(dir, 'tool.py')], {})).toBe(false);
    expect(isPythonCommand([script('run.sh', '#!/bin/sh\nexec python3 "$@"\n')], {})).toBe(false);
  });
});

describe('the environment', () => {
  it('puts the hook first on PYTHONPATH and keeps what was there, as it was', () => {
    expect(withHook({}).PYTHONPATH).toBe(HOOK_DIR);
    expect(withHook({ PYTHONPATH: '/a::/b' }).PYTHONPATH).toBe(`${HOOK_DIR}:/a::/b`);
    expect(withHook({ PATH: '/bin' }).PATH).toBe('/bin');
  });

  it('the hook folder is shipped: clients/python is in package.json "files"; it holds the sitecustomize alone', () => {
    expect(existsSync(join(HOOK_DIR, 'sitecustomize.py'))).toBe(true);
    expect(HOOK_DIR).toMatch(/clients\/python\/hook$/);
  });

  it('TRAINPILOT_INJECT=0 (or false, no, off) turns it off', () => {
    for (const v of ['0', 'false', 'NO', ' off ']) expect(injectOffByEnv({ TRAINPILOT_INJECT: v })).toBe(true);
    for (const v of [undefined, '1', 'true', '']) expect(injectOffByEnv({ TRAINPILOT_INJECT: v })).toBe(false);
  });
});

describe("the summary's zero-code line", () => {
  const attach = { kind: 'note', data: { source: 'zero-code hook', message: '…', loader: 'train.py:41', optimizer: 'train.py:44', tuned: ['num_workers'] } };
  it('names where batch size and learning rate are set, and what is tuned', () => {
    expect(zeroCodeSummary([{ kind: 'epoch_end', data: {} }, attach])).toBe(
      "  zero-code hook: tuned: num_workers; batch size and learning rate are the script's (DataLoader at train.py:41, optimizer at train.py:44)\n");
    expect(zeroCodeSummary([{ ...attach, data: { ...attach.data, loader: null, tuned: [] } }])).toMatch(/nothing tuned; .*\(optimizer at train\.py:44, no DataLoader\)/);
  });

  it('says the learning rate follows the batch when --knobs let the hook change it', () => {
    expect(zeroCodeSummary([{ ...attach, data: { ...attach.data, tuned: ['num_workers', 'batch_size', 'learning_rate'] } }])).toBe(
      "  zero-code hook: tuned: num_workers, batch_size, learning_rate; the learning rate follows the batch by the optimizer's rule (DataLoader at train.py:41, optimizer at train.py:44)\n");
  });

  it('says why the hook stopped', () => {
    const stopped = { kind: 'note', data: { source: 'zero-code hook', message: 'the zero-code hook stopped', error: 'RuntimeError: boom' } };
    expect(zeroCodeSummary([attach, stopped])).toMatch(/\n {2}zero-code hook stopped: the zero-code hook stopped \(RuntimeError: boom\)\n$/);
  });

  it('is absent when the hook never spoke (the job reported through the client, or never stepped)', () => {
    expect(zeroCodeSummary([{ kind: 'note', data: { message: 'client dropped step reports' } }])).toBeNull();
  });
});
