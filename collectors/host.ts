// The host collector: CPU, memory, disk and network from /proc on every tick,
// and a static inventory (CPU model and count, memory, OS) once at start.
//
// The inventory reads /proc/cpuinfo, /proc/meminfo and os-release itself rather
// than through systeminformation: si.cpu() and si.osInfo() run lscpu and other
// commands through a shell, and loading the library costs the sidecar ~2 MB of
// resident memory and ~0.2 s of CPU at start (the budget, DESIGN §7, is 80 MB).
// systeminformation.currentLoad() was never an option on the sampling path: it
// runs `cat /proc/stat` through a shell on each call (~30 ms of child CPU).
//
// The four files stay open and are read again from offset 0 each tick (the
// kernel regenerates them), where fs.promises.readFile's open/fstat/read/close
// took ~1 ms. A regular file (what /proc's are) is read synchronously: the kernel
// writes these from its counters without waiting on a device, ~10 µs each, where
// a thread-pool hop per file woke the main thread once more for each (4 a second;
// docs/footprint.md, "Where the CPU goes"). Anything else (a FIFO, as the sampler's
// test uses to stand for a stuck read) is read through the thread pool, so it
// costs the collector its deadline, never the event loop.
import { fstatSync, readSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { cpus, hostname, platform, release } from 'node:os';
import { join } from 'node:path';
import type { Collector } from './collector.js';
import { cpuRatios, parseCpuinfo, parseDiskstats, parseMeminfo, parseNetDev, parseOsRelease, parseProcStat, type CpuTimes } from './host-parse.js';
import type { HostInventory, HostReading } from './readings.js';

export interface HostCollectorOptions {
  procRoot: string;
}

const FILES = ['stat', 'meminfo', 'diskstats', 'net/dev'] as const;

/** An open /proc file read whole from offset 0, its buffer grown when the text outgrows it. */
function procFile(path: string) {
  let opening: Promise<FileHandle> | null = null;
  let opened: FileHandle | null = null;
  let regular = false;
  let closed = false;
  let buf = Buffer.alloc(16 * 1024);
  return {
    async read(): Promise<string> {
      if (opened && regular && !closed) {
        for (;;) {
          const bytesRead = readSync(opened.fd, buf, 0, buf.length, 0);
          if (bytesRead < buf.length) return buf.toString('utf8', 0, bytesRead);
          buf = Buffer.alloc(buf.length * 2);
        }
      }
      opening ??= open(path, 'r').then((fh) => {
        if (closed) void fh.close();
        regular = fstatSync(fh.fd).isFile(); // no second thread-pool hop in the first tick's deadline
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

export interface HostInventoryOptions {
  procRoot?: string; // default '/proc'
  /** os-release(5) locations, the first readable one wins. */
  osReleasePaths?: string[];
}

const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release'];

async function firstReadable(paths: string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      return await readFile(p, 'utf8');
    } catch {
      // try the next one
    }
  }
  return null;
}

/**
 * CPU model, logical CPUs, memory and OS, read once at start. /proc/meminfo must
 * be readable (the host collector needs it too); the rest falls back to Node's
 * os module, and the OS to the kernel alone.
 */
export async function readHostInventory(opts: HostInventoryOptions = {}): Promise<HostInventory> {
  const procRoot = opts.procRoot ?? '/proc';
  const [cpuinfoText, meminfoText, osRelease] = await Promise.all([
    readFile(join(procRoot, 'cpuinfo'), 'utf8').catch(() => ''),
    readFile(join(procRoot, 'meminfo'), 'utf8'),
    firstReadable(opts.osReleasePaths ?? OS_RELEASE),
  ]);
  const cpuinfo = parseCpuinfo(cpuinfoText);
  const nodeCpus = cpus();
  const distro = osRelease === null ? null : parseOsRelease(osRelease);
  const kernel = `${platform()} ${release()}`;
  return {
    cpuModel: cpuinfo.model ?? (nodeCpus[0]?.model.trim() || 'unknown'),
    cpuCores: cpuinfo.logicalCpus || nodeCpus.length,
    memoryTotalBytes: parseMeminfo(meminfoText).memoryTotalBytes,
    os: distro ? `${distro} (${kernel})` : kernel,
    hostname: hostname(),
  };
}
