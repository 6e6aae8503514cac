// The summary `trainpilot run` prints when its job ends: plain text for a terminal or a log.
import type { RunReport } from './report-data.js';
import { fmtBytes, fmtNum, fmtPercent, fmtSeconds, fmtTimes, tidyNumbers } from '../tuner/format.js';
import { decisionParts, fmtBottleneck, fmtEnergy, fmtOutcome } from './report-format.js';
import { fmtConfig } from './status-line.js';

export interface JobEnd {
  /** Wall time of the job as the launcher saw it. */
  durationS: number;
  exitCode: number;
  signal: NodeJS.Signals | null;
}

export function summaryText(r: RunReport, end: JobEnd): string {
  const how = end.signal ? `killed by ${end.signal} (exit ${end.exitCode})` : `exit ${end.exitCode}`;
  const lines = [`trainpilot: ${r.run.name} (${r.run.id}) ended after ${fmtSeconds(end.durationS)}, ${how}`];
  const { start, end: last, end_over_start: ratio } = r.throughput;
  if (start && last) {
    lines.push(
      `  samples/s: ${fmtNum(start.samples_per_second)} at start (${r.throughput.basis === 'configs' ? 'the starting config before any change' : 'first quarter'}, ${fmtNum(start.steps)} steps, data wait ${fmtPercent(start.data_wait_ratio)})` +
        ` → ${fmtNum(last.samples_per_second)} at end (${r.throughput.basis === 'configs' ? `the final config, ${fmtNum(last.steps)} steps` : 'last quarter'}, data wait ${fmtPercent(last.data_wait_ratio)})` +
        (ratio !== null ? `, ${fmtTimes(ratio)}` : ''),
    );
    lines.push(`  steps: ${fmtNum(r.run.summary.steps)}, samples: ${fmtNum(r.run.summary.samples)}`);
    const energy = fmtEnergy(r.run.summary);
    if (energy) lines.push(`  GPU energy: ${energy}`);
  } else {
    lines.push('  no step reports: the job did not use the trainpilot client (watch-only)');
  }
  const first = r.config_history[0]?.config;
  if (first) {
    const now = fmtConfig(r.run.config);
    const was = fmtConfig(first);
    lines.push(`  config: ${was === now ? now : `${was} → ${now}`}`);
  }
  lines.push(`  bottleneck: ${fmtBottleneck(r.run.bottleneck)}`);
  lines.push(`  decisions: ${r.decisions.length}${r.decisions.length ? '' : ` (tuning: ${r.run.tune.mode})`}`);
  for (const d of r.decisions) {
    const p = decisionParts(d, r.run.created_at);
    // Advice alone has no outcome to speak of; a change has (kept, rolled back, pending).
    lines.push(`    ${p.title} — ${tidyNumbers(d.reason)}${d.knob === 'none' ? '' : ` [${fmtOutcome(d)}]`}`);
  }
  if (r.advice.length) {
    lines.push('  advice:');
    for (const a of r.advice) lines.push(`    - ${a.title}: ${tidyNumbers(a.why)}`);
  }
  if (r.peak_rss_bytes !== null) lines.push(`  peak RSS of the process tree: ${fmtBytes(r.peak_rss_bytes)}`);
  return `${lines.join('\n')}\n`;
}

/** When the sidecar is gone or never came: what the launcher knows by itself. */
export function bareSummary(name: string, end: JobEnd): string {
  const how = end.signal ? `killed by ${end.signal} (exit ${end.exitCode})` : `exit ${end.exitCode}`;
  return `trainpilot: ${name} ended after ${fmtSeconds(end.durationS)}, ${how} (no sidecar, no figures)\n`;
}
