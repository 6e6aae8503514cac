import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeClockEventReasons, parseQuantity, toBytes, toCelsius, toHertz, toRatio, toText, toVersion, toWatts } from './gpu-values.js';

const FIXTURES = new URL('../test/fixtures/nvidia-smi/', import.meta.url);

describe('nvidia-smi value forms', () => {
  it.each([
    'N/A',
    '[N/A]',
    '[Not Supported]',
    '[Requested functionality has been deprecated]',
    '[Function Not Found]',
    '[Unknown Error]',
    '[GPU is lost]',
    '',
    'Requested functionality has been deprecated',
  ])('%j is not a value', (text) => {
    expect(parseQuantity(text)).toBeNull();
    expect(toBytes(text)).toBeNull();
    expect(toRatio(text)).toBeNull();
    expect(toWatts(text)).toBeNull();
    expect(toText(text)).toBeNull();
  });

  it('turns units into base units', () => {
    expect(toBytes('32510 MiB')).toBe(34_089_205_760); // 32510 × 2^20
    expect(toBytes('32510')).toBe(34_089_205_760); // nounits: MiB is what nvidia-smi means
    expect(toRatio('97 %')).toBe(0.97);
    expect(toRatio('47')).toBe(0.47);
    expect(toRatio('100.00 %')).toBe(1);
    expect(toWatts('232.80 W')).toBe(232.8);
    expect(toCelsius('66 C')).toBe(66);
    expect(toHertz('1410 MHz')).toBe(1_410_000_000);
    expect(toHertz('1980')).toBe(1_980_000_000);
  });

  it('refuses a unit it does not know rather than guess', () => {
    expect(toBytes('5 furlongs')).toBeNull();
    expect(toWatts('3 MiB')).toBeNull();
  });

  it('strips the deprecation note driver 610 adds to its version, as printed in a real capture', () => {
    const capture = readFileSync(new URL('nvidia_gpu_exporter-capture-linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt', FIXTURES), 'utf8');
    const line = capture.split('\n').find((l) => l.startsWith('Driver Version'))!;
    const value = line.slice(line.indexOf(':') + 1).trim();
    expect(value).toBe('610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]');
    expect(toVersion(value)).toBe('610.57.04');
    expect(toVersion('535.54.03')).toBe('535.54.03');
    expect(toVersion('N/A')).toBeNull();
  });

  it('decodes the clock-event reason bitmask', () => {
    expect(decodeClockEventReasons('0x0000000000000000')).toEqual([]);
    expect(decodeClockEventReasons('0x0000000000000001')).toEqual(['gpu_idle']);
    expect(decodeClockEventReasons('0x0000000000000024')).toEqual(['sw_power_cap', 'sw_thermal_slowdown']);
    expect(decodeClockEventReasons('0x00000000000000C8')).toEqual(['hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown']);
    expect(decodeClockEventReasons('[N/A]')).toEqual([]);
    expect(decodeClockEventReasons('Not Active')).toEqual([]);
  });
});
