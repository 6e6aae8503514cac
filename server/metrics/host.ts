// Host families: CPU, memory, swap, disk and network of the machine the sidecar runs on.
import type { HostReading } from '../../collectors/readings.js';
import { METRICS, type MetricSpec } from './catalogue.js';
import { ScrapeFamily } from './family.js';
import type { ScrapeFrame } from './source.js';

type HostField = { [K in keyof HostReading]: HostReading[K] extends number | null ? K : never }[keyof HostReading];

const HOST: Array<[MetricSpec, HostField]> = [
  [METRICS.host_cpu_utilization_ratio, 'cpuUtilizationRatio'],
  [METRICS.host_cpu_iowait_ratio, 'cpuIowaitRatio'],
  [METRICS.host_cpus, 'cpuCount'],
  [METRICS.host_memory_total_bytes, 'memoryTotalBytes'],
  [METRICS.host_memory_available_bytes, 'memoryAvailableBytes'],
  [METRICS.host_swap_used_bytes, 'swapUsedBytes'],
  [METRICS.host_disk_read_bytes_total, 'diskReadBytesTotal'],
  [METRICS.host_disk_written_bytes_total, 'diskWrittenBytesTotal'],
  [METRICS.host_network_receive_bytes_total, 'networkReceiveBytesTotal'],
  [METRICS.host_network_transmit_bytes_total, 'networkTransmitBytesTotal'],
];

export function hostFamilies(frame: () => ScrapeFrame): ScrapeFamily[] {
  return HOST.map(([spec, field]) => new ScrapeFamily(spec, (emit) => {
    const host = frame().snapshot?.host;
    if (host) emit({}, host[field]);
  }));
}
