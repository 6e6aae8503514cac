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

  it("keeps the run's older norms at the same batch when the measured steps carry none (sparse sampling)", () => {
    const older = (samples: number, noise: number) => makeSteps({ n: 3, startStep: 5, samples, gradSqNorm: 1 + noise / samples, gradSqNormSmall: 1 + noise / (samples / 2) });
    const steps = makeSteps({ n: 40, startStep: 100, samples: 64 });
    const same = measure(makeWindow({ steps, normSteps: older(64, 100) }), 1)!;
    expect(noiseScale(same)!.bNoise).toBeCloseTo(100, 6);
    // Norms over another batch do not average with this one's: none is better than a wrong one.
    expect(noiseScale(measure(makeWindow({ steps, normSteps: older(32, 100) }), 1)!)).toBeNull();
    // The measured steps' own norms win over the older ones.
    const own = makeSteps({ n: 40, startStep: 100, samples: 64, gradSqNorm: 1 + 400 / 64, gradSqNormSmall: 1 + 400 / 32 });
    expect(noiseScale(measure(makeWindow({ steps: own, normSteps: older(64, 100) }), 1)!)!.bNoise).toBeCloseTo(400, 6);
  });
});
