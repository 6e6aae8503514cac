// `trainpilot replay FILE`: run the tuner over a recorded window or run and print its decisions.
import { ReplayError, replayFile } from '../server/runs/replay.js';
import { flagsHelp, parseFlags, type FlagSpec } from './flags.js';
import { UsageError } from './usage-error.js';

const FLAGS: FlagSpec[] = [{ name: 'help', default: null, help: 'show this help', boolean: true }];

const HELP = `Usage: trainpilot replay FILE

Runs the tuner over a recorded window, a recorded run or a simulator scenario (JSON) and
prints the bottleneck and every decision with its reason and evidence.

${flagsHelp(FLAGS)}
`;

export async function replay(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS, {});
  if (p.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (p.positional.length !== 1) p.errors.push('give exactly one FILE');
  if (p.errors.length) throw new UsageError(p.errors, 'replay');
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
