// The GPM parser fed dmon's output in the format NVIDIA documents (see
// test/fixtures/nvidia-smi/gpm/README.md), a real `dmon --gpm-metrics` capture from an H200, and
// the real `dmon -c 5` output of an H100 capture, which has no GPM columns.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPM_METRICS, GpmOutputError, gpmArgs, hasGpm, parseGpmHeader, parseGpmOutput, parseGpmRow } from './gpu-gpm.js';

const FIXTURES = new URL('../test/fixtures/nvidia-smi/', import.meta.url);
const documented = readFileSync(new URL('gpm/dmon-gpm-documented.txt', FIXTURES), 'utf8');

describe('parseGpmOutput: the documented format', () => {
  const rows = parseGpmOutput(documented);

  it('reads one row per GPU per interval, in order', () => {
    expect(rows.map((r) => r.index)).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('turns GPM percentages into ratios, by the order the metrics were asked for', () => {
    expect(rows[2].activity).toEqual({ smActiveRatio: 0.93, smOccupancyRatio: 0.41, tensorActiveRatio: 0.02, dramActiveRatio: 0.37, fp32ActiveRatio: 0.71 });
    expect(rows[4].activity.tensorActiveRatio).toBe(0.01);
  });

  it('keeps `-` (not available yet) as null, not zero', () => {
    expect(rows[0].activity).toEqual({ smActiveRatio: null, smOccupancyRatio: null, tensorActiveRatio: null, dramActiveRatio: null, fp32ActiveRatio: null });
    expect(hasGpm(rows[0].activity)).toBe(false);
    expect(hasGpm(rows[3].activity)).toBe(true); // an idle GPU's 0 is a reading
    expect(rows[3].activity.smActiveRatio).toBe(0);
  });

  it('does not rely on the column names, which differ between releases', () => {
    const renamed = documented.replace('smutil   smocc  mmaact    dram    fp32', ' smact   smocc  tenact dramact    fp32');
    expect(parseGpmOutput(renamed)).toEqual(rows);
  });
});

describe('parseGpmOutput: a real capture (H200, driver 580.159.04, scripts/gpu-check 2026-12-04)', () => {
  const rows = parseGpmOutput(readFileSync(new URL('gpm/dmon-gpm-h200-580.159.04.txt', FIXTURES), 'utf8'));

  it('reads the columns as documented: `-` for the first two intervals, then ratios in the order asked', () => {
    expect(rows.map((r) => r.index)).toEqual([0, 0, 0, 0, 0]);
    expect(rows.slice(0, 2).map((r) => hasGpm(r.activity))).toEqual([false, false]);
    expect(rows[2].activity).toEqual({ smActiveRatio: 0.19, smOccupancyRatio: 0.03, tensorActiveRatio: 0, dramActiveRatio: 0.02, fp32ActiveRatio: 0.11 });
  });
});

describe('parseGpmHeader', () => {
  const [names, units] = documented.split('\n');
  it('finds the gpu index and the GPM columns', () => {
    expect(parseGpmHeader(names, units)).toEqual({ indexColumn: 0, gpmColumns: [12, 13, 14, 15, 16] });
  });

  it('refuses a header without one GPM column per metric asked (the real H100 dmon, which has none)', () => {
    const h100 = readFileSync(new URL('nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt', FIXTURES), 'utf8').split('\n');
    const at = h100.findIndex((l) => l.startsWith('# gpu '));
    expect(() => parseGpmHeader(h100[at], h100[at + 1])).toThrow(GpmOutputError);
    expect(() => parseGpmHeader(h100[at], h100[at + 1])).toThrow(/0 GPM columns for 5 metrics/);
  });

  it('refuses a header that names no gpu column', () => {
    expect(() => parseGpmHeader('# Time pwr', '# HH:MM:SS W')).toThrow(/no gpu column/);
  });
});

describe('parseGpmRow', () => {
  const [names, units] = documented.split('\n');
  const layout = parseGpmHeader(names, units);
  it('skips headers, blanks and short or garbled lines', () => {
    expect(parseGpmRow('# gpu pwr', layout)).toBeNull();
    expect(parseGpmRow('', layout)).toBeNull();
    expect(parseGpmRow('    0    631     63', layout)).toBeNull();
    expect(parseGpmRow('Segmentation fault?', layout)).toBeNull();
  });
  it('caps a value over 100 % at 1', () => {
    const line = '    0    631     63     57    100     10      0      0      0      0   2619   1980     101      41       2      37      71';
    expect(parseGpmRow(line, layout)?.activity.smActiveRatio).toBe(1);
  });
});

it('asks dmon for the NVML ids of the metrics, at whole-second intervals', () => {
  expect(GPM_METRICS.map((m) => m.id)).toEqual([2, 3, 5, 10, 12]);
  expect(gpmArgs(0.5)).toEqual(['dmon', '--gpm-metrics', '2,3,5,10,12', '-d', '1']);
  expect(gpmArgs(5)).toEqual(['dmon', '--gpm-metrics', '2,3,5,10,12', '-d', '5']);
});
