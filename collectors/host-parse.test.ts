// /proc captures (a 2-CPU Debian 12 VM, plus disk and interface lines from other
// machines for the exclusion rules) through the pure host parsers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuRatios, parseCpuinfo, parseDiskstats, parseMeminfo, parseNetDev, parseOsRelease, parseProcStat } from './host-parse.js';

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

// /proc/cpuinfo as each architecture's kernel writes it (x86: this 2-CPU VM, abridged;
// the others follow arch/*/kernel/ c_show() and are abridged by hand).
const CPUINFO_X86 = `processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
core id\t\t: 0
cpu cores\t: 2

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
core id\t\t: 1
cpu cores\t: 2
`;
const CPUINFO_ARM64 = `processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

processor\t: 1
BogoMIPS\t: 243.75
CPU implementer\t: 0x41
CPU part\t: 0xd0c
`;
const CPUINFO_PI = `${CPUINFO_ARM64}
Hardware\t: BCM2835
Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
`;
const CPUINFO_POWER = `processor\t: 0
cpu\t\t: POWER9 (raw), altivec supported
clock\t\t: 3800.000000MHz

processor\t: 1
cpu\t\t: POWER9 (raw), altivec supported

timebase\t: 512000000
platform\t: PowerNV
`;

describe('inventory parsers', () => {
  it('/proc/cpuinfo: the CPU name and logical CPUs on each architecture', () => {
    expect(parseCpuinfo(CPUINFO_X86)).toEqual({ model: 'AMD EPYC', logicalCpus: 2 }); // not x86's numeric `model`
    expect(parseCpuinfo(CPUINFO_ARM64)).toEqual({ model: null, logicalCpus: 2 }); // arm64 names no CPU
    expect(parseCpuinfo(CPUINFO_PI)).toEqual({ model: 'Raspberry Pi 4 Model B Rev 1.4', logicalCpus: 2 });
    expect(parseCpuinfo(CPUINFO_POWER)).toEqual({ model: 'POWER9 (raw), altivec supported', logicalCpus: 2 });
    expect(parseCpuinfo('')).toEqual({ model: null, logicalCpus: 0 });
  });

  it('os-release: NAME and VERSION_ID, else PRETTY_NAME, quotes and escapes undone', () => {
    expect(parseOsRelease(readFileSync('/etc/os-release', 'utf8'))).toMatch(/\S/);
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')).toBe('Debian GNU/Linux 12');
    expect(parseOsRelease("NAME='Ubuntu'\nVERSION_ID='22.04'\n")).toBe('Ubuntu 22.04');
    expect(parseOsRelease('NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nBUILD_ID=rolling\n')).toBe('Arch Linux'); // rolling: no VERSION_ID
    expect(parseOsRelease('# comment\nPRETTY_NAME="Say \\"hi\\""\n')).toBe('Say "hi"');
    expect(parseOsRelease('garbage\n')).toBeNull();
  });
});
