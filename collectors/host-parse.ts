// /proc text → host figures in base units. Pure; collectors/host.ts does the reading.
// Formats: proc(5) and Documentation/admin-guide/iostats.rst.

/** The aggregate `cpu` line of /proc/stat, in clock ticks (only ratios of them are used). */
export interface CpuTimes {
  total: number; // user+nice+system+idle+iowait+irq+softirq+steal (guest is already inside user)
  idle: number;
  iowait: number;
}

export interface ProcStat {
  cpu: CpuTimes;
  cpuCount: number; // cpuN lines: CPUs online
}

export function parseProcStat(text: string): ProcStat {
  let cpu: CpuTimes | null = null;
  let cpuCount = 0;
  // The cpu lines come first (proc(5)); what follows (intr alone may be thousands of numbers) is
  // not read, let alone split: this runs every second.
  for (let from = 0, nl = 0; from < text.length; from = nl + 1) {
    nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    if (!text.startsWith('cpu', from)) {
      if (cpu) break;
      continue;
    }
    const [label, ...rest] = text.slice(from, nl).trim().split(/\s+/);
    if (label !== 'cpu') {
      cpuCount += 1;
      continue;
    }
    const [user, nice, system, idle, iowait, irq, softirq, steal] = rest.map(Number).concat([0, 0, 0, 0, 0, 0, 0, 0]);
    cpu = { total: user + nice + system + idle + iowait + irq + softirq + steal, idle, iowait };
  }
  if (!cpu) throw new Error('/proc/stat has no aggregate cpu line');
  return { cpu, cpuCount };
}

const clampRatio = (x: number): number => Math.min(1, Math.max(0, x));

/** Busy and iowait shares of all CPUs between two readings; null without a usable previous one. */
export function cpuRatios(prev: CpuTimes | null, cur: CpuTimes): { utilization: number | null; iowait: number | null } {
  const dTotal = prev ? cur.total - prev.total : 0;
  if (!prev || dTotal <= 0) return { utilization: null, iowait: null };
  const dIdle = cur.idle - prev.idle;
  // iowait may go backwards on some kernels (proc(5): "not reliable"); clamp rather than report < 0.
  const dIowait = Math.max(0, cur.iowait - prev.iowait);
  return {
    utilization: clampRatio((dTotal - dIdle - dIowait) / dTotal),
    iowait: clampRatio(dIowait / dTotal),
  };
}

export interface Meminfo {
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  swapUsedBytes: number;
}

export function parseMeminfo(text: string): Meminfo {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) kib.set(m[1], Number(m[2]));
  }
  const get = (k: string): number => kib.get(k) ?? 0;
  if (!kib.has('MemTotal')) throw new Error('/proc/meminfo has no MemTotal');
  // MemAvailable exists since Linux 3.14; before it, free + page cache is the usual estimate.
  const available = kib.has('MemAvailable') ? get('MemAvailable') : get('MemFree') + get('Buffers') + get('Cached');
  return {
    memoryTotalBytes: get('MemTotal') * 1024,
    memoryAvailableBytes: available * 1024,
    swapUsedBytes: Math.max(0, get('SwapTotal') - get('SwapFree')) * 1024,
  };
}

/**
 * Devices left out of the disk totals: node_exporter's default
 * `--collector.diskstats.device-exclude` (ram, loop, floppy, partitions), plus
 * device-mapper, md and optical devices, whose I/O already shows on the disks under them.
 */
export const DISK_EXCLUDE = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p|dm-|md|sr)\d+$/;

export function parseDiskstats(text: string): { readBytesTotal: number; writtenBytesTotal: number } {
  let read = 0;
  let written = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || DISK_EXCLUDE.test(f[2])) continue;
    read += Number(f[5]); // sectors read
    written += Number(f[9]); // sectors written
  }
  // iostats.rst: these counters are in 512-byte sectors whatever the device's sector size.
  return { readBytesTotal: read * 512, writtenBytesTotal: written * 512 };
}

/** Interfaces left out of the network totals: loopback, and virtual ones whose traffic also crosses a real one. */
export const NET_EXCLUDE = /^(lo|veth.*|docker\d*|br-.*|virbr.*|cni.*|flannel.*|cali.*|vxlan.*|tunl.*|kube-ipvs.*)$/;

export function parseNetDev(text: string): { receiveBytesTotal: number; transmitBytesTotal: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (NET_EXCLUDE.test(name)) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length < 16) continue;
    rx += Number(f[0]);
    tx += Number(f[8]);
  }
  return { receiveBytesTotal: rx, transmitBytesTotal: tx };
}

/** What the inventory takes from /proc/cpuinfo: the CPU's name and the logical CPUs listed. */
export interface Cpuinfo {
  model: string | null;
  logicalCpus: number;
}

/**
 * /proc/cpuinfo, whose keys differ by architecture: x86 has `model name` per
 * processor; arm64 kernels list only `CPU implementer`/`CPU part` codes (no name;
 * some boards add `Model` or `Hardware` once at the end); POWER has `cpu`, s390x
 * `machine`. The first name found wins; null when there is none.
 */
export function parseCpuinfo(text: string): Cpuinfo {
  const fields = new Map<string, string>();
  let logicalCpus = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().replace(/\s+/g, ' ');
    if (key === 'processor' && /^\d+$/.test(value)) logicalCpus += 1;
    if (value && !fields.has(key)) fields.set(key, value);
  }
  const model = ['model name', 'cpu model', 'model', 'hardware', 'cpu', 'machine']
    .map((k) => fields.get(k))
    // x86's `model` is a number (the family's model id), not a name.
    .find((v) => v !== undefined && !/^\d+$/.test(v));
  return { model: model ?? null, logicalCpus };
}

/**
 * os-release(5): NAME and VERSION_ID ("Debian GNU/Linux 12"), else PRETTY_NAME, else
 * NAME alone; null when none is set. Values may be quoted, with shell-style escapes.
 */
export function parseOsRelease(text: string): string | null {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) v = v.slice(1, -1);
    if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1');
    vars.set(m[1], v);
  }
  const name = vars.get('NAME') || null;
  const version = vars.get('VERSION_ID') || null;
  if (name && version) return `${name} ${version}`;
  return vars.get('PRETTY_NAME') || name;
}
