// `trainpilot watch RUN`: a live view of one run, refreshed each second, until it ends or Ctrl-C.
import { createApiClient, resolveRun, UnreachableError } from './api-client.js';
import { commandHelp, openCommand, type CommandSpec } from './command.js';
import { parseDuration } from './flags.js';
import { followRun } from './follow.js';
import { statusLine } from './status-line.js';

const SPEC: CommandSpec = {
  name: 'watch',
  usage: `Usage: trainpilot watch RUN [flags]

A live view of one run (its id, or its name): samples/s, data wait, bottleneck, config, and each
decision as it happens. Ends when the run ends (exit 0) or on Ctrl-C.`,
  flags: [{ name: 'interval', default: '1s', help: 'refresh this often' }],
  positional: { one: 'RUN', missing: 'which run? give its id or name' },
  client: true,
};

export const WATCH_HELP = commandHelp(SPEC);

/** How long the sidecar may stay unreachable before watch gives up. */
const GIVE_UP_AFTER_S = 10;
/** Off a terminal (a log, a pipe), a status line this often. */
const PLAIN_EVERY_MS = 10_000;

export async function watch(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = openCommand(SPEC, argv, env);
  if (!parsed) return 0;
  const interval = parseDuration(parsed.values.interval ?? '');
  if (interval === null || interval < 0.1 || interval > 60) parsed.errors.push(`--interval: ${JSON.stringify(parsed.values.interval)} is not a duration between 100ms and 1m`);
  parsed.done();

  const client = createApiClient({ url: parsed.url, token: parsed.token });
  const id = await resolveRun(client, parsed.positional[0]);
  const startedAt = (await client.run(id)).created_at;

  const out = process.stdout;
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = async (code: number, last?: string, problem?: string) => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await follower.stop();
      if (last) out.write(`${last}\n`);
      if (problem) process.stderr.write(`trainpilot watch: ${problem}\n`);
      resolve(code);
    };
    const follower = followRun(client, id, {
      out,
      tty: out.isTTY === true,
      everyMs: interval! * 1000,
      plainEveryMs: PLAIN_EVERY_MS,
      startedAt,
      onPoll: (run) => {
        if (run.state !== 'running') void finish(0, statusLine(run, follower.latest().lastDecision, (run.ended_at ?? run.created_at) - run.created_at));
      },
      onError: (err, inARow) => {
        // A sidecar restarting is worth waiting for a little; an error answer (run gone, bad token) is not.
        if (err instanceof UnreachableError && inARow * interval! < GIVE_UP_AFTER_S) return;
        void finish(1, undefined, (err as Error).message);
      },
    });
    // Ctrl-C is the normal way to stop watching: clean line, exit 0.
    const onSignal = () => void finish(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
