// Every metric family trainpilot exports, in one place: name, type, label
// names and help (DESIGN §5 is the minimum; the naming guide is
// prometheus.io/docs/practices/naming). The family modules (self, host, gpu,
// run, steps) compute the values; nothing else names a metric. prom-client's
// process_* and nodejs_* defaults are added by process.ts.
export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricSpec {
  name: string;
  type: MetricType;
  /** Label names, in the order series print them (a histogram's `le` comes from prom-client). */
  labels: readonly string[];
  help: string;
}

const spec = (name: string, type: MetricType, labels: readonly string[], help: string): MetricSpec => ({ name, type, labels, help });
const GPU = ['gpu', 'uuid'] as const;
const RUN = ['run'] as const;
const COLLECTOR = ['collector'] as const;

export const METRICS = {
  // The sidecar itself (node_exporter's node_scrape_collector_* are the model).
  build_info: spec('trainpilot_build_info', 'gauge', ['version'], 'The running trainpilot build; always 1.'),
  collector_up: spec('trainpilot_collector_up', 'gauge', COLLECTOR, 'Whether the collector\'s last attempt succeeded (1) or not (0).'),
  collector_duration_seconds: spec('trainpilot_collector_duration_seconds', 'gauge', COLLECTOR, 'How long the collector\'s last attempt took.'),
  collector_errors_total: spec('trainpilot_collector_errors_total', 'counter', COLLECTOR, 'Failed collector attempts since the sidecar started.'),
  collector_last_success_timestamp_seconds: spec('trainpilot_collector_last_success_timestamp_seconds', 'gauge', COLLECTOR, 'Unix time of the collector\'s last successful attempt.'),
  last_sample_timestamp_seconds: spec('trainpilot_last_sample_timestamp_seconds', 'gauge', [], 'Unix time of the sampler\'s latest tick.'),
  runs: spec('trainpilot_runs', 'gauge', ['state'], 'Runs the sidecar reports on, by state (ended runs stay 5 minutes).'),

  // Host.
  host_cpu_utilization_ratio: spec('trainpilot_host_cpu_utilization_ratio', 'gauge', [], 'Busy share of all CPUs since the previous sample, 0-1.'),
  host_cpu_iowait_ratio: spec('trainpilot_host_cpu_iowait_ratio', 'gauge', [], 'Share of CPU time spent waiting for I/O since the previous sample, 0-1.'),
  host_cpus: spec('trainpilot_host_cpus', 'gauge', [], 'Logical CPUs on the host.'),
  host_memory_total_bytes: spec('trainpilot_host_memory_total_bytes', 'gauge', [], 'Total host memory.'),
  host_memory_available_bytes: spec('trainpilot_host_memory_available_bytes', 'gauge', [], 'Host memory available to new work without swapping (MemAvailable).'),
  host_swap_used_bytes: spec('trainpilot_host_swap_used_bytes', 'gauge', [], 'Swap in use on the host.'),
  host_disk_read_bytes_total: spec('trainpilot_host_disk_read_bytes_total', 'counter', [], 'Bytes read from block devices since boot.'),
  host_disk_written_bytes_total: spec('trainpilot_host_disk_written_bytes_total', 'counter', [], 'Bytes written to block devices since boot.'),
  host_network_receive_bytes_total: spec('trainpilot_host_network_receive_bytes_total', 'counter', [], 'Bytes received on network interfaces since boot.'),
  host_network_transmit_bytes_total: spec('trainpilot_host_network_transmit_bytes_total', 'counter', [], 'Bytes sent on network interfaces since boot.'),

  // GPUs: `gpu` is the index nvidia-smi prints, `uuid` survives reboots and re-indexing.
  gpu_info: spec('trainpilot_gpu_info', 'gauge', [...GPU, 'name', 'driver_version', 'cuda_version'], 'Identity of each GPU; always 1.'),
  gpu_utilization_ratio: spec('trainpilot_gpu_utilization_ratio', 'gauge', GPU, 'Share of the last sample period in which a kernel ran on the GPU, 0-1.'),
  gpu_memory_utilization_ratio: spec('trainpilot_gpu_memory_utilization_ratio', 'gauge', GPU, 'Share of the last sample period in which device memory was read or written, 0-1.'),
  gpu_memory_used_bytes: spec('trainpilot_gpu_memory_used_bytes', 'gauge', GPU, 'Device memory in use.'),
  gpu_memory_total_bytes: spec('trainpilot_gpu_memory_total_bytes', 'gauge', GPU, 'Device memory installed.'),
  gpu_power_draw_watts: spec('trainpilot_gpu_power_draw_watts', 'gauge', GPU, 'Power drawn by the board.'),
  gpu_power_limit_watts: spec('trainpilot_gpu_power_limit_watts', 'gauge', GPU, 'Power limit the driver enforces.'),
  gpu_temperature_celsius: spec('trainpilot_gpu_temperature_celsius', 'gauge', GPU, 'GPU core temperature.'),
  gpu_sm_clock_hertz: spec('trainpilot_gpu_sm_clock_hertz', 'gauge', GPU, 'Current SM clock.'),
  // GPM activity (DESIGN §11): only GPUs with NVML GPM (Hopper and newer) have these series.
  gpu_sm_active_ratio: spec('trainpilot_gpu_sm_active_ratio', 'gauge', GPU, 'Share of SMs busy over the last GPM interval, 0-1 (GPUs with GPM only).'),
  gpu_sm_occupancy_ratio: spec('trainpilot_gpu_sm_occupancy_ratio', 'gauge', GPU, 'Active warps as a share of the theoretical maximum over the last GPM interval, 0-1 (GPUs with GPM only).'),
  gpu_tensor_active_ratio: spec('trainpilot_gpu_tensor_active_ratio', 'gauge', GPU, 'Share of time the SMs ran tensor-core operations over the last GPM interval, 0-1 (GPUs with GPM only).'),
  gpu_dram_active_ratio: spec('trainpilot_gpu_dram_active_ratio', 'gauge', GPU, 'DRAM bandwidth used as a share of the maximum over the last GPM interval, 0-1 (GPUs with GPM only).'),
  gpu_fp32_active_ratio: spec('trainpilot_gpu_fp32_active_ratio', 'gauge', GPU, 'Share of time the SMs ran non-tensor FP32 math over the last GPM interval, 0-1 (GPUs with GPM only).'),
  gpu_clock_event_active: spec('trainpilot_gpu_clock_event_active', 'gauge', [...GPU, 'reason'], 'Whether a clock-event (throttle) reason is active (1) or not (0).'),

  // Runs: removed a few minutes after the run ends, so `run` stays bounded.
  run_info: spec('trainpilot_run_info', 'gauge', [...RUN, 'id'], 'Identity of each run; always 1.'),
  run_state: spec('trainpilot_run_state', 'gauge', [...RUN, 'state'], 'The run\'s state: 1 for the current one, 0 for the others.'),
  run_step_duration_seconds: spec('trainpilot_run_step_duration_seconds', 'histogram', RUN, 'Duration of the run\'s training steps, as the job reported them.'),
  run_data_wait_ratio: spec('trainpilot_run_data_wait_ratio', 'gauge', RUN, 'Share of step time spent waiting for input over the last minute of steps, 0-1.'),
  run_samples_per_second: spec('trainpilot_run_samples_per_second', 'gauge', RUN, 'Samples per wall-clock second over the last minute of steps.'),
  run_loss: spec('trainpilot_run_loss', 'gauge', RUN, 'Loss in the run\'s latest step report.'),
  run_batch_size: spec('trainpilot_run_batch_size', 'gauge', RUN, 'Per-step batch size in the run\'s current config.'),
  run_learning_rate: spec('trainpilot_run_learning_rate', 'gauge', RUN, 'Learning rate in the run\'s current config.'),
  run_dataloader_workers: spec('trainpilot_run_dataloader_workers', 'gauge', RUN, 'Data-loader workers in the run\'s current config.'),
  run_grad_accum_steps: spec('trainpilot_run_grad_accum_steps', 'gauge', RUN, 'Gradient-accumulation steps in the run\'s current config.'),
  run_process_resident_memory_bytes: spec('trainpilot_run_process_resident_memory_bytes', 'gauge', RUN, 'Resident memory of the run\'s process tree.'),
  run_process_workers: spec('trainpilot_run_process_workers', 'gauge', RUN, 'Live descendants of the run\'s process (data-loader workers and friends).'),
  run_joules_per_sample: spec('trainpilot_run_joules_per_sample', 'gauge', RUN, 'Energy of the run\'s GPUs per sample processed, over the steps the sidecar saw with power readings.'),
  run_steps_total: spec('trainpilot_run_steps_total', 'counter', RUN, 'Step reports received for the run.'),
  run_samples_total: spec('trainpilot_run_samples_total', 'counter', RUN, 'Samples the run reported processing.'),
  run_energy_joules_total: spec('trainpilot_run_energy_joules_total', 'counter', RUN, 'Energy drawn by the run\'s GPUs over its steps: their power integrated over step time.'),
  // Children that exit take their CPU time with them; Prometheus reads the drop as a counter reset.
  run_process_cpu_seconds_total: spec('trainpilot_run_process_cpu_seconds_total', 'counter', RUN, 'User and system CPU time of the run\'s live process tree.'),
  run_gpu_memory_used_bytes: spec('trainpilot_run_gpu_memory_used_bytes', 'gauge', [...RUN, ...GPU], 'Device memory held by the run\'s processes, data-loader workers included.'),
  run_bottleneck: spec('trainpilot_run_bottleneck', 'gauge', [...RUN, 'kind'], 'What holds the run back: 1 for the current kind, 0 for the others (all 0 until known).'),
  // Data-parallel runs (DESIGN §9): `rank` is bounded by the job's world size; rank 0's sidecar has
  // every rank (from the summaries the job's collective gathers), a node's sidecar its own ranks.
  run_rank_info: spec('trainpilot_run_rank_info', 'gauge', [...RUN, 'rank', 'node'], 'Each rank of a data-parallel run and the node it runs on; always 1.'),
  run_rank_samples_per_second: spec('trainpilot_run_rank_samples_per_second', 'gauge', [...RUN, 'rank'], 'The rank\'s samples over its step time, over its recent summaries.'),
  run_rank_step_seconds: spec('trainpilot_run_rank_step_seconds', 'gauge', [...RUN, 'rank'], 'The rank\'s mean step time over its recent summaries.'),
  run_rank_data_wait_ratio: spec('trainpilot_run_rank_data_wait_ratio', 'gauge', [...RUN, 'rank'], 'Share of the rank\'s step time spent waiting for input, 0-1.'),
  run_rank_last_step: spec('trainpilot_run_rank_last_step', 'gauge', [...RUN, 'rank'], 'The newest step the rank reported.'),
  run_rank_straggler: spec('trainpilot_run_rank_straggler', 'gauge', [...RUN, 'rank'], 'Whether the rank holds the others back beyond noise (1) or not (0).'),
  tuner_decisions_total: spec('trainpilot_tuner_decisions_total', 'counter', [...RUN, 'knob', 'action'], 'Decisions the tuner made for the run, by knob and action.'),
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;
