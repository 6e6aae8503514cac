// `nvidia-smi -q -x` → inventory and readings, in base units. Pure.
// Schemas seen: no DOCTYPE (2019), nvsmi_device_v10 … v13. Differences handled:
//   throttle reasons: <clocks_throttle_reasons>/<clocks_throttle_reason_X> (≤ v11, some v12)
//                  or <clocks_event_reasons>/<clocks_event_reason_X> (v12+);
//   power: <power_readings> (≤ v11) or <gpu_power_readings> (v12+), whose draw is
//          <power_draw> (535) or <average_power_draw>/<instant_power_draw> (570+),
//          and whose limit is <enforced_power_limit> or <current_power_limit>;
//   <processes/> empty, <mig_devices>None</mig_devices>, trimmed files without a header.
// A GPU's index is its position: nvidia-smi lists GPUs in index order.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { GpuInventory, GpuProcess, GpuReading } from './readings.js';
import { toBytes, toCelsius, toHertz, toRatio, toText, toVersion, toWatts } from './gpu-values.js';

export interface NvidiaSmiXml {
  timestamp: string | null;
  inventory: GpuInventory;
  readings: GpuReading[];
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false, // keep "0x0d", "00000000:01:00.0" … as written
  isArray: (name) => name === 'gpu' || name === 'process_info' || name === 'mig_device',
});

function node(x: unknown): Node {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Node) : {};
}

function list(x: unknown): Node[] {
  return Array.isArray(x) ? x.map(node) : [];
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/** Text at a path of child names, e.g. at(gpu, 'fb_memory_usage', 'used'). */
function at(n: Node, ...path: string[]): string | undefined {
  let cur: unknown = n;
  for (const key of path) cur = node(cur)[key];
  return str(cur);
}

function firstNumber<T>(...values: Array<T | null>): T | null {
  for (const v of values) if (v !== null) return v;
  return null;
}

function clockEventReasons(gpu: Node): string[] {
  const active: string[] = [];
  for (const [section, prefix] of [
    ['clocks_event_reasons', 'clocks_event_reason_'],
    ['clocks_throttle_reasons', 'clocks_throttle_reason_'],
  ] as const) {
    for (const [tag, value] of Object.entries(node(gpu[section]))) {
      if (tag.startsWith(prefix) && str(value)?.trim() === 'Active') active.push(tag.slice(prefix.length));
    }
  }
  return active;
}

function reading(gpu: Node, index: number): GpuReading {
  const power = node(gpu['gpu_power_readings'] ?? gpu['power_readings']);
  return {
    index,
    uuid: toText(at(gpu, 'uuid')) ?? '',
    name: toText(at(gpu, 'product_name')) ?? '',
    utilizationRatio: toRatio(at(gpu, 'utilization', 'gpu_util')),
    memoryUtilizationRatio: toRatio(at(gpu, 'utilization', 'memory_util')),
    memoryUsedBytes: toBytes(at(gpu, 'fb_memory_usage', 'used')),
    memoryTotalBytes: toBytes(at(gpu, 'fb_memory_usage', 'total')),
    powerDrawWatts: firstNumber(
      toWatts(at(power, 'power_draw')),
      toWatts(at(power, 'average_power_draw')),
      toWatts(at(power, 'instant_power_draw')),
    ),
    powerLimitWatts: firstNumber(
      toWatts(at(power, 'enforced_power_limit')),
      toWatts(at(power, 'current_power_limit')),
      toWatts(at(power, 'power_limit')),
    ),
    temperatureCelsius: toCelsius(at(gpu, 'temperature', 'gpu_temp')),
    smClockHertz: toHertz(at(gpu, 'clocks', 'sm_clock')),
    clockEventReasons: clockEventReasons(gpu),
  };
}

function intOrNull(text: string | undefined): number | null {
  const t = toText(text);
  return t !== null && /^\d+$/.test(t) ? Number(t) : null;
}

function processes(gpu: Node, index: number, uuid: string): GpuProcess[] {
  return list(node(gpu['processes'])['process_info']).flatMap((p) => {
    const pid = intOrNull(at(p, 'pid'));
    if (pid === null) return [];
    return [{ gpuIndex: index, gpuUuid: uuid, pid, processName: toText(at(p, 'process_name')) ?? '', usedMemoryBytes: toBytes(at(p, 'used_memory')) }];
  });
}

/** Parse `nvidia-smi -q -x`; throws on text that is not (well-formed) nvidia-smi XML. */
export function parseNvidiaSmiXml(text: string): NvidiaSmiXml {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new Error(`nvidia-smi -q -x printed malformed XML (line ${valid.err.line}: ${valid.err.msg.slice(0, 120)})`);
  const root = node(parser.parse(text))['nvidia_smi_log'];
  if (root === undefined) throw new Error('nvidia-smi -q -x printed XML without an <nvidia_smi_log> element');
  const log = node(root);
  const gpus = list(log['gpu']);
  const readings = gpus.map(reading);
  const inventory: GpuInventory = {
    driverVersion: toVersion(at(log, 'driver_version')),
    cudaVersion: toVersion(at(log, 'cuda_version')),
    gpus: gpus.map((gpu, index) => ({
      index,
      uuid: readings[index].uuid,
      name: readings[index].name,
      memoryTotalBytes: readings[index].memoryTotalBytes,
      migMode: toText(at(gpu, 'mig_mode', 'current_mig')) === 'Enabled',
      migDevices: list(node(gpu['mig_devices'])['mig_device']).map((d) => ({
        index: intOrNull(at(d, 'index')) ?? 0,
        gpuInstanceId: intOrNull(at(d, 'gpu_instance_id')),
        computeInstanceId: intOrNull(at(d, 'compute_instance_id')),
        memoryTotalBytes: toBytes(at(d, 'fb_memory_usage', 'total')),
      })),
    })),
    processes: gpus.flatMap((gpu, index) => processes(gpu, index, readings[index].uuid)),
  };
  return { timestamp: toText(at(log, 'timestamp')), inventory, readings };
}
