// trainpilot / Node: the machine under the job — per-GPU utilisation, GPM activity, memory,
// power against its limit, temperature, SM clock and throttle reasons; host
// CPU, iowait, memory, swap, disk and network; and the sidecar's own health.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  INSTANCE, baseDashboard, datasourceVariable, flagTimeline, instanceVariable, labelVariable, panelIds, row, target, timeSeries,
} from './common.js';

const GPU = `${INSTANCE}, gpu=~"$gpu"`;

export function nodeDashboard(): Dashboard {
  const id = panelIds();
  return baseDashboard('trainpilot-node', 'trainpilot / Node', 'GPUs, host and collector health of the machines trainpilot watches.')
    .withVariable(datasourceVariable())
    .withVariable(instanceVariable())
    .withVariable(labelVariable('gpu', 'GPU', 'label_values(trainpilot_gpu_info{instance=~"$instance"}, gpu)').multi(true).includeAll(true).allValue('.*'))
    .withRow(row(id(), 'GPUs'))
    .withPanel(timeSeries({
      id: id(), title: 'GPU utilisation', unit: 'percentunit', min: 0, max: 1,
      description: 'Share of time a kernel ran (nvidia-smi utilization.gpu) and device memory was busy (utilization.memory).',
      targets: [
        target('A', `trainpilot_gpu_utilization_ratio{${GPU}}`, 'GPU {{gpu}} ({{instance}})'),
        target('B', `trainpilot_gpu_memory_utilization_ratio{${GPU}}`, 'GPU {{gpu}} memory busy ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'GPU memory', unit: 'bytes', min: 0,
      description: 'Device memory in use, against what is installed.',
      targets: [
        target('A', `trainpilot_gpu_memory_used_bytes{${GPU}}`, 'GPU {{gpu}} used ({{instance}})'),
        target('B', `trainpilot_gpu_memory_total_bytes{${GPU}}`, 'GPU {{gpu}} total ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'GPU activity (GPM)', unit: 'percentunit', min: 0, max: 1,
      description: 'What utilisation hides (NVML GPM, Hopper and newer; docs/gpu.md): share of SMs busy, of time on tensor cores, and of DRAM bandwidth. No line for a GPU without GPM.',
      targets: [
        target('A', `trainpilot_gpu_sm_active_ratio{${GPU}}`, 'GPU {{gpu}} SM active ({{instance}})'),
        target('B', `trainpilot_gpu_tensor_active_ratio{${GPU}}`, 'GPU {{gpu}} tensor active ({{instance}})'),
        target('C', `trainpilot_gpu_dram_active_ratio{${GPU}}`, 'GPU {{gpu}} DRAM active ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Power vs limit', unit: 'watt', min: 0, span: 8,
      description: 'Board power draw and the limit the driver enforces; a draw pinned at the limit means sw_power_cap throttling.',
      targets: [
        target('A', `trainpilot_gpu_power_draw_watts{${GPU}}`, 'GPU {{gpu}} draw ({{instance}})'),
        target('B', `trainpilot_gpu_power_limit_watts{${GPU}}`, 'GPU {{gpu}} limit ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Temperature', unit: 'celsius', span: 8,
      description: 'GPU core temperature.',
      targets: [target('A', `trainpilot_gpu_temperature_celsius{${GPU}}`, 'GPU {{gpu}} ({{instance}})')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'SM clock', unit: 'hertz', min: 0, span: 8,
      description: 'Streaming-multiprocessor clock; it drops when a clock-event (throttle) reason is active.',
      targets: [target('A', `trainpilot_gpu_sm_clock_hertz{${GPU}}`, 'GPU {{gpu}} ({{instance}})')],
    }))
    .withPanel(flagTimeline({
      id: id(), title: 'Throttle reasons — GPU $gpu', unit: 'none', span: 12, on: 'active', off: 'inactive', color: 'red',
      description: 'Clock-event reasons nvidia-smi reports for this GPU (clocks_event_reasons): red while active.',
      targets: [target('A', `max by (reason) (trainpilot_gpu_clock_event_active{${GPU}})`, '{{reason}}')],
    }).repeat('gpu').repeatDirection('h').maxPerRow(2))
    .withRow(row(id(), 'Host'))
    .withPanel(timeSeries({
      id: id(), title: 'Host CPU', unit: 'percentunit', min: 0, max: 1, span: 8,
      description: 'Busy share of all CPUs, and the share spent waiting for I/O (a slow input pipeline shows here).',
      targets: [
        target('A', `trainpilot_host_cpu_utilization_ratio{${INSTANCE}}`, 'busy ({{instance}})'),
        target('B', `trainpilot_host_cpu_iowait_ratio{${INSTANCE}}`, 'iowait ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Host memory and swap', unit: 'bytes', min: 0, span: 8,
      description: 'Memory in use (total minus available), total, and swap in use.',
      targets: [
        target('A', `trainpilot_host_memory_total_bytes{${INSTANCE}} - trainpilot_host_memory_available_bytes{${INSTANCE}}`, 'used ({{instance}})'),
        target('B', `trainpilot_host_memory_total_bytes{${INSTANCE}}`, 'total ({{instance}})'),
        target('C', `trainpilot_host_swap_used_bytes{${INSTANCE}}`, 'swap used ({{instance}})'),
      ],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Disk and network', unit: 'Bps', min: 0, span: 8,
      description: 'Bytes per second read from and written to block devices, received and sent on the network.',
      targets: [
        target('A', `rate(trainpilot_host_disk_read_bytes_total{${INSTANCE}}[$__rate_interval])`, 'disk read ({{instance}})'),
        target('B', `rate(trainpilot_host_disk_written_bytes_total{${INSTANCE}}[$__rate_interval])`, 'disk write ({{instance}})'),
        target('C', `rate(trainpilot_host_network_receive_bytes_total{${INSTANCE}}[$__rate_interval])`, 'net receive ({{instance}})'),
        target('D', `rate(trainpilot_host_network_transmit_bytes_total{${INSTANCE}}[$__rate_interval])`, 'net transmit ({{instance}})'),
      ],
    }))
    .withRow(row(id(), 'Collectors'))
    .withPanel(flagTimeline({
      id: id(), title: 'Collector up', unit: 'none', span: 8, on: 'up', off: 'down', color: 'green', offColor: 'red',
      description: 'Whether each collector\'s last attempt succeeded; GET /v1/host gives the reason a collector is down.',
      targets: [target('A', `trainpilot_collector_up{${INSTANCE}}`, '{{collector}} ({{instance}})')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Collector duration', unit: 's', min: 0, span: 8,
      description: 'How long each collector\'s last attempt took.',
      targets: [target('A', `trainpilot_collector_duration_seconds{${INSTANCE}}`, '{{collector}} ({{instance}})')],
    }))
    .withPanel(timeSeries({
      id: id(), title: 'Collector errors and sample age', unit: 'short', min: 0, span: 8,
      description: 'Failed attempts per second by collector, and seconds since the sampler\'s latest tick.',
      targets: [
        target('A', `rate(trainpilot_collector_errors_total{${INSTANCE}}[$__rate_interval])`, '{{collector}} errors/s ({{instance}})'),
        target('B', `time() - trainpilot_last_sample_timestamp_seconds{${INSTANCE}}`, 'sample age s ({{instance}})'),
      ],
    }))
    .build();
}
