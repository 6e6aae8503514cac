// `trainpilot run [flags] -- CMD ARGS…`: start CMD as a training job watched (and tuned) by a
// sidecar — the one at --url, or one started in this process. The job comes first: whatever
// happens to the sidecar, CMD runs and its exit code is ours (DESIGN §8).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { checkUrl, CLIENT_FLAGS, createApiClient, HttpError, type ApiClient, type Run } from './api-client.js';
import { commandHelp, openCommand, type CommandSpec } from './command.js';
import { followRun, type Follower } from './follow.js';
import { injectOffByEnv, isPythonCommand, withHook, zeroCodeSummary } from './python-hook.js';
import { gatherReport } from './report-data.js';
import { bareSummary, summaryText, type JobEnd } from './report-summary.js';
import { SERVE_FLAGS, toServeOptions, type ServeOptions } from './serve-options.js';
import { KNOBS } from '../domain/config.js';
import { parseSize } from './flags.js';
import { resolveToken } from './token.js';

const serveFlag = (name: string) => SERVE_FLAGS.find((f) => f.name === name)!;

const SPEC: CommandSpec = {
  name: 'run',
  flags: [
    { name: 'name', default: null, help: 'run name (default: the script or command name)' },
    { name: 'tune', default: 'auto', help: 'auto (apply decisions), advise (recommend only), off' },
    // --url is optional here (no address: a sidecar is started in this process), so not `client`.
    { ...CLIENT_FLAGS[0], default: null, help: 'use the sidecar at this address instead of starting one here' },
    CLIENT_FLAGS[1],
    { name: 'knobs', default: null, help: `what the zero-code hook may change, comma-separated: ${KNOBS.join(', ')} (default: the loader's knobs num_workers, prefetch_factor, persistent_workers, pin_memory)` },
    { name: 'host-memory-budget', default: null, help: "host memory the job's process tree may hold (6GiB, 512MiB, 8GB, bytes): the loader's knobs stay within it (default: the job's cgroup memory limit, else available memory, less a margin)" },
    { name: 'no-inject', default: null, boolean: true, help: 'no zero-code hook for a Python command (also TRAINPILOT_INJECT=0)' },
    ...['db', 'interval', 'nvidia-smi', 'gpu'].map((n) => ({ ...serveFlag(n), help: `${serveFlag(n).help} (sidecar started here)` })),
  ],
  positional: 'any',
  usage: `Usage: trainpilot run [flags] -- CMD [ARGS…]

Starts CMD (no shell) with TRAINPILOT_URL and TRAINPILOT_RUN_ID in its environment, registers it
so its process tree and GPUs are watched even if it never uses the client, shows a live status
line on a terminal, prints a summary when it ends, passes SIGTERM (and SIGINT, when Ctrl-C on a
terminal has not already reached it) on to it, and exits with its exit code (128 + signal
number when a signal killed it).

A Python CMD (python…, or a script with a python shebang) gets the zero-code hook on its
PYTHONPATH: once it imports torch, each optimizer step is reported (data wait, step time,
samples, loss) and data-loader workers are tuned at epoch boundaries, with no change to the
script. --no-inject (or TRAINPILOT_INJECT=0) starts it untouched.

--knobs batch_size,learning_rate,num_workers lets the hook change the training loader's batch
size at an epoch start and scale the learning rate by the optimizer's rule (linear for SGD,
square root for Adam) in every param group and in the LR scheduler's base values. Where that is
not safe (a scheduler keyed to a total step count such as OneCycleLR, an IterableDataset, a
custom batch sampler) the batch is left as it is and the hook says why once, with the line.

The loader's knobs (the default --knobs), applied when the training loader next starts an epoch:
  num_workers         worker processes loading batches; grows while steps wait for data, up to
                      the job's cores (past them when workers mostly wait on storage), shrinks
                      when they sit idle
  persistent_workers  workers kept alive between epochs; turned on when each epoch's workers
                      take a measured share of the epoch to start (iterator made → first batch)
                      and the loader is the same object every epoch
  prefetch_factor     batches each worker keeps ready; doubled (up to 8) as a trial when steps
                      still wait for data, no worker move pays and the workers keep up on
                      average (a deeper queue hides uneven batches, not a slow loader)
  pin_memory          page-locked batches for faster copies to the GPU; CUDA jobs only
Refused: prefetch_factor and persistent_workers without workers (torch raises), pin_memory on a
CPU-only job, a loader over an IterableDataset, and any move whose predicted host memory
(workers × their measured RSS + prefetched batches × a batch's bytes) would pass the budget:
--host-memory-budget, else the job's cgroup memory limit, else available memory, less a margin
(10 %, at least 256 MB); the decision log names the refused move.`,
};

