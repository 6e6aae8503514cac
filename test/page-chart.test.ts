// The live page's pure modules (served to the browser from dist/): the SVG chart and the figures.
import { describe, expect, it } from 'vitest';
import { chartSvg, niceTicks, thin, type Point } from '../server/page/chart.js';
import { cpuCores, quantile, stepFigures, type StepRow } from '../server/page/shape.js';
import { fmtPercent } from '../tuner/format.js';

const row = (step: number, o: Partial<StepRow> = {}): StepRow => ({ step, ts: 1000 + step, duration_s: 0.1, data_wait_s: 0.02, samples: 32, loss: 1, rank: 0, world_size: 1, ...o });

describe('chartSvg', () => {
  it('escapes every text it writes: series names, markers, the empty note', () => {
    const svg = chartSvg({
      id: 'x"><script>', width: 400, height: 150, yFormat: String,
      series: [{ name: '<img src=x onerror=alert(1)>', points: [[1, 1], [2, 2]] }],
      markers: [{ x: 1.5, label: '#1 <b>', title: 'reason </title><script>alert(2)</script>' }],
    });
    expect(svg).not.toMatch(/<script|<img|<b>|<\/title><script/);
    expect(svg).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(svg).toContain('data-chart="x&quot;&gt;&lt;script&gt;"');
  });

  it('labels the y axis with the formatter and counts the points it drew', () => {
    const svg = chartSvg({ id: 'w', width: 400, height: 150, yFormat: fmtPercent, series: [{ name: 'wait', points: [[0, 0.1], [1, 1], [2, null]] }] });
    expect(svg).toContain('data-points="2"');
    expect(svg).toContain('>50 %<');
    expect(chartSvg({ id: 'e', width: 400, height: 150, yFormat: String, series: [{ name: 'a', points: [] }], empty: 'no steps yet' })).toContain('no steps yet');
  });

  it('holds a step series until the next value and to the end of the range', () => {
    const svg = chartSvg({ id: 's', width: 400, height: 150, yFormat: String, x: [0, 100], series: [{ name: 'bs', step: true, points: [[10, 32], [50, 64]] }] });
    // [10,32] [50,32] [50,64] [100,64]
    expect(svg).toContain('data-points="4"');
  });
});

describe('thin', () => {
  it('keeps at most a min and a max per pixel column, spikes included', () => {
    const pts: Point[] = Array.from({ length: 10_000 }, (_, i) => [i, i === 5000 ? 99 : 1]);
    const t = thin(pts, 0, 9999, 100);
    expect(t.length).toBeLessThanOrEqual(200);
    expect(t.some((p) => p[1] === 99)).toBe(true);
  });
});

describe('niceTicks', () => {
  it('picks 1, 2 or 5 × 10^k', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.5, 1]);
    expect(niceTicks(0, 0.7, 7)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(niceTicks(0, 600)).toEqual([0, 200, 400, 600]);
  });
});

describe('stepFigures', () => {
  it("is the job's samples/s over step time, rank 0 × world size, over trailing windows", () => {
    const rows = [...Array.from({ length: 40 }, (_, i) => row(i, { world_size: 2 })), ...Array.from({ length: 40 }, (_, i) => row(i, { rank: 1, world_size: 2 }))];
    const f = stepFigures(rows);
    expect(f.window).toBe(20);
    expect(f.samplesPerSecond).toHaveLength(40);
    expect(f.samplesPerSecond.at(-1)![1]).toBeCloseTo(640);
    expect(f.dataWait.at(-1)![1]).toBeCloseTo(0.2);
  });

  it('thins a long run to at most maxPoints, ending at its last step', () => {
    const rows = Array.from({ length: 10_001 }, (_, i) => row(i, { duration_s: i % 10 === 0 ? 1 : 0.1 }));
    const f = stepFigures(rows, 400);
    expect(f.stepP50.length).toBeLessThanOrEqual(401);
    expect(f.stepP50.at(-1)![0]).toBe(1000 + 10_000);
    expect(f.stepP50.at(-1)![1]).toBeCloseTo(0.1);
    expect(f.stepP90.at(-1)![1]).toBeGreaterThan(0.1);
  });
});

describe('quantile and cpuCores', () => {
  it('interpolates, and turns cumulative CPU seconds into cores', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(cpuCores([[0, 10], [2, 13], [3, 12], [4, 12.5]])).toEqual([[2, 1.5], [4, 0.5]]);
  });
});
