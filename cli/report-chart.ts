// The HTML report's charts: the live page's own chart (server/page/chart.ts), drawn once, static —
// samples/s over the run's steps, and batch size, workers and learning rate as step lines, with
// every decision marked where it happened. Inline SVG: the report needs no script and fetches nothing.
import type { Decision } from './api-client.js';
import type { RunReport } from './report-data.js';
import { chartSvg, PALETTE, type ChartMarker, type Point } from '../server/page/chart.js';
import { fmtNum, fmtRate, tidyNumbers } from '../tuner/format.js';
import { fmtDecision } from './status-line.js';

const W = 720;
const H = 180;

function markers(decisions: Decision[], x0: number, x1: number): ChartMarker[] {
  return decisions
    .filter((d) => d.step !== null && d.step >= x0 && d.step <= x1)
    .map((d) => ({ x: d.step!, label: `#${d.id}`, title: `#${d.id} step ${d.step}: ${fmtDecision(d)} — ${tidyNumbers(d.reason)}` }));
}

/** A knob's value over the steps: the first config, then each config-changing decision's. */
function knobSeries(r: RunReport, knob: 'batch_size' | 'num_workers' | 'learning_rate', x0: number): Point[] {
  const first = r.config_history[0]?.config[knob] ?? null;
  const out: Point[] = [[x0, first]];
  for (const d of r.decisions) {
    if (d.recommend_only || d.config_version === null || d.step === null) continue;
    const v = d.config_after[knob];
    if (typeof v === 'number') out.push([Math.max(x0, d.step), v]);
  }
  return out;
}

/** The report's charts as titled SVG strings; none when the run has too few steps to draw. */
export function reportCharts(r: RunReport): Array<{ title: string; svg: string }> {
  const series = r.throughput_series;
  if (series.length < 2) return [];
  const x0 = series[0].step;
  const x1 = series[series.length - 1].step;
  const marks = markers(r.decisions, x0, x1);
  const common = { width: W, height: H, markers: marks, x: [x0, x1] as const, xFormat: (s: number) => `step ${fmtNum(s)}` };
  const out = [{
    title: 'Samples/s over the run',
    svg: chartSvg({ ...common, id: 'report-samples', yFormat: (v) => fmtRate(v), series: [{ name: 'samples/s', points: series.map((p) => [p.step, p.samples_per_second] as const), color: PALETTE[0] }] }),
  }];
  if (r.config_history.length > 0) {
    out.push({
      title: 'Batch size and data-loader workers',
      svg: chartSvg({ ...common, id: 'report-knobs', yFormat: (v) => fmtNum(v), series: [
        { name: 'batch size', points: knobSeries(r, 'batch_size', x0), step: true, color: PALETTE[1] },
        { name: 'workers', points: knobSeries(r, 'num_workers', x0), step: true, color: PALETTE[2] },
      ] }),
    }, {
      title: 'Learning rate',
      svg: chartSvg({ ...common, id: 'report-lr', yFormat: (v) => fmtNum(v), yFloor: null, series: [{ name: 'learning rate', points: knobSeries(r, 'learning_rate', x0), step: true, color: PALETTE[3] }] }),
    });
  }
  return out;
}
