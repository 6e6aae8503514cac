// The host collector: CPU, memory, disk and network from /proc on every tick,
// and a static inventory from systeminformation once at start.
// Not systeminformation.currentLoad() on the sampling path: it runs
// `cat /proc/stat` through a shell on each call (~30 ms of child CPU).
//
// The four files stay open and are read again from offset 0 each tick (the
// kernel regenerates them): one thread-pool hop per file, ~0.12 ms of CPU per
// tick where fs.promises.readFile's open/fstat/read/close took ~1 ms. Reads
// stay asynchronous, so a file that blocks costs the collector its deadline,
// never the event loop.
import { open, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import si from 'systeminformation';
import type { Collector } from './collector.js';
import { cpuRatios, parseDiskstats, parseMeminfo, parseNetDev, parseProcStat, type CpuTimes } from './host-parse.js';
import type { HostInventory, HostReading } from './readings.js';

export interface HostCollectorOptions {
  procRoot: string;
}

const FILES = ['stat', 'meminfo', 'diskstats', 'net/dev'] as const;

/** An open /proc file read whole from offset 0, its buffer grown when the text outgrows it. */
function procFile(path: string) {
  let opening: Promise<FileHandle> | null = null;
  let opened: FileHandle | null = null;
  let closed = false;
  let buf = Buffer.alloc(16 * 1024);
  return {
    async read(): Promise<string> {
      opening ??= open(path, 'r').then((fh) => {
        if (closed) void fh.close();
        return (opened = fh);
      });
      const h = await opening.catch((err) => {
        opening = null; // try opening again next tick
        throw err;
      });
      for (;;) {
        const { bytesRead } = await h.read(buf, 0, buf.length, 0);
        if (bytesRead < buf.length) return buf.toString('utf8', 0, bytesRead);
        buf = Buffer.alloc(buf.length * 2); // e.g. /proc/stat's intr line on a many-core machine
      }
    },
    /** Closes the file; one still being opened (a blocked FIFO in a test) is closed when it opens. */
    async close(): Promise<void> {
      closed = true;
      await opened?.close().catch(() => {});
      opened = null;
    },
  };
}

export function createHostCollector(opts: HostCollectorOptions): Collector<HostReading> {
  let prevCpu: CpuTimes | null = null;
  const files = FILES.map((name) => procFile(join(opts.procRoot, name)));

  return {
    name: 'host',
    async collect() {
      const [stat, meminfo, diskstats, netdev] = await Promise.all(files.map((f) => f.read()));
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
    async close() {
      await Promise.all(files.map((f) => f.close()));
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
