// An inline SVG chart of samples/s over the run's steps, with each decision marked where it
// happened — for the HTML report, so the page needs no script and no external resource.
import type { Decision } from './api-client.js';
import type { ThroughputPoint } from './report-data.js';
import { esc } from './report-format.js';
import { fmtRate, tidyNumbers } from '../tuner/format.js';
import { fmtDecision } from './status-line.js';

const W = 640;
const H = 160;
const PAD = { left: 48, right: 8, top: 8, bottom: 20 };

export function throughputChart(series: ThroughputPoint[], decisions: Decision[]): string {
  if (series.length < 2) return '';
  const x0 = series[0].step;
  const x1 = series[series.length - 1].step;
  const yMax = Math.max(...series.map((p) => p.samples_per_second)) * 1.1 || 1;
  const x = (step: number) => PAD.left + ((step - x0) / Math.max(1, x1 - x0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / yMax) * (H - PAD.top - PAD.bottom);
  const line = series.map((p) => `${x(p.step).toFixed(1)},${y(p.samples_per_second).toFixed(1)}`).join(' ');
  const marks = decisions
    .filter((d) => d.step !== null && d.step >= x0 && d.step <= x1)
    .map((d) => {
      const at = x(d.step!).toFixed(1);
      const dash = d.knob === 'none' || d.recommend_only ? ' stroke-dasharray="3 3"' : '';
      return `<line x1="${at}" x2="${at}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#d0704a"${dash}><title>${esc(`#${d.id} step ${d.step}: ${fmtDecision(d)} — ${tidyNumbers(d.reason)}`)}</title></line>`;
    });
  const axis = `<text x="${PAD.left - 4}" y="${PAD.top + 10}" text-anchor="end">${esc(fmtRate(yMax))}</text>` +
    `<text x="${PAD.left - 4}" y="${H - PAD.bottom}" text-anchor="end">0</text>` +
    `<text x="${PAD.left}" y="${H - 4}">step ${x0}</text><text x="${W - PAD.right}" y="${H - 4}" text-anchor="end">step ${x1}</text>`;
  return [
    `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="samples per second over the run's steps; decisions marked">`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#ddd"/>`,
    ...marks,
    `<polyline points="${line}" fill="none" stroke="#4a7bd0" stroke-width="1.5"/>`,
    `<g font-size="11" fill="#666">${axis}</g>`,
    '</svg>',
  ].join('\n');
}
