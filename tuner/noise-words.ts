// The gradient noise scale and the statistical efficiency it implies, as evidence and in words
// ("a batch of 512 would learn 31 % less per sample"), for the bottleneck evidence, the "no
// action" decisions that carry it, and so the run view and the report. The estimate itself is
// goodput.ts's; this module only says what it means for the batch the job runs at.
import { efficiency, noiseScale } from './goodput.js';
import { round, type Measurement } from './measure.js';
import { fmtNum, fmtPercent } from './format.js';

export interface NoiseEvidence {
  /** B_simple: the batch size at which gradient noise and signal balance (McCandlish et al. 2018). */
  b_noise: number;
  /**
   * What one sample of the current global batch B teaches, as a share of what it would in a
   * batch far below the noise scale: B_noise / (B_noise + B) (McCandlish et al. 2018, eq. 2.7,
   * the per-sample form of Pollux's efficiency; Qiao et al. 2021, eq. 5).
   */
  statistical_efficiency_ratio: number;
  /** The same in words, with what doubling the batch would cost per sample. */
  noise_scale: string;
}

/** The evidence fields; none where the window carries no gradient norms (or they are too noisy). */
export function noiseEvidence(m: Measurement | null | undefined): NoiseEvidence | null {
  const n = m ? noiseScale(m) : null;
  if (!m || !n) return null;
  const batch = m.samplesPerRank * m.worldSize;
  const eff = n.bNoise / (n.bNoise + batch);
  return { b_noise: round(n.bNoise, 2), statistical_efficiency_ratio: round(eff), noise_scale: noiseWords(n.bNoise, batch) };
}

/**
 * "gradient noise scale 140 samples: at its batch of 64 a sample teaches 69 % of what it would
 * in a small batch; a batch of 128 would learn 22 % less per sample".
 */
export function noiseWords(bNoise: number, batch: number): string {
  const eff = bNoise / (bNoise + batch);
  const bigger = batch * 2;
  const loss = 1 - efficiency(bNoise, batch, bigger);
  return `gradient noise scale ${fmtNum(bNoise)} samples: at its batch of ${fmtNum(batch)} a sample teaches ` +
    `${fmtPercent(eff)} of what it would in a small batch; a batch of ${fmtNum(bigger)} would learn ` +
    `${fmtPercent(loss)} less per sample`;
}
