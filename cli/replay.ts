// `trainpilot replay FILE`: run the tuner over a recorded window or run and print its decisions.
// The replay itself is server/runs/replay.ts; reading the file and the text printed are here.
import { readFile } from 'node:fs/promises';
import { ReplayError, replay as runReplay, type Recording, type ReplayResult } from '../server/runs/replay.js';
import { fmtChange } from '../tuner/format.js';
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
    throw err;
  }
  return 0;
}

const KEY_EVIDENCE = [
  'before_samples_per_second', 'before_data_wait_ratio', 'predicted_gain', 'gain_ratio', 'oom_batch_size',
  'largest_fitting_batch', 'gpu_utilization_ratio', 'b_noise',
];

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e4) / 1e4);
  return String(v);
}

export function formatReplay(r: ReplayResult): string {
  const lines: string[] = [];
  lines.push(`replay (${r.kind}): ${r.decisions.length} decision${r.decisions.length === 1 ? '' : 's'}`);
  for (const d of r.decisions) {
    const at = d.ts !== undefined ? `t+${fmt(Math.round((d.ts - r.t0) * 10) / 10)}s` : '';
    const step = d.step != null ? ` step ${d.step}` : '';
    const what = d.knob === 'none' ? `none ${d.action}` : fmtChange({ knob: d.knob, action: d.action, before: d.configBefore[d.knob], after: d.configAfter[d.knob] });
    const mode = d.recommendOnly ? ' (recommendation)' : '';
    lines.push(`[${at}${step}] ${what}${mode}: ${d.reason}`);
    const ev = KEY_EVIDENCE.filter((k) => d.evidence[k] !== undefined && d.evidence[k] !== null).map((k) => `${k}=${fmt(d.evidence[k])}`);
    if (ev.length > 0) lines.push(`    evidence: ${ev.join(' ')}`);
    if (d.outcome && d.outcome.status !== 'pending') {
      const o = d.outcome;
      lines.push(`    outcome: ${o.status}${'gainRatio' in o ? ` gain ${fmt(o.gainRatio)}` : ''}${o.note ? ` (${o.note})` : ''}`);
    }
    if (d.advice.length > 0) lines.push(`    advice: ${d.advice.map((a) => a.code).join(', ')}`);
  }
  if (r.status) {
    lines.push(`status: ${r.status.bottleneck}${r.status.evidence.why ? ` (${fmt(r.status.evidence.why)})` : ''}; tuner: ${fmt(r.status.evidence.tuner)}`);
    if (r.status.advice.length > 0) lines.push(`advice: ${r.status.advice.map((a) => `${a.code} (${a.title})`).join('; ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Reads a recording (JSON) and returns the printed decisions. */
export async function replayFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ReplayError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let rec: Recording;
  try {
    rec = JSON.parse(text) as Recording;
  } catch (err) {
    throw new ReplayError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (rec === null || typeof rec !== 'object') throw new ReplayError(`${path}: a recording is a JSON object`);
  return formatReplay(runReplay(rec));
}

