import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtCores, fmtCount, fmtGain, fmtNum, fmtPercent, fmtRate, fmtSeconds, fmtTimes } from '../tuner/format.js';

describe('tuner/format: numbers for people', () => {
  it('percent, gain and ratio read right', () => {
    expect(fmtPercent(0.5312)).toBe('53 %');
    expect(fmtPercent(0.0042)).toBe('0.4 %');
    expect(fmtPercent(0.1)).toBe('10 %');
    expect(fmtPercent(0)).toBe('0 %');
    expect(fmtGain(0.809)).toBe('+81 %');
    expect(fmtGain(-0.123)).toBe('−12 %');
    expect(fmtTimes(1.8123)).toBe('×1.81');
    expect(fmtPercent(null)).toBe('—');
    expect(fmtPercent(Number.NaN)).toBe('—');
  });
  it('cores, bytes, seconds, rates, counts', () => {
    expect(fmtCores(0.303030303030303)).toBe('0.3 cores');
    expect(fmtCores(1)).toBe('1 core');
    expect(fmtCores(12.4)).toBe('12 cores');
    expect(fmtBytes(1_234_567_890)).toBe('1.23 GB');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(40e9)).toBe('40 GB');
    expect(fmtSeconds(0.0123)).toBe('12.3 ms');
    expect(fmtSeconds(0.25)).toBe('250 ms');
    expect(fmtSeconds(1.5)).toBe('1.5 s');
    expect(fmtSeconds(95)).toBe('1 min 35 s');
    expect(fmtSeconds(7300)).toBe('2 h 1 min');
    expect(fmtRate(612.7)).toBe('613 samples/s');
    expect(fmtNum(0.949748743718593)).toBe('0.95');
    expect(fmtCount(1, 'worker')).toBe('1 worker');
    expect(fmtCount(3, 'worker')).toBe('3 workers');
  });
});
