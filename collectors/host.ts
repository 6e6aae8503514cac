// The host collector: CPU, memory, disk and network from /proc on every tick,
// and a static inventory from systeminformation once at start.
// Not systeminformation.currentLoad() on the sampling path: it runs
// `cat /proc/stat` through a shell on each call (~30 ms of child CPU).
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import si from 'systeminformation';
import type { Collector } from './collector.js';
import { cpuRatios, parseDiskstats, parseMeminfo, parseNetDev, parseProcStat, type CpuTimes } from './host-parse.js';
import type { HostInventory, HostReading } from './readings.js';

export interface HostCollectorOptions {
  procRoot: string;
}

export function createHostCollector(opts: HostCollectorOptions): Collector<HostReading> {
  let prevCpu: CpuTimes | null = null;
  const read = (name: string, signal: AbortSignal) => readFile(join(opts.procRoot, name), { encoding: 'utf8', signal });

  return {
    name: 'host',
    async collect(signal) {
      const [stat, meminfo, diskstats, netdev] = await Promise.all([
        read('stat', signal),
        read('meminfo', signal),
        read('diskstats', signal),
        read('net/dev', signal),
      ]);
      const s = parseProcStat(stat);
      const ratios = cpuRatios(prevCpu, s.cpu);
      prevCpu = s.cpu;
      const mem = parseMeminfo(meminfo);
      const disk = parseDiskstats(diskstats);
      const net = parseNetDev(netdev);
      return {
        ts: Date.now() / 1000,
        cpuUtilizationRatio: ratios.utilization,
        cpuIowaitRatio: ratios.iowait,
        cpuCount: s.cpuCount,
        ...mem,
        diskReadBytesTotal: disk.readBytesTotal,
        diskWrittenBytesTotal: disk.writtenBytesTotal,
        networkReceiveBytesTotal: net.receiveBytesTotal,
        networkTransmitBytesTotal: net.transmitBytesTotal,
      };
    },
  };
}

/** CPU model, cores, memory and OS, read once at start. */
export async function readHostInventory(): Promise<HostInventory> {
  const [cpu, mem, os] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
  return {
    cpuModel: (cpu.brand.startsWith(cpu.manufacturer) ? cpu.brand : `${cpu.manufacturer} ${cpu.brand}`).trim(),
    cpuCores: cpu.cores,
    memoryTotalBytes: mem.total,
    os: [os.distro, os.release].filter(Boolean).join(' ') + (os.kernel ? ` (${os.platform} ${os.kernel})` : ''),
    hostname: os.hostname || hostname(),
  };
}
