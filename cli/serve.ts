// `trainpilot serve`: parse flags, start the sidecar, stop cleanly on SIGTERM/SIGINT.
import { startSidecar } from '../server/sidecar.js';
import { flagsHelp, parseFlags } from './flags.js';
import { SERVE_FLAGS, toServeOptions } from './serve-options.js';
import { UsageError } from './usage-error.js';

export const SERVE_HELP = `Usage: trainpilot serve [flags]

Runs the sidecar: collectors, tuner, SQLite store, HTTP API and /metrics.
Every flag has an environment equivalent.

${flagsHelp(SERVE_FLAGS)}
`;

export async function serve(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseFlags(argv, [...SERVE_FLAGS, { name: 'help', default: null, help: '', boolean: true }], env);
  if (parsed.values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  if (parsed.positional.length) parsed.errors.push(`unexpected argument ${JSON.stringify(parsed.positional[0])}`);
  const { options, errors } = toServeOptions(parsed.values, env);
  errors.unshift(...parsed.errors);
  if (errors.length) throw new UsageError(errors, 'serve');

  const sidecar = await startSidecar(options);
  process.stderr.write(`trainpilot: serving on ${sidecar.url}${sidecar.metricsUrl ? `, metrics on ${sidecar.metricsUrl}` : ''} (store ${options.db})\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`trainpilot: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`trainpilot: ${signal}, shutting down\n`);
      sidecar.close().then(
        () => resolve(0),
        (err) => {
          process.stderr.write(`trainpilot: shutdown failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
