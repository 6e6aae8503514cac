// Per-GPU families, every series labelled `gpu` and `uuid` (DESIGN §5).
import type { GpuActivity, GpuReading } from '../../collectors/readings.js';
import { METRICS, type MetricSpec } from './catalogue.js';
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

type GpuField = { [K in keyof GpuReading]-?: GpuReading[K] extends number | null ? K : never }[keyof GpuReading];

const GAUGES: Array<[MetricSpec, GpuField]> = [
  [METRICS.gpu_utilization_ratio, 'utilizationRatio'],
  [METRICS.gpu_memory_utilization_ratio, 'memoryUtilizationRatio'],
  [METRICS.gpu_memory_used_bytes, 'memoryUsedBytes'],
  [METRICS.gpu_memory_total_bytes, 'memoryTotalBytes'],
  [METRICS.gpu_power_draw_watts, 'powerDrawWatts'],
  [METRICS.gpu_power_limit_watts, 'powerLimitWatts'],
  [METRICS.gpu_temperature_celsius, 'temperatureCelsius'],
  [METRICS.gpu_sm_clock_hertz, 'smClockHertz'],
];

/** GPM activity (DESIGN §11): a series only where the GPU has GPM, never a 0 for "unknown". */
const ACTIVITY: Array<[MetricSpec, keyof GpuActivity]> = [
  [METRICS.gpu_sm_active_ratio, 'smActiveRatio'],
  [METRICS.gpu_sm_occupancy_ratio, 'smOccupancyRatio'],
  [METRICS.gpu_tensor_active_ratio, 'tensorActiveRatio'],
  [METRICS.gpu_dram_active_ratio, 'dramActiveRatio'],
  [METRICS.gpu_fp32_active_ratio, 'fp32ActiveRatio'],
];

export function gpuLabels(g: { index: number; uuid: string }): Labels {
  return { gpu: String(g.index), uuid: g.uuid };
}

export function gpuFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const gpus = () => frame().snapshot?.gpus ?? [];
  return [
    new ScrapeFamily(METRICS.gpu_info, (emit) => {
      const { inventory } = frame();
      for (const g of gpus()) {
        emit({
          ...gpuLabels(g), name: g.name,
          driver_version: inventory?.driverVersion ?? '', cuda_version: inventory?.cudaVersion ?? '',
        }, 1);
      }
    }),
    ...GAUGES.map(([spec, field]) => new ScrapeFamily(spec, (emit) => {
      for (const g of gpus()) emit(gpuLabels(g), g[field]);
    })),
    ...ACTIVITY.map(([spec, field]) => new ScrapeFamily(spec, (emit) => {
      for (const g of gpus()) emit(gpuLabels(g), g.activity?.[field]);
    })),
    new ScrapeFamily(METRICS.gpu_clock_event_active, (emit) => {
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
