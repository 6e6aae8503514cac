// Goodput (tuner/goodput.ts): the gradient noise scale from the two squared norms, and Pollux's
// statistical efficiency.
import { describe, expect, it } from 'vitest';
import { efficiency, noiseScale } from '../tuner/goodput.js';
import { measure } from '../tuner/measure.js';
import { makeSteps, makeWindow } from '../tuner/window-fixtures.js';

describe('goodput', () => {
  it('estimates the gradient noise scale (McCandlish et al. 2018, A.1)', () => {
    const m = measure(makeWindow({ steps: makeSteps({ n: 40, samples: 64, gradSqNorm: 1 + 100 / 64, gradSqNormSmall: 1 + 100 / 32 }) }), 1)!;
    const n = noiseScale(m)!;
    expect(n.bNoise).toBeCloseTo(100, 6);
    expect(n.gradSq).toBeCloseTo(1, 6);
  });

  it('has Pollux efficiency (φ + M0)/(φ + M)', () => {
    expect(efficiency(100, 100, 100)).toBe(1);
    expect(efficiency(100, 100, 300)).toBe(0.5);
  });

  it('is absent without both norms', () => {
    expect(noiseScale(measure(makeWindow(), 1)!)).toBeNull();
  });
});
