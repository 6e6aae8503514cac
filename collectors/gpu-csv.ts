// nvidia-smi's CSV query output → readings in base units. Pure.
// Two shapes: our own `--format=csv,noheader,nounits` stream (fields known by
// position), and `--format=csv` with a header and units in cells, as in the
// captures under test/fixtures/nvidia-smi (fields known by header name).
import type { GpuProcess, GpuReading } from './readings.js';
import { decodeClockEventReasons, toBytes, toCelsius, toHertz, toRatio, toText, toWatts } from './gpu-values.js';

/**
 * What the sampler asks `--query-gpu` for. The names are the ones every driver
 * from R418 to R610 accepts (newer drivers take `clocks_event_reasons.active`
 * too, older ones only the throttle name). `name` is last: free text may hold commas.
 */
export const QUERY_GPU_FIELDS = [
  'index', 'uuid', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total',
  'power.draw', 'enforced.power.limit', 'temperature.gpu', 'clocks.current.sm',
  'clocks_throttle_reasons.active', 'name',
] as const;

/** What the sampler asks `--query-compute-apps` for; the process name last for the same reason. */
export const COMPUTE_APPS_FIELDS = ['gpu_uuid', 'pid', 'used_memory', 'process_name'] as const;

/** Other names nvidia-smi gives the same fields (see `nvidia-smi --help-query-gpu`). */
const ALIASES: Record<string, string> = {
  'clocks.sm': 'clocks.current.sm',
  'clocks_event_reasons.active': 'clocks_throttle_reasons.active',
  'gpu.power.current_limit': 'enforced.power.limit',
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  used_gpu_memory: 'used_memory',
  process_name: 'name',
};

const canonical = (field: string): string => {
  const bare = field.replace(/\s*\[[^\]]*\]\s*$/, '').trim(); // "memory.used [MiB]" → "memory.used"
  return ALIASES[bare] ?? bare;
};

export class UnexpectedOutputError extends Error {}

function quote(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}

/** Where each field sits in a line: canonical name → position. */
interface Layout { count: number; index: ReadonlyMap<string, number> }

/**
 * Layouts by field list, made once per list: the stream's 8 lines a second share one (the names
 * were canonicalized, a regular expression each, for every line before).
 */
const layouts = new WeakMap<readonly string[], Layout>();

function layoutOf(fields: readonly string[]): Layout {
  let layout = layouts.get(fields);
  if (!layout) {
    layout = { count: fields.length, index: new Map(fields.map((f, i) => [canonical(f), i])) };
    layouts.set(fields, layout);
  }
  return layout;
}

/** A line's cells by canonical field name; the last field takes any extra commas. */
function cells(line: string, layout: Layout): (name: string) => string | undefined {
  const parts = line.split(',');
  if (parts.length < layout.count) {
    throw new UnexpectedOutputError(`unexpected nvidia-smi output (${parts.length} of ${layout.count} fields): ${quote(line)}`);
  }
  return (name) => {
    const i = layout.index.get(name);
    if (i === undefined) return undefined;
    return (i === layout.count - 1 ? parts.slice(i).join(',') : parts[i]).trim();
  };
}

/** Field names: the ones asked for (`noheader`), or 'header' when the first line names them (`--format=csv`). */
export type CsvFields = readonly string[] | 'header';

/** Lines and field names (as given; layoutOf canonicalizes them). */
function table(text: string, fields: CsvFields): { fields: readonly string[]; lines: string[] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (fields !== 'header') return { fields, lines };
  const header = lines.shift();
  return { fields: header ? header.split(',') : [], lines };
}

function integer(text: string | undefined, what: string, line: string): number {
  const t = text?.trim() ?? '';
  if (!/^\d+$/.test(t)) throw new UnexpectedOutputError(`unexpected nvidia-smi output (${what} is ${JSON.stringify(t)}): ${quote(line)}`);
  return Number(t);
}

/** One `--query-gpu` line → a reading; throws UnexpectedOutputError when the line does not fit `fields`. */
export function parseQueryGpuLine(line: string, fields: readonly string[] = QUERY_GPU_FIELDS): GpuReading {
  const c = cells(line, layoutOf(fields));
  return {
    index: integer(c('index'), 'index', line),
    uuid: toText(c('uuid')) ?? '',
    name: toText(c('name')) ?? '',
    utilizationRatio: toRatio(c('utilization.gpu')),
    memoryUtilizationRatio: toRatio(c('utilization.memory')),
    memoryUsedBytes: toBytes(c('memory.used')),
    memoryTotalBytes: toBytes(c('memory.total')),
    powerDrawWatts: toWatts(c('power.draw')),
    powerLimitWatts: toWatts(c('enforced.power.limit')),
    temperatureCelsius: toCelsius(c('temperature.gpu')),
    smClockHertz: toHertz(c('clocks.current.sm')),
    clockEventReasons: decodeClockEventReasons(c('clocks_throttle_reasons.active')),
  };
}

/** A whole `--query-gpu` output. */
export function parseQueryGpuCsv(text: string, fields: CsvFields = QUERY_GPU_FIELDS): GpuReading[] {
  const t = table(text, fields);
  return t.lines.map((line) => parseQueryGpuLine(line, t.fields));
}

/**
 * `--query-compute-apps` output → processes. `gpuIndexByUuid` maps the GPU
 * UUIDs the output names to indexes (the query has no index field); a UUID
 * it does not know gets index -1.
 */
export function parseComputeAppsCsv(text: string, gpuIndexByUuid: ReadonlyMap<string, number>, fields: CsvFields = COMPUTE_APPS_FIELDS): GpuProcess[] {
  const t = table(text, fields);
  return t.lines.map((line) => {
    const c = cells(line, layoutOf(t.fields));
    const uuid = toText(c('uuid')) ?? '';
    return {
      gpuIndex: gpuIndexByUuid.get(uuid) ?? -1,
      gpuUuid: uuid,
      pid: integer(c('pid'), 'pid', line),
      processName: toText(c('name')) ?? '',
      usedMemoryBytes: toBytes(c('used_memory')),
    };
  });
}
