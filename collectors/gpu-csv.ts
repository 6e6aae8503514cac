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

/** A line's cells by field name; the last field takes any extra commas. */
function cells(line: string, fields: readonly string[]): Map<string, string> {
  const parts = line.split(',');
  if (parts.length < fields.length) {
    throw new UnexpectedOutputError(`unexpected nvidia-smi output (${parts.length} of ${fields.length} fields): ${quote(line)}`);
  }
  const out = new Map<string, string>();
  fields.forEach((f, i) => {
    const last = i === fields.length - 1;
    out.set(f, (last ? parts.slice(i).join(',') : parts[i]).trim());
  });
  return out;
}

/** Field names: the ones asked for (`noheader`), or 'header' when the first line names them (`--format=csv`). */
export type CsvFields = readonly string[] | 'header';

/** Lines and canonical field names. */
function table(text: string, fields: CsvFields): { fields: string[]; lines: string[] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (fields !== 'header') return { fields: fields.map(canonical), lines };
  const header = lines.shift();
  return { fields: header ? header.split(',').map(canonical) : [], lines };
}

function integer(text: string | undefined, what: string, line: string): number {
  const t = text?.trim() ?? '';
  if (!/^\d+$/.test(t)) throw new UnexpectedOutputError(`unexpected nvidia-smi output (${what} is ${JSON.stringify(t)}): ${quote(line)}`);
  return Number(t);
}

/** One `--query-gpu` line → a reading; throws UnexpectedOutputError when the line does not fit `fields`. */
export function parseQueryGpuLine(line: string, fields: readonly string[] = QUERY_GPU_FIELDS): GpuReading {
  const c = cells(line, fields.map(canonical));
  return {
    index: integer(c.get('index'), 'index', line),
    uuid: toText(c.get('uuid')) ?? '',
    name: toText(c.get('name')) ?? '',
    utilizationRatio: toRatio(c.get('utilization.gpu')),
    memoryUtilizationRatio: toRatio(c.get('utilization.memory')),
    memoryUsedBytes: toBytes(c.get('memory.used')),
    memoryTotalBytes: toBytes(c.get('memory.total')),
    powerDrawWatts: toWatts(c.get('power.draw')),
    powerLimitWatts: toWatts(c.get('enforced.power.limit')),
    temperatureCelsius: toCelsius(c.get('temperature.gpu')),
    smClockHertz: toHertz(c.get('clocks.current.sm')),
    clockEventReasons: decodeClockEventReasons(c.get('clocks_throttle_reasons.active')),
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
    const c = cells(line, t.fields);
    const uuid = toText(c.get('uuid')) ?? '';
    return {
      gpuIndex: gpuIndexByUuid.get(uuid) ?? -1,
      gpuUuid: uuid,
      pid: integer(c.get('pid'), 'pid', line),
      processName: toText(c.get('name')) ?? '',
      usedMemoryBytes: toBytes(c.get('used_memory')),
    };
  });
}
