// A kept change whose loss turns non-finite later, past its judging window (tuner/late-loss.ts):
// rolled back with cause 'loss' once it happens repeatedly; one bad step is left alone.
import { describe, expect, it } from 'vitest';
import { tune } from '../tuner/decide.js';
import { BASE_CONFIG, makeSteps, makeWindow, record, figures, basis } from '../tuner/window-fixtures.js';

const budget = { cpuBudget: { cores: 16, source: 'test' } };

describe('a kept change whose loss later turns non-finite (late-loss.ts)', () => {
  const kept = record({
    id: 3, configVersion: 2, configBefore: BASE_CONFIG, configAfter: { ...BASE_CONFIG, batch_size: 128 },
    evidence: { search: 'predicted' },
    basis: basis({ search: 'predicted' }),
    before: figures({ samplesPerSecond: 640 }),
    outcome: { status: 'kept', gainRatio: 0.2, note: 'kept' },
  });
  const window = (nonFinite: number) => {
    const steps = makeSteps({ n: 80, version: 2, samples: 128 });
    for (let i = 0; i < nonFinite; i++) steps[steps.length - 1 - 2 * i].loss = Number.POSITIVE_INFINITY;
    return makeWindow({ config: { ...BASE_CONFIG, batch_size: 128 }, configVersion: 2, appliedVersion: 2, decisions: [kept], steps, now: steps.at(-1)!.ts + 1 });
  };

  it('is rolled back with cause loss once the loss is non-finite repeatedly', () => {
    const r = tune(window(3), budget);
    expect(r.decision?.action).toBe('rollback');
    expect(r.decision?.configAfter.batch_size).toBe(64);
    expect(r.decision?.reason).toMatch(/back to batch size 64: at 128 the loss turned non-finite 3 times/);
    expect(r.outcomes).toContainEqual({ decisionId: 3, outcome: expect.objectContaining({ status: 'rolled_back', cause: 'loss' }) });
  });

  it('is left alone for one non-finite step (a bad batch skipped), and a rollback is never itself undone', () => {
    expect(tune(window(1), budget).decision?.action).not.toBe('rollback');
    const undo = { ...kept, action: 'rollback' as const };
    const w = { ...window(5), decisions: [undo] };
    expect(tune(w, budget).decision?.action).not.toBe('rollback');
  });
});
