// `nvidia-smi dmon --gpm-metrics …` output → GPM activity ratios per GPU. Pure.
//
// GPM (GPU Performance Monitoring) counters exist on Hopper and newer GPUs with a driver that
// exposes them; nvidia-smi reads them through NVML's nvmlGpmMetricsGet. The metric ids are
// NVML's nvmlGpmMetricId_t (NVML API Reference, "GPM Enums",
// https://docs.nvidia.com/deploy/nvml-api/api/group__nvmlGpmEnums.html):
//   2  NVML_GPM_METRIC_SM_UTIL          percentage of SMs that were busy
//   3  NVML_GPM_METRIC_SM_OCCUPANCY     percentage of warps active vs the theoretical maximum
//   5  NVML_GPM_METRIC_ANY_TENSOR_UTIL  percentage of time the SMs did any tensor operation
//   10 NVML_GPM_METRIC_DRAM_BW_UTIL     percentage of DRAM bandwidth used vs the theoretical maximum
//   12 NVML_GPM_METRIC_FP32_UTIL        percentage of time the SMs did non-tensor FP32 math
// each 0.0–100.0. dmon prints a two-line `#` header (column names, then units), then one row
// per GPU per interval, columns separated by blanks: its usual columns first (gpu index, pwr, …,
// the same layout as the real `dmon -c 5` sections of the captures in test/fixtures/nvidia-smi),
// then one column per asked-for GPM metric, in the order asked, with unit `GPM:%`, and `-` while
// a value is not available (the first interval, or a GPU without GPM) — as published output of
// `dmon --gpm-metrics` shows it (test/fixtures/nvidia-smi/gpm/README.md names the sources).
//
// The short column names differ between driver releases and write-ups (smutil/smact, tensor/
// mmaact, dram/dramact), so the parser does not rely on them: it takes the GPM columns by their
// `GPM:` unit, in the order the metrics were asked for, and checks their number.
import type { GpuActivity } from './readings.js';

export interface GpmMetric {
  /** NVML's nvmlGpmMetricId_t. */
  id: number;
  field: keyof GpuActivity;
}

/** What the sampler asks dmon for, in this order. */
export const GPM_METRICS: readonly GpmMetric[] = [
  { id: 2, field: 'smActiveRatio' },
  { id: 3, field: 'smOccupancyRatio' },
  { id: 5, field: 'tensorActiveRatio' },
  { id: 10, field: 'dramActiveRatio' },
  { id: 12, field: 'fp32ActiveRatio' },
];

/** dmon's arguments: the GPM metrics every `intervalS` (dmon takes whole seconds, at least 1). */
export function gpmArgs(intervalS: number): string[] {
  return ['dmon', '--gpm-metrics', GPM_METRICS.map((m) => m.id).join(','), '-d', String(Math.max(1, Math.round(intervalS)))];
}

export class GpmOutputError extends Error {}

/** Where the GPM columns are: from the header's unit line. */
export interface GpmLayout {
  indexColumn: number;
  gpmColumns: number[];
}

const words = (line: string): string[] => line.replace(/^#/, '').trim().split(/\s+/).filter((w) => w !== '');

/**
 * The layout from dmon's two header lines (`# gpu pwr … smutil …`, `# Idx W … GPM:% …`).
 * Throws GpmOutputError when the header names no GPU index or not one GPM column per metric.
 */
export function parseGpmHeader(names: string, units: string, metrics: readonly GpmMetric[] = GPM_METRICS): GpmLayout {
  const n = words(names);
  const u = words(units);
  const indexColumn = n.indexOf('gpu');
  if (indexColumn < 0) throw new GpmOutputError(`dmon header names no gpu column: ${JSON.stringify(names.trim())}`);
  const gpmColumns = u.flatMap((unit, i) => (unit.startsWith('GPM:') ? [i] : []));
  if (gpmColumns.length !== metrics.length) {
    throw new GpmOutputError(`dmon printed ${gpmColumns.length} GPM columns for ${metrics.length} metrics asked: ${JSON.stringify(units.trim())}`);
  }
  return { indexColumn, gpmColumns };
}

/** A GPM percentage → ratio; `-` (not available yet, or not supported) → null. */
function gpmRatio(cell: string | undefined): number | null {
  if (cell === undefined || !/^\d+(\.\d+)?$/.test(cell)) return null;
  return Math.min(1, Number(cell) / 100);
}

export interface GpmRow {
  index: number;
  activity: GpuActivity;
}

/** One data row → the GPU's activity; null for a header, a blank or an unparsable line. */
export function parseGpmRow(line: string, layout: GpmLayout, metrics: readonly GpmMetric[] = GPM_METRICS): GpmRow | null {
  if (line.trim() === '' || line.trimStart().startsWith('#')) return null;
  const cells = words(line);
  const idx = cells[layout.indexColumn];
  if (idx === undefined || !/^\d+$/.test(idx) || cells.length <= Math.max(...layout.gpmColumns)) return null;
  const activity: GpuActivity = {};
  metrics.forEach((m, i) => {
    activity[m.field] = gpmRatio(cells[layout.gpmColumns[i]]);
  });
  return { index: Number(idx), activity };
}

/** A whole dmon output (header then rows) → every row, oldest first. */
export function parseGpmOutput(text: string, metrics: readonly GpmMetric[] = GPM_METRICS): GpmRow[] {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l, i) => l.trimStart().startsWith('#') && lines[i + 1]?.trimStart().startsWith('#'));
  if (at < 0) throw new GpmOutputError('dmon output has no header');
  let layout = parseGpmHeader(lines[at], lines[at + 1], metrics);
  const rows: GpmRow[] = [];
  for (let i = at + 2; i < lines.length; i++) {
    // dmon repeats its header every so many rows.
    if (lines[i].trimStart().startsWith('#') && lines[i + 1]?.trimStart().startsWith('#')) {
      layout = parseGpmHeader(lines[i], lines[i + 1], metrics);
      i += 1;
      continue;
    }
    const row = parseGpmRow(lines[i], layout, metrics);
    if (row) rows.push(row);
  }
  return rows;
}

/** True when any GPM value of the row is a number (the GPU has GPM). */
export function hasGpm(a: GpuActivity): boolean {
  return Object.values(a).some((v) => typeof v === 'number');
}
