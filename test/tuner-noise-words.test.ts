// The noise scale and statistical efficiency in the bottleneck evidence and in words
// (tuner/noise-words.ts), from steps that carry the two squared gradient norms.
import { describe, expect, it } from 'vitest';
import { classify } from '../tuner/classify.js';
import { evidenceItems } from '../tuner/format.js';
import { measure } from '../tuner/measure.js';
import { noiseEvidence, noiseWords } from '../tuner/noise-words.js';
import { makeSteps, makeWindow } from '../tuner/window-fixtures.js';

// |G|² = 1, tr(Σ) = 100: B_noise = 100, reported as the client does (a step's norm and a half's).
const normed = () => makeWindow({ steps: makeSteps({ n: 40, samples: 64, gradSqNorm: 1 + 100 / 64, gradSqNormSmall: 1 + 100 / 32 }) });

describe('noise words', () => {
  it('puts b_noise and the statistical efficiency in the bottleneck evidence', () => {
    const e = classify(normed()).evidence;
    expect(e.b_noise).toBeCloseTo(100, 6);
    expect(e.statistical_efficiency_ratio).toBeCloseTo(100 / 164, 5);
    expect(e.noise_scale).toBe('gradient noise scale 100 samples: at its batch of 64 a sample teaches 61 % of what ' +
      'it would in a small batch; a batch of 128 would learn 28 % less per sample');
  });

  it('says how much less a bigger batch learns per sample', () => {
    // Pollux: (φ + M0)/(φ + M) = (400 + 256)/(400 + 512) = 0.719 → 28 % less
    expect(noiseWords(400, 256)).toContain('a batch of 512 would learn 28 % less per sample');
  });

  it('adds nothing where steps carry no norms', () => {
    expect(noiseEvidence(measure(makeWindow(), 1))).toBeNull();
    expect(classify(makeWindow()).evidence).not.toHaveProperty('b_noise');
  });

  it('labels the fields for people', () => {
    const items = evidenceItems(classify(normed()).evidence);
    expect(items.find((i) => i.key === 'statistical_efficiency_ratio')).toMatchObject({ label: 'statistical efficiency per sample', text: '61 %' });
    expect(items.find((i) => i.key === 'b_noise')).toMatchObject({ label: 'gradient noise scale', text: '100' });
  });
});
