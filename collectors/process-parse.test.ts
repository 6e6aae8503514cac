import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGone, pageSizeFromAuxv, parseChildren, parsePidStat, parseStatusRss } from './process-parse.js';

describe('process parsers', () => {
  it('/proc/<pid>/stat, with a command name holding spaces and parentheses', () => {
    const line =
      '4242 (pt_data_worker (1)) S 4200 4200 6735 0 -1 4194560 12000 0 0 0 250 75 30 12 20 0 3 0 1296346 3133440 417 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parsePidStat(line)).toEqual({
      pid: 4242,
      comm: 'pt_data_worker (1)',
      state: 'S',
      ppid: 4200,
      cpuSeconds: 3.25, // (250 + 75) / USER_HZ
      reapedChildrenCpuSeconds: 0.42, // (30 + 12) / USER_HZ
      startTicks: 1296346,
      threads: 3,
      rssPages: 417,
    });
  });

  it('reads this process', () => {
    const s = parsePidStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(s.pid).toBeGreaterThan(0);
    expect(s.cpuSeconds).toBeGreaterThan(0);
    expect(parseStatusRss(readFileSync('/proc/self/status', 'utf8'))).toBeGreaterThan(1024 * 1024);
  });

  it('VmRSS in bytes; none for kernel threads and zombies', () => {
    expect(parseStatusRss('Name:\tpython\nVmHWM:\t  9000 kB\nVmRSS:\t  8192 kB\n')).toBe(8192 * 1024);
    expect(parseStatusRss('Name:\tkthreadd\nState:\tS (sleeping)\n')).toBe(0);
  });

  it('the page size from an auxiliary vector, either byte order; null without AT_PAGESZ', () => {
    const vector = (pairs: Array<[number, number]>, le: boolean) => {
      const b = Buffer.alloc(pairs.length * 16);
      pairs.forEach(([type, value], i) => {
        if (le) { b.writeBigUInt64LE(BigInt(type), i * 16); b.writeBigUInt64LE(BigInt(value), i * 16 + 8); }
        else { b.writeBigUInt64BE(BigInt(type), i * 16); b.writeBigUInt64BE(BigInt(value), i * 16 + 8); }
      });
      return b;
    };
    // AT_HWCAP (16), AT_PAGESZ (6), AT_CLKTCK (17), AT_NULL
    expect(pageSizeFromAuxv(vector([[16, 0xbfebfbff], [6, 65536], [17, 100], [0, 0]], true), 'LE')).toBe(65536);
    expect(pageSizeFromAuxv(vector([[16, 1], [6, 4096], [0, 0]], false), 'BE')).toBe(4096);
    expect(pageSizeFromAuxv(vector([[16, 1], [0, 0], [6, 4096]], true), 'LE')).toBeNull(); // past AT_NULL
    expect(pageSizeFromAuxv(Buffer.alloc(0))).toBeNull();
    // This machine's: its RSS in pages times the page size is its VmRSS.
    const page = pageSizeFromAuxv(readFileSync('/proc/self/auxv'));
    expect(page).toBeGreaterThanOrEqual(4096);
    const rss = parsePidStat(readFileSync('/proc/self/stat', 'utf8')).rssPages * page!;
    expect(Math.abs(rss - parseStatusRss(readFileSync('/proc/self/status', 'utf8')))).toBeLessThan(4 * 1024 * 1024);
  });

  it('children lists, zombies', () => {
    expect(parseChildren('101 102 103 ')).toEqual([101, 102, 103]);
    expect(parseChildren('')).toEqual([]);
    expect(isGone('Z')).toBe(true);
    expect(isGone('S')).toBe(false);
  });

  it('throws on a line that is not a stat line', () => {
    expect(() => parsePidStat('garbage')).toThrow(/not a \/proc\/<pid>\/stat line/);
  });
});
