// The report as Markdown (GitHub flavour): headline, config history, decisions, advice, events.
import type { RunReport } from './report-data.js';
import { tidyNumbers } from '../tuner/format.js';
import { decisionParts, evidenceList, fmtEvidence, fmtOffset, headline, type EvidenceItem } from './report-format.js';
import { fmtValue } from './status-line.js';

/**
 * Table cells and list items stay on one line; pipes, backticks, brackets and angle brackets must
 * not open syntax (or raw HTML). `_` is left alone: GFM never emphasises inside words like num_workers.
 */
export const mdText = (s: string) => s.replace(/\r?\n/g, ' ').replace(/([\\|`*<>[\]])/g, '\\$1');

const EVENTS_SHOWN = 50;

/** Evidence as a nested list under the item it belongs to. */
const subList = (items: EvidenceItem[]) => items.map((i) => `  - ${mdText(i.label)}: ${mdText(i.text)}`);

export function reportMarkdown(r: RunReport): string {
  const start = r.run.created_at;
  const out: string[] = [`# trainpilot report: ${mdText(r.run.name)}`, ''];
  for (const [k, v] of headline(r)) {
    out.push(`- **${k}**: ${mdText(v)}`);
    if (k === 'bottleneck' && r.run.bottleneck) out.push(...subList(evidenceList(r.run.bottleneck.evidence)));
  }

  out.push('', '## Config history', '');
  if (r.config_history.length === 0) {
    out.push('The job never said what it runs with (watch-only).');
  } else {
    out.push('| version | when | batch_size | learning_rate | num_workers | grad_accum_steps | why |', '|---|---|---|---|---|---|---|');
    for (const v of r.config_history) {
      const c = v.config;
      out.push(`| ${v.version} | ${fmtOffset(v.ts, start)} | ${fmtValue(c.batch_size)} | ${fmtValue(c.learning_rate)} | ${fmtValue(c.num_workers)} | ${fmtValue(c.grad_accum_steps)} | ${mdText(tidyNumbers(v.reason))} |`);
    }
  }

  out.push('', '## Decisions', '');
  if (r.decisions.length === 0) out.push('No decisions.');
  for (const d of r.decisions) {
    const p = decisionParts(d, start);
    out.push(`### ${mdText(p.title)}`, '');
    for (const [k, v] of p.rows) out.push(`- **${k}**: ${mdText(v)}`);
    if (p.evidence.length) out.push('- **evidence**:', ...subList(p.evidence));
    out.push('');
  }

  out.push('', '## Advice', '');
  if (r.advice.length === 0) out.push('No advice.');
  for (const a of r.advice) out.push(`- **${mdText(a.title)}** (\`${a.code.replace(/`/g, '')}\`): ${mdText(tidyNumbers(a.why))}`);

  out.push('', '## Events', '');
  const events = r.events.slice(-EVENTS_SHOWN);
  if (events.length === 0) out.push('No events.');
  else {
    if (r.events.length > events.length) out.push(`The last ${events.length} of ${r.events.length}.`, '');
    out.push('| when | kind | step | data |', '|---|---|---|---|');
    for (const e of events) out.push(`| ${fmtOffset(e.ts, start)} | ${mdText(e.kind)} | ${e.step ?? '-'} | ${mdText(fmtEvidence(e.data))} |`);
  }
  out.push('', `_Generated ${new Date(r.generated_at * 1000).toISOString()} by trainpilot._`, '');
  return out.join('\n');
}
