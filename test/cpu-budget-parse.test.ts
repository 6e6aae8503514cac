// The job's CPU budget from its cgroup files and affinity (collectors/cpu-budget.ts), the pure
// parsers; test/cpu-budget.test.ts reads real cgroups and /proc.
import { describe, expect, it } from 'vitest';
import { cpuBudgetOf, parseCfsQuota, parseCpuMax } from '../collectors/cpu-budget.js';

describe('CPU budget parsers', () => {
  it.each([
    ['max 100000', null],
    ['200000 100000', 2],
    ['150000 100000\n', 1.5],
    ['garbage', null],
  ])('cgroup v2 cpu.max %j → %s cores', (text, cores) => {
    expect(parseCpuMax(text)).toBe(cores);
  });

  it('reads cgroup v1 quotas', () => {
    expect(parseCfsQuota('-1', '100000')).toBeNull();
    expect(parseCfsQuota('400000', '100000')).toBe(4);
  });

  it('takes the smaller of affinity and quota, saying where each came from', () => {
    expect(cpuBudgetOf(8, { cores: 2.5, file: '/q' }, '/proc/1/status')).toMatchObject({ cores: 2.5, source: expect.stringMatching(/cgroup quota 2.5 cores \(\/q\)/) });
    expect(cpuBudgetOf(4, null, 'x').cores).toBe(4);
    expect(cpuBudgetOf(4, { cores: 16, file: '/q' }, 'x').cores).toBe(4);
  });
});
