// Host families: CPU, memory, swap, disk and network of the machine the sidecar runs on.
import type { HostReading } from '../../collectors/readings.js';
import { ScrapeFamily } from './family.js';
import type { ScrapeFrame } from './source.js';

type HostField = { [K in keyof HostReading]: HostReading[K] extends number | null ? K : never }[keyof HostReading];

const HOST: Array<[name: string, help: string, field: HostField]> = [
  ['trainpilot_host_cpu_utilization_ratio', 'Busy share of all CPUs since the previous sample, 0-1.', 'cpuUtilizationRatio'],
  ['trainpilot_host_cpu_iowait_ratio', 'Share of CPU time spent waiting for I/O since the previous sample, 0-1.', 'cpuIowaitRatio'],
  ['trainpilot_host_cpus', 'Logical CPUs on the host.', 'cpuCount'],
  ['trainpilot_host_memory_total_bytes', 'Total host memory.', 'memoryTotalBytes'],
  ['trainpilot_host_memory_available_bytes', 'Host memory available to new work without swapping (MemAvailable).', 'memoryAvailableBytes'],
  ['trainpilot_host_swap_used_bytes', 'Swap in use on the host.', 'swapUsedBytes'],
];

const HOST_COUNTERS: Array<[name: string, help: string, field: HostField]> = [
  ['trainpilot_host_disk_read_bytes_total', 'Bytes read from block devices since boot.', 'diskReadBytesTotal'],
  ['trainpilot_host_disk_written_bytes_total', 'Bytes written to block devices since boot.', 'diskWrittenBytesTotal'],
  ['trainpilot_host_network_receive_bytes_total', 'Bytes received on network interfaces since boot.', 'networkReceiveBytesTotal'],
  ['trainpilot_host_network_transmit_bytes_total', 'Bytes sent on network interfaces since boot.', 'networkTransmitBytesTotal'],
];

export function hostFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  const make = (type: 'gauge' | 'counter') => ([name, help, field]: [string, string, HostField]) =>
    new ScrapeFamily(name, help, type, (emit) => {
      const host = frame().snapshot?.host;
      if (host) emit({}, host[field]);
    });
  return [...HOST.map(make('gauge')), ...HOST_COUNTERS.map(make('counter'))];
}
