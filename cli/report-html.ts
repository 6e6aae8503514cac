// The report as one self-contained HTML page: inline CSS, no scripts, no external resources.
// Every piece of run data (names, reasons, evidence, event data) passes through `esc`.
import type { RunReport } from './report-data.js';
import { reportCharts } from './report-chart.js';
import { tidyNumbers } from '../tuner/format.js';
import { decisionParts, esc, evidenceList, fmtEvidence, fmtOffset, headline, type EvidenceItem } from './report-format.js';
import { fmtValue } from './status-line.js';

const EVENTS_SHOWN = 200;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
.decision{border-left:3px solid #4a7bd0;padding-left:.8rem;margin:1rem 0}.muted{color:#666}code{background:#f4f4f4;padding:0 .2rem}`;

/** Evidence as a list of labelled, formatted items. */
const evidenceUl = (items: EvidenceItem[]) => items.length ? `<ul class="evidence">${items.map((i) => `<li>${esc(i.label)}: ${esc(i.text)}</li>`).join('')}</ul>` : '';

const dl = (rows: Array<[string, string]>) => `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;

function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function reportHtml(r: RunReport): string {
  const start = r.run.created_at;
  const parts: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>trainpilot report: ${esc(r.run.name)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>trainpilot report: ${esc(r.run.name)}</h1>`,
    dl(headline(r)),
  ];
  if (r.run.bottleneck) parts.push('<h2>Bottleneck evidence</h2>', evidenceUl(evidenceList(r.run.bottleneck.evidence)));
  const charts = reportCharts(r);
  if (charts.length > 0) parts.push('<p class="muted">The live page\'s charts, drawn once. Each marked line is a decision; hover for its reason.</p>');
  for (const c of charts) parts.push(`<h2>${esc(c.title)}</h2>`, c.svg);
  parts.push('<h2>Config history</h2>');
  parts.push(
    r.config_history.length === 0
      ? '<p class="muted">The job never said what it runs with (watch-only).</p>'
      : table(
          ['version', 'when', 'batch_size', 'learning_rate', 'num_workers', 'grad_accum_steps', 'why'],
          r.config_history.map((v) => [
            String(v.version), fmtOffset(v.ts, start), fmtValue(v.config.batch_size), fmtValue(v.config.learning_rate),
            fmtValue(v.config.num_workers), fmtValue(v.config.grad_accum_steps), tidyNumbers(v.reason),
          ]),
        ),
  );

  parts.push('<h2>Decisions</h2>');
  if (r.decisions.length === 0) parts.push('<p class="muted">No decisions.</p>');
  for (const d of r.decisions) {
    const p = decisionParts(d, start);
    const evidence = p.evidence.length ? `<p class="muted">evidence</p>${evidenceUl(p.evidence)}` : '';
    parts.push(`<div class="decision"><h3>${esc(p.title)}</h3>${dl(p.rows)}${evidence}</div>`);
  }

  parts.push('<h2>Advice</h2>');
  if (r.advice.length === 0) parts.push('<p class="muted">No advice.</p>');
  else parts.push(`<ul>${r.advice.map((a) => `<li><strong>${esc(a.title)}</strong> (<code>${esc(a.code)}</code>): ${esc(tidyNumbers(a.why))}</li>`).join('\n')}</ul>`);

  parts.push('<h2>Events</h2>');
  const events = r.events.slice(-EVENTS_SHOWN);
  if (events.length === 0) parts.push('<p class="muted">No events.</p>');
  else {
    if (r.events.length > events.length) parts.push(`<p class="muted">The last ${events.length} of ${r.events.length}.</p>`);
    parts.push(table(['when', 'kind', 'step', 'data'], events.map((e) => [fmtOffset(e.ts, start), e.kind, e.step === null ? '-' : String(e.step), fmtEvidence(e.data)])));
  }
  parts.push(`<p class="muted">Generated ${esc(new Date(r.generated_at * 1000).toISOString())} by trainpilot.</p>`, '</body></html>', '');
  return parts.join('\n');
}
