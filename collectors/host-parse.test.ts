// /proc captures (a 2-CPU Debian 12 VM, plus disk and interface lines from other
// machines for the exclusion rules) through the pure host parsers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuRatios, parseDiskstats, parseMeminfo, parseNetDev, parseProcStat } from './host-parse.js';

const STAT = `cpu  27880 0 10346 2547701 1550 0 219 565 0 0
cpu0 10547 0 4803 1277820 228 0 32 298 0 0
cpu1 17332 0 5542 1269881 1322 0 187 266 0 0
intr 3585215 0 9 0 0 0 0 0 0 0 0
ctxt 7062125
btime 1764318876
processes 22690
procs_running 1
procs_blocked 0
`;

const MEMINFO = `MemTotal:       24684084 kB
MemFree:        21833000 kB
MemAvailable:   24096740 kB
Buffers:           34792 kB
Cached:          2262360 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        1048572 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

const DISKSTATS = `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 48856 10598 4806186 40872 109352 113086 11491816 59046 0 23052 102974 29467 55 1647704 2212 24020 843
 254       1 vda1 48000 10598 4800000 40872 109000 113086 11400000 59046 0 23052 102974 29467 55 1647704 2212 24020 843
 253       0 zram0 5 0 40 0 7 0 56 0 0 0 0 0 0 0 0 0 0
 259       0 nvme0n1 1000 0 2000 0 3000 0 4000 0 0 0 0
 259       1 nvme0n1p1 900 0 1800 0 2900 0 3800 0 0 0 0
 252       0 dm-0 800 0 1600 0 2800 0 3600 0 0 0 0
`;

const NETDEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    6386      58    0    0    0     0          0         0     6386      58    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 693629691   19350    0    0    0     0          0         0  1661375   13597    0    0    0     0       0          0
docker0:  778544    5632    0    0    0     0          0         0 328929021    8276    0    6    0     0       0          0
vethab12cd: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0
  ens5:12345 10 0 0 0 0 0 0 54321 20 0 0 0 0 0 0
`;

describe('host parsers', () => {
  it('/proc/stat: aggregate CPU ticks and the CPU count', () => {
    const s = parseProcStat(STAT);
    expect(s.cpuCount).toBe(2);
    expect(s.cpu).toEqual({ total: 27880 + 10346 + 2547701 + 1550 + 219 + 565, idle: 2547701, iowait: 1550 });
  });

  it('CPU ratios come from deltas, none from a first reading', () => {
    const a = { total: 1000, idle: 800, iowait: 50 };
    expect(cpuRatios(null, a)).toEqual({ utilization: null, iowait: null });
    expect(cpuRatios(a, { total: 1200, idle: 900, iowait: 70 })).toEqual({ utilization: 0.4, iowait: 0.1 });
    expect(cpuRatios(a, a)).toEqual({ utilization: null, iowait: null }); // no time passed
    // iowait going backwards (proc(5): "not reliable") is clamped, not reported as negative
    expect(cpuRatios(a, { total: 1100, idle: 850, iowait: 40 }).iowait).toBe(0);
  });

  it('/proc/meminfo: kB to bytes, swap used', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({
      memoryTotalBytes: 24684084 * 1024,
      memoryAvailableBytes: 24096740 * 1024,
      swapUsedBytes: (2097148 - 1048572) * 1024,
    });
    // Before Linux 3.14 there is no MemAvailable
    const old = MEMINFO.split('\n').filter((l) => !l.startsWith('MemAvailable')).join('\n');
    expect(parseMeminfo(old).memoryAvailableBytes).toBe((21833000 + 34792 + 2262360) * 1024);
  });

  it('/proc/diskstats: whole disks only, 512-byte sectors', () => {
    // vda and nvme0n1 count; loop, zram, partitions and device-mapper do not.
    expect(parseDiskstats(DISKSTATS)).toEqual({ readBytesTotal: (4806186 + 2000) * 512, writtenBytesTotal: (11491816 + 4000) * 512 });
  });

  it('/proc/net/dev: every interface but loopback and virtual ones', () => {
    expect(parseNetDev(NETDEV)).toEqual({ receiveBytesTotal: 693629691 + 12345, transmitBytesTotal: 1661375 + 54321 });
  });

  it('parses this machine\'s own /proc', () => {
    expect(parseProcStat(readFileSync('/proc/stat', 'utf8')).cpuCount).toBeGreaterThan(0);
    expect(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).memoryTotalBytes).toBeGreaterThan(0);
    expect(parseDiskstats(readFileSync('/proc/diskstats', 'utf8')).readBytesTotal).toBeGreaterThanOrEqual(0);
    expect(parseNetDev(readFileSync('/proc/net/dev', 'utf8')).receiveBytesTotal).toBeGreaterThanOrEqual(0);
  });

  it('throws on text that is not what it should be', () => {
    expect(() => parseProcStat('garbage')).toThrow(/no aggregate cpu line/);
    expect(() => parseMeminfo('garbage')).toThrow(/no MemTotal/);
  });
});