export const RUN_HELP = commandHelp(SPEC);

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;
const INTERPRETERS = /^(python[0-9.]*|node|deno|bun|ruby|perl|bash|sh|torchrun|accelerate|uv|poetry)$/;
/** Off a terminal, a status line this often (decisions are printed as they happen). */
const PLAIN_EVERY_MS = 30_000;

/** `python3 train.py` → train.py; `./job` → job; made to fit the API's name pattern. */
export function defaultName(cmd: string[]): string {
  let base = basename(cmd[0]);
  const script = cmd.slice(1).find((a) => !a.startsWith('-'));
  if (INTERPRETERS.test(base) && script) base = basename(script);
  const clean = base.replace(/[^A-Za-z0-9._:@+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  return clean || 'job';
}

export const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0);

interface Sidecar {
  client: ApiClient;
  close(): Promise<void>;
}

const warn = (text: string) => process.stderr.write(`trainpilot run: ${text}\n`);

async function connect(url: string | null, token: string | null, serve: ServeOptions): Promise<Sidecar | null> {
  if (url) return { client: createApiClient({ url, token, timeoutMs: 3000 }), close: async () => {} };
  try {
    const { startSidecar } = await import('../server/sidecar.js');
    const s = await startSidecar(serve);
    return { client: createApiClient({ url: s.url, token }), close: () => s.close() };
  } catch (err) {
    warn(`could not start a sidecar (${(err as Error).message}); the job runs unwatched`);
    return null;
  }
}

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = openCommand(SPEC, argv, env);
  if (!parsed) return 0;
  const v = parsed.values;
  const errors = parsed.errors;
  const cmd = parsed.rest;
  if (cmd.length === 0) {
    errors.push(parsed.positional.length ? `put the command after --: trainpilot run [flags] -- ${parsed.positional.join(' ')}` : 'no command: trainpilot run [flags] -- CMD [ARGS…]');
  } else if (parsed.positional.length) errors.push(`unexpected argument ${JSON.stringify(parsed.positional[0])} before --`);
  const tune = v.tune ?? '';
  if (!['auto', 'advise', 'off'].includes(tune)) errors.push(`--tune: ${JSON.stringify(tune)} is not one of auto, advise, off`);
  const name = v.name ?? (cmd.length ? defaultName(cmd) : 'job');
  if (!NAME.test(name)) errors.push(`--name: ${JSON.stringify(name)} must be 1–128 letters, digits and . _ : @ + - (starting with a letter or digit)`);
  if (v.url) checkUrl(v.url, errors);
  const token = resolveToken(v, env, errors);
  const noInject = v['no-inject'];
  if (noInject !== null && !['true', 'false', '1', '0', ''].includes(noInject)) errors.push(`--no-inject: ${JSON.stringify(noInject)} is not true or false`);
  const inject = !(noInject === 'true' || noInject === '1') && !injectOffByEnv(env);
  const knobs = v.knobs === null ? null : v.knobs.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const k of knobs ?? []) if (!(KNOBS as readonly string[]).includes(k)) errors.push(`--knobs: ${JSON.stringify(k)} is not one of ${KNOBS.join(', ')}`);
  const size = v['host-memory-budget'] === null ? null : parseSize(v['host-memory-budget']);
  if (size && 'error' in size) errors.push(`--host-memory-budget: ${size.error}`);
  const budgetBytes = size && 'bytes' in size ? size.bytes : null;
  const serve = toServeOptions(
    { ...Object.fromEntries(SERVE_FLAGS.map((f) => [f.name, f.default])), ...v, host: '127.0.0.1', port: '0', log: 'silent', 'metrics-listen': null },
    env,
  );
  if (!v.url) errors.push(...serve.errors);
  parsed.done();

  const sidecar = await connect(v.url, token, serve.options);
  let registered: Run | null = null;
  if (sidecar) {
    try {
      registered = await sidecar.client.register({ name, tune: { mode: tune, ...(budgetBytes !== null ? { host_memory_budget_bytes: budgetBytes } : {}) } });
    } catch (err) {
      warn(`could not register the run (${(err as Error).message}); the job runs unwatched`);
    }
  }
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.TRAINPILOT_RUN_ID; // an outer run's id must not leak into this job
  if (sidecar) childEnv.TRAINPILOT_URL = sidecar.client.url;
  if (registered) childEnv.TRAINPILOT_RUN_ID = registered.id;
  if (token) childEnv.TRAINPILOT_TOKEN = token; // from --token-file: the job's client needs it too
  if (knobs) childEnv.TRAINPILOT_KNOBS = knobs.join(','); // what the zero-code hook may change (docs/zero-code.md)
  else delete childEnv.TRAINPILOT_KNOBS;
  // The hook's run of its own (no run registered here) takes the budget from the environment too.
  if (budgetBytes !== null) childEnv.TRAINPILOT_HOST_MEMORY_BUDGET = String(budgetBytes);
  // Zero-code mode (DESIGN §10): only for a run the sidecar knows, and only for Python.
  const hooked = inject && registered !== null && isPythonCommand(cmd, childEnv);
  const jobEnv = hooked ? withHook(childEnv) : childEnv;

  const startedMs = Date.now();
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env: jobEnv });
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  // Ctrl-C on a terminal reaches the whole foreground process group, CMD included: passing it on
  // too would interrupt CMD twice (a second KeyboardInterrupt inside Python's cleanup). Off a
  // terminal a SIGINT was meant for us alone, so it is passed on. uv settled on the same rule
  // (astral-sh/uv#13925). Either way we stay to report how CMD ended.
  const interactive = process.stdin.isTTY === true;
  const onSigint = () => interactive || forward('SIGINT');
  const onSigterm = () => forward('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    // 'error' without a pid: it never started (127 not found, 126 not executable, as shells say).
    // With a pid it is a failed kill, and 'exit' still comes.
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ code: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126, signal: null, error });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  let follower: Follower | null = null;
  if (sidecar && registered && child.pid !== undefined) {
    const id = registered.id;
    await attachPid(sidecar.client, id, child.pid);
    const tty = process.stderr.isTTY === true;
    // Announced on every stream: the id is what `trainpilot report` and `watch` take.
    warn(`${name} (run ${id}, pid ${child.pid}) watched by ${sidecar.client.url}, tuning ${tune}${hooked ? ', zero-code hook on' : ''}`);
    let warned = false;
    follower = followRun(sidecar.client, id, {
      out: process.stderr, tty, everyMs: 1000, plainEveryMs: PLAIN_EVERY_MS, startedAt: startedMs / 1000,
      onError: (err) => {
        if (!warned) warn(`lost the sidecar (${(err as Error).message}); the job goes on`);
        warned = true;
      },
    });
  }

  const result = await ended;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  const end: JobEnd = { durationS: (Date.now() - startedMs) / 1000, exitCode: exitCodeOf(result.code, result.signal), signal: result.signal };
  // Said at once, before the sampler notices the pid gone and can only record a bare `exited`.
  // Settled into a value now: a rejection left unhandled while we wait below would end the process.
  const recorded = sidecar && registered
    ? recordEnd(sidecar.client, registered.id, end, result.error).then(() => null, (err: Error) => err)
    : null;
  await follower?.stop();
  if (result.error) warn(`cannot start ${JSON.stringify(cmd[0])}: ${result.error.message}`);

  if (sidecar && registered && recorded) {
    try {
      const failed = await recorded;
      if (failed) throw failed;
      const report = await gatherReport(sidecar.client, registered.id);
      process.stderr.write(summaryText(report, end));
      if (hooked) process.stderr.write(zeroCodeSummary(report.events) ?? '');
      // A sidecar of our own is gone once we return; one at --url keeps the run for later.
      process.stderr.write(v.url
        ? `  report: trainpilot report ${registered.id} --url ${sidecar.client.url}\n`
        : `  stored in ${serve.options.db}: trainpilot serve --db ${serve.options.db}, then trainpilot report ${registered.id}\n`);
    } catch (err) {
      warn(`no summary from the sidecar (${(err as Error).message})`);
      process.stderr.write(bareSummary(name, end));
    }
  } else {
    process.stderr.write(bareSummary(name, end));
  }
  await sidecar?.close().catch((err: Error) => warn(`sidecar shutdown: ${err.message}`));
  return end.exitCode;
}

/** `finished` for exit 0, else `failed` with the exit code, the signal, or why it never started. */
function recordEnd(client: ApiClient, id: string, end: JobEnd, error: Error | undefined): Promise<void> {
  // `by` tells this apart from a `finished` the job's own client may have sent.
  const data: Record<string, unknown> = { exit_code: end.exitCode, duration_s: end.durationS, by: 'trainpilot run' };
  if (end.signal) data.signal = end.signal;
  if (error) data.error = error.message;
  return client.postEvent(id, { kind: end.exitCode === 0 && !end.signal ? 'finished' : 'failed', data });
}

/**
 * The run is registered before CMD starts (CMD needs its id in the environment), so the pid
 * follows once it exists. A sidecar without PATCH /v1/runs/:id cannot watch the processes.
 */
async function attachPid(client: ApiClient, id: string, pid: number): Promise<void> {
  try {
    await client.attachPid(id, pid);
  } catch (err) {
    const hint = err instanceof HttpError && (err.status === 404 || err.status === 405) ? ' (this sidecar cannot take a pid after registration)' : '';
    warn(`the job's processes are not watched: ${(err as Error).message}${hint}`);
  }
}
