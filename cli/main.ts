// The CLI's one entry point, its composition root and its only top-level catch: errors become
// messages and exit codes (2: usage; 1: the sidecar unreachable or answering an error, a store
// that cannot be opened, an address that cannot be listened on).
import { StoreOpenError } from '../store/db.js';
import { HttpError, UnreachableError } from './api-client.js';
import { serve, SERVE_HELP } from './serve.js';
import { UsageError } from './usage-error.js';

const HELP = `trainpilot — a sidecar that finds what holds a training job back and tunes it while it runs.

Usage: trainpilot <command> [flags]

Commands:
  serve                 run the sidecar (HTTP API on 127.0.0.1:9477, SQLite store, /metrics)
  run [flags] -- CMD…   start CMD as a training job watched (and tuned) by a sidecar
  status                table of runs
  watch RUN             live view of one run
  report RUN            a run's report with its decisions (--format markdown|json|html)
  dashboards --out DIR  write Grafana dashboards and provisioning files
  replay FILE           run the tuner over a recorded window or run and print its decisions
  hook-path             the zero-code hook's folder, for PYTHONPATH where 'run' cannot wrap the job

'trainpilot <command> --help' shows a command's flags.
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => serve,
  run: async () => (await import('./run.js')).run,
  status: async () => (await import('./status.js')).status,
  watch: async () => (await import('./watch.js')).watch,
  report: async () => (await import('./report.js')).report,
  dashboards: async () => (await import('./dashboards.js')).dashboards,
  replay: async () => (await import('./replay.js')).replay,
  'hook-path': async () => (await import('./hook-path.js')).hookPath,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`${(await import('../server/version.js')).VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`trainpilot: unknown command ${JSON.stringify(name)}\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      for (const p of err.problems) process.stderr.write(`trainpilot ${err.command ?? name}: ${p}\n`);
      process.stderr.write(`Run 'trainpilot ${err.command ?? name} --help' for the flags.\n`);
      return 2;
    }
    if (err instanceof HttpError || err instanceof UnreachableError) {
      process.stderr.write(`trainpilot ${name}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof StoreOpenError) {
      process.stderr.write(`trainpilot: ${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      process.stderr.write(`trainpilot: cannot listen: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`trainpilot: ${e.stack ?? e.message}\n`);
    return 1;
  }
}

export { SERVE_HELP };
