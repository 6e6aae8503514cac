// Per-GPU families. Every series carries `gpu` (the index nvidia-smi prints) and
// `uuid` (stable across reboots and re-indexing), as DESIGN §5 asks.
import type { GpuReading } from '../../collectors/readings.js';
import { ScrapeFamily, type Labels } from './family.js';
import type { ScrapeFrame } from './source.js';

/**
 * Clock-event (throttle) reasons nvidia-smi reports, named as in its XML
 * (`clocks_event_reasons` / older `clocks_throttle_reasons`, minus the prefix).
 * Each is exported 0 or 1 so a state timeline and `== 1` alerts always have a
 * series; a reason outside this list is exported too, when active.
 */
export const CLOCK_EVENT_REASONS = [
  'gpu_idle', 'applications_clocks_setting', 'sw_power_cap', 'hw_slowdown', 'hw_thermal_slowdown',
  'hw_power_brake_slowdown', 'sync_boost', 'sw_thermal_slowdown', 'display_clocks_setting',
] as const;

type GpuField = { [K in keyof GpuReading]: GpuReading[K] extends number | null ? K : never }[keyof GpuReading];

const GAUGES: Array<[name: string, help: string, field: GpuField]> = [
  ['trainpilot_gpu_utilization_ratio', 'Share of the last sample period in which a kernel ran on the GPU, 0-1.', 'utilizationRatio'],
  ['trainpilot_gpu_memory_utilization_ratio', 'Share of the last sample period in which device memory was read or written, 0-1.', 'memoryUtilizationRatio'],
  ['trainpilot_gpu_memory_used_bytes', 'Device memory in use.', 'memoryUsedBytes'],
  ['trainpilot_gpu_memory_total_bytes', 'Device memory installed.', 'memoryTotalBytes'],
  ['trainpilot_gpu_power_draw_watts', 'Power drawn by the board.', 'powerDrawWatts'],
  ['trainpilot_gpu_power_limit_watts', 'Power limit the driver enforces.', 'powerLimitWatts'],
  ['trainpilot_gpu_temperature_celsius', 'GPU core temperature.', 'temperatureCelsius'],
  ['trainpilot_gpu_sm_clock_hertz', 'Current SM clock.', 'smClockHertz'],
];

export function gpuLabels(g: { index: number; uuid: string }): Labels {
  return { gpu: String(g.index), uuid: g.uuid };
}

export function gpuFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const gpus = () => frame().snapshot?.gpus ?? [];
  return [
    new ScrapeFamily('trainpilot_gpu_info', 'Identity of each GPU; always 1.', 'gauge', (emit) => {
      const { inventory } = frame();
      for (const g of gpus()) {
        emit({
          ...gpuLabels(g), name: g.name,
          driver_version: inventory?.driverVersion ?? '', cuda_version: inventory?.cudaVersion ?? '',
        }, 1);
      }
    }),
    ...GAUGES.map(([name, help, field]) => new ScrapeFamily(name, help, 'gauge', (emit) => {
      for (const g of gpus()) emit(gpuLabels(g), g[field]);
    })),
    new ScrapeFamily('trainpilot_gpu_clock_event_active', 'Whether a clock-event (throttle) reason is active (1) or not (0).', 'gauge', (emit) => {
      for (const g of gpus()) {
        const labels = gpuLabels(g);
        const active = new Set(g.clockEventReasons);
        for (const reason of CLOCK_EVENT_REASONS) emit({ ...labels, reason }, active.has(reason) ? 1 : 0);
        for (const reason of active) {
          if (!(CLOCK_EVENT_REASONS as readonly string[]).includes(reason)) emit({ ...labels, reason }, 1);
        }
      }
    }),
  ];
}

/** The uuid of GPU `index`, from the latest readings or else the inventory; '' when unknown. */
export function uuidOf(frame: ScrapeFrame, index: string): string {
  const i = Number(index);
  return frame.snapshot?.gpus?.find((g) => g.index === i)?.uuid
    ?? frame.inventory?.gpus.find((g) => g.index === i)?.uuid ?? '';
}
