// `trainpilot replay FILE`: run the tuner over a recorded window or run and print its decisions.
import { ReplayError, replayFile } from '../server/runs/replay.js';
import { openCommand, type CommandSpec } from './command.js';
import { UsageError } from './usage-error.js';

const SPEC: CommandSpec = {
  name: 'replay',
  usage: `Usage: trainpilot replay FILE

Runs the tuner over a recorded window, a recorded run or a simulator scenario (JSON) and
prints the bottleneck and every decision with its reason and evidence.`,
  flags: [],
  positional: { one: 'FILE', missing: 'give exactly one FILE' },
};

export async function replay(argv: string[]): Promise<number> {
  const p = openCommand(SPEC, argv, {});
  if (!p) return 0;
  p.done();
  try {
    process.stdout.write(await replayFile(p.positional[0]));
  } catch (err) {
    if (err instanceof ReplayError) throw new UsageError([err.message], 'replay');
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw new UsageError([`cannot read ${p.positional[0]}: ${e.code}`], 'replay');
    throw err;
  }
  return 0;
}
