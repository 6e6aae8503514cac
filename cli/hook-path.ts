// `trainpilot hook-path`: the folder to put first on a Python job's PYTHONPATH for zero-code mode
// where `trainpilot run` cannot wrap the command (DESIGN §10, issue 25): a pod's trainer container,
// a DaemonSet's node, a launcher of its own. With TRAINPILOT_URL set and no TRAINPILOT_RUN_ID, the
// hook registers the run itself. --copy-to DIR copies the hook (and the package it loads, which
// sits beside it) into DIR first: an init container filling a volume the trainer mounts.
import { cpSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { openCommand, type CommandSpec } from './command.js';
import { HOOK_DIR } from './python-hook.js';

const SPEC: CommandSpec = {
  name: 'hook-path',
  usage: `Usage: trainpilot hook-path [--copy-to DIR]

Prints the folder of trainpilot's zero-code hook, to put first on PYTHONPATH where
'trainpilot run' cannot wrap the job (a pod's trainer, a node's jobs, torchrun, a launcher
of your own):

  PYTHONPATH=$(trainpilot hook-path) TRAINPILOT_URL=http://127.0.0.1:9477 python train.py

The job needs nothing installed. Once it imports torch, the hook registers a run named for
the script (TRAINPILOT_NAME overrides), reports every optimizer step, applies the data
loader's knobs at epoch starts, and records 'finished' or 'failed' with the exit code. Tuning
follows TRAINPILOT_TUNE (auto, advise or off; default auto), TRAINPILOT_KNOBS (a comma
list, as 'trainpilot run --knobs'; default the loader's knobs num_workers, prefetch_factor,
persistent_workers, pin_memory) and TRAINPILOT_HOST_MEMORY_BUDGET (a size such as 6GiB, as
'trainpilot run --host-memory-budget'). TRAINPILOT_INJECT=0 turns it off. With the
sidecar down, the job runs as it would without trainpilot.

--copy-to DIR copies the hook into DIR (a volume shared with the trainer) and prints the
folder there to put on PYTHONPATH.`,
  flags: [{ name: 'copy-to', default: null, help: 'copy the hook into DIR (created if missing) and print its folder there' }],
  positional: 'none',
};

/** The hook's folder and the package it loads, beside it (hook/sitecustomize.py finds ../trainpilot). */
export function copyHook(to: string, hookDir = HOOK_DIR): string {
  const target = resolve(to);
  mkdirSync(target, { recursive: true });
  const from = dirname(hookDir);
  for (const part of [basename(hookDir), 'trainpilot']) {
    cpSync(join(from, part), join(target, part), {
      recursive: true,
      force: true,
      filter: (src) => basename(src) !== '__pycache__' && !src.endsWith('.pyc'),
    });
  }
  return join(target, basename(hookDir));
}

export async function hookPath(argv: string[]): Promise<number> {
  const p = openCommand(SPEC, argv, {});
  if (!p) return 0;
  if (p.values['copy-to'] === '') p.errors.push('--copy-to: a directory is required');
  p.done();
  const dir = p.values['copy-to'] ? copyHook(p.values['copy-to']) : HOOK_DIR;
  process.stdout.write(`${dir}\n`);
  return 0;
}
