// tuner/format.ts beyond the single numbers: small numbers, free text tidied of raw floats, and
// evidence as labelled, formatted items (what the summary, the report and the page show).
import { describe, expect, it } from 'vitest';
import { evidenceItems, evidenceLabel, evidenceValue, fmtNum, fmtOffset, tidyNumbers } from '../tuner/format.js';

describe('tuner/format: text for people', () => {
  it('writes small numbers without four decimals', () => {
    expect([fmtNum(0.001), fmtNum(0.005), fmtNum(0.0014142), fmtNum(0.0003), fmtNum(3.1234e-5), fmtNum(0.012345)]).toEqual(['0.001', '0.005', '1.4e-3', '3e-4', '3.1e-5', '0.012']);
    for (let x = 1e-7; x < 1e4; x *= 1.37) expect(fmtNum(x), String(x)).not.toMatch(/\d\.\d{4,}/);
  });

  it('tidies raw floats in free text and leaves the rest alone', () => {
    expect(tidyNumbers('free cores 0.303030303030303, host 0.949748743718593, batch 64 → 128, v1.2.3')).toBe('free cores 0.3, host 0.95, batch 64 → 128, v1.2.3');
    expect(tidyNumbers('loss jumped from 2.345678 to 2.9')).toBe('loss jumped from 2.35 to 2.9');
  });

  it('labels and formats evidence by its key, telling items first, unknowns left out', () => {
    const items = evidenceItems({
      config_version: 3, host_cpu_utilization_ratio: 0.949748743718593, data_wait_ratio: 0.5312, why: 'steps wait',
      process_cpu_cores: 1.939, host_swap_used_bytes: 123456789, step_seconds: 0.0834, samples_per_second: 612.7,
      before_samples_per_second: 339.1, predicted_gain: 0.809, safety: false, gpu_utilization_ratio: null, before_process_cpu_cores: 0.303030303030303,
    });
    expect(items.map((i) => `${i.label}: ${i.text}`)).toEqual([
      'why: steps wait', 'data wait: 53 %', 'samples/s: 613 samples/s', 'host CPU busy: 95 %', 'CPU used by the job: 1.9 cores',
      'config version: 3', 'swap in use: 123 MB', 'step time: 83.4 ms', 'samples/s before: 339 samples/s', 'predicted gain: +81 %',
      'safety move: no', 'CPU used by the job before: 0.3 cores',
    ]);
    expect(evidenceLabel('rejected_mem_peak_bytes')).toBe('memory peak rejected');
    expect(evidenceLabel('some_new_thing_seconds')).toBe('some new thing');
    expect(evidenceValue('some_new_thing_seconds', 95)).toBe('1 min 35 s');
    expect(evidenceValue('note', { a: 0.123456789 })).toBe('{"a":0.12}');
    expect(fmtOffset(65.04)).toBe('+1 min 5 s');
    expect(fmtOffset(0)).toBe('+0 s');
  });
});
