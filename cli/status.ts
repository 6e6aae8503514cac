// `trainpilot status`: the sidecar's runs as a table (or JSON), newest first.
import { RUN_STATES } from '../domain/run-states.js';
import { createApiClient, type Run } from './api-client.js';
import { commandHelp, openCommand, type CommandSpec } from './command.js';
import { fmtNum } from '../tuner/format.js';
import { fmtConfig } from './status-line.js';

const STATES: readonly string[] = RUN_STATES;

const SPEC: CommandSpec = {
  name: 'status',
  usage: `Usage: trainpilot status [flags]

The sidecar's runs, newest first: id, name, state, steps, samples/s, bottleneck, config, decisions.`,
  flags: [
    { name: 'state', default: null, help: `only runs in this state: ${STATES.join(', ')}` },
    { name: 'json', default: null, help: 'print the runs as JSON (the API\'s run views)', boolean: true },
  ],
  positional: 'none',
  client: true,
};

export const STATUS_HELP = commandHelp(SPEC);

const HEAD = ['ID', 'NAME', 'STATE', 'STEPS', 'SAMPLES/S', 'BOTTLENECK', 'CONFIG', 'DECISIONS'];

export function runRow(r: Run): string[] {
  return [
    r.id, r.name, r.state, String(r.summary.steps), fmtNum(r.summary.samples_per_second),
    r.bottleneck?.kind ?? '—', fmtConfig(r.config), String(r.summary.decisions),
  ];
}

/** Left-aligned columns two spaces apart; numbers line up well enough at this width. */
export function formatTable(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(w[c]))).join('  ')).join('\n') + '\n';
}

const isOn = (v: string | null) => v !== null && v !== 'false' && v !== '0';

export async function status(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = openCommand(SPEC, argv, env);
  if (!parsed) return 0;
  const state = parsed.values.state;
  if (state !== null && !STATES.includes(state)) parsed.errors.push(`--state: ${JSON.stringify(state)} is not one of ${STATES.join(', ')}`);
  parsed.done();

  const runs: Run[] = await createApiClient({ url: parsed.url, token: parsed.token }).runs({ state: state ?? undefined, limit: 1000 });
  if (isOn(parsed.values.json)) {
    process.stdout.write(`${JSON.stringify({ runs }, null, 2)}\n`);
  } else if (runs.length === 0) {
    process.stdout.write(state ? `no ${state} runs\n` : 'no runs\n');
  } else {
    process.stdout.write(formatTable(HEAD, runs.map(runRow)));
  }
  return 0;
}
