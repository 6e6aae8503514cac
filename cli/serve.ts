// `trainpilot serve`: parse flags, start the sidecar, stop cleanly on SIGTERM/SIGINT.
import { startSidecar } from '../server/sidecar.js';
import { commandHelp, openCommand, type CommandSpec } from './command.js';
import { SERVE_FLAGS, toServeOptions } from './serve-options.js';

const SPEC: CommandSpec = {
  name: 'serve',
  usage: `Usage: trainpilot serve [flags]

Runs the sidecar: collectors, tuner, SQLite store, HTTP API and /metrics.
Every flag has an environment equivalent.

Logs go to stderr, one readable line each (--log-format json: one JSON object a line). The
start-up line (where it serves, where the live page is) and the shutdown line are printed at
every level but silent; info adds each decision, warn and error what went wrong, debug one
line per HTTP request.`,
  flags: SERVE_FLAGS,
  positional: 'none',
};

export const SERVE_HELP = commandHelp(SPEC);

export async function serve(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = openCommand(SPEC, argv, env);
  if (!parsed) return 0;
  const { options, errors } = toServeOptions(parsed.values, env);
  parsed.errors.push(...errors);
  parsed.done();

  const sidecar = await startSidecar(options);
  // The one start-up line a person reads: the API, the live page (a browser opens it; with a token
  // set it asks for the token), the metrics listener and the store.
  const page = `${sidecar.url}/${options.token ? ' (asks for the token)' : ''}`;
  sidecar.announce(`serving on ${sidecar.url}, live page at ${page}${sidecar.metricsUrl ? `, metrics on ${sidecar.metricsUrl}` : ''} (store ${options.db})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        sidecar.announce(`${signal} again, exiting now`);
        process.exit(1);
      }
      stopping = true;
      sidecar.announce(`${signal}, shutting down`);
      sidecar.close().then(
        () => resolve(0),
        (err) => {
          sidecar.log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
