// GET /v1/host: the sampler's latest snapshot, collector health and inventory, in base units and
// snake_case like the rest of the API. The collectors' readings are camelCase inside the process
// (collectors/readings.ts); `snakeKeys` turns them into the API's shape, and these schemas say
// every field (the OpenAPI description at /docs is built from them).
import { Type, type TSchema } from 'typebox';

const Num = Type.Union([Type.Number(), Type.Null()]);
const Str = Type.Union([Type.String(), Type.Null()]);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const HostReadingView = Type.Object({
  ts: Type.Number(),
  cpu_utilization_ratio: Num,
  cpu_iowait_ratio: Num,
  cpu_count: Type.Integer(),
  memory_total_bytes: Type.Number(),
  memory_available_bytes: Type.Number(),
  swap_used_bytes: Type.Number(),
  disk_read_bytes_total: Type.Number(),
  disk_written_bytes_total: Type.Number(),
  network_receive_bytes_total: Type.Number(),
  network_transmit_bytes_total: Type.Number(),
});

export const GpuReadingView = Type.Object({
  index: Type.Integer(),
  uuid: Type.String(),
  name: Type.String(),
  utilization_ratio: Num,
  memory_utilization_ratio: Num,
  memory_used_bytes: Num,
  memory_total_bytes: Num,
  power_draw_watts: Num,
  power_limit_watts: Num,
  temperature_celsius: Num,
  sm_clock_hertz: Num,
  clock_event_reasons: Type.Array(Type.String()),
  // docs/gpu.md: NVML GPM ratios, only on GPUs that have GPM (the key absent elsewhere).
  activity: Type.Optional(Type.Object({
    sm_active_ratio: Type.Optional(Num),
    sm_occupancy_ratio: Type.Optional(Num),
    tensor_active_ratio: Type.Optional(Num),
    dram_active_ratio: Type.Optional(Num),
    fp32_active_ratio: Type.Optional(Num),
  })),
});

export const ProcessTreeView = Type.Object({
  run_id: Type.String(),
  pid: Type.Integer(),
  alive: Type.Boolean(),
  cpu_seconds_total: Type.Number(),
  resident_memory_bytes: Type.Number(),
  children: Type.Array(Type.Object({ pid: Type.Integer(), name: Type.String(), cpu_seconds_total: Type.Number(), resident_memory_bytes: Type.Number() })),
  worker_count: Type.Integer(),
  gpu_memory_bytes: Type.Record(Type.String(), Type.Number(), { description: 'GPU memory the tree holds, by GPU index' }),
});

export const CollectorHealthView = Type.Object({
  name: Type.String(),
  up: Type.Boolean(),
  last_error: Str,
  last_duration_seconds: Num,
  errors_total: Type.Integer(),
  last_success_ts: Num,
});

export const InventoryView = Type.Object({
  host: Nullable(Type.Object({ cpu_model: Type.String(), cpu_cores: Type.Integer(), memory_total_bytes: Type.Number(), os: Type.String(), hostname: Type.String() })),
  gpu: Nullable(Type.Object({
    driver_version: Str,
    cuda_version: Str,
    gpus: Type.Array(Type.Object({
      index: Type.Integer(), uuid: Type.String(), name: Type.String(), memory_total_bytes: Num, mig_mode: Type.Boolean(),
      mig_devices: Type.Array(Type.Object({ index: Type.Integer(), gpu_instance_id: Nullable(Type.Integer()), compute_instance_id: Nullable(Type.Integer()), memory_total_bytes: Num })),
    })),
    processes: Type.Array(Type.Object({ gpu_index: Type.Integer(), gpu_uuid: Type.String(), pid: Type.Integer(), process_name: Type.String(), used_memory_bytes: Num })),
  })),
});

export const HostView = Type.Object(
  {
    ts: Num,
    host: Nullable(HostReadingView),
    gpus: Nullable(Type.Array(GpuReadingView)),
    processes: Type.Array(ProcessTreeView),
    collectors: Type.Array(CollectorHealthView),
    inventory: InventoryView,
  },
  { $id: 'Host' },
);

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A reading in the API's shape: every camelCase key snake_case, at any depth (values untouched). */
export function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [snake(k), snakeKeys(x)]));
}
