// Replay: recorded windows and runs (test/fixtures/replay/*.json) through the tuner, diffed
// against golden output (*.txt beside them). UPDATE_GOLDEN=1 rewrites the goldens;
// RECORD_REPLAY=1 re-records the fixtures from the simulator first. Review both diffs.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tune } from '../tuner/decide.js';
import { replayFile } from '../cli/replay.js';
import { ReplayError, replay } from '../server/runs/replay.js';
import { simulate } from '../server/runs/simulate.js';
import { scenarioByName } from '../tuner/simulator-scenarios.js';
import type { Window } from '../tuner/window.js';

const dir = join(import.meta.dirname, 'fixtures', 'replay');

/** Windows the tuner saw in a simulated run, at the ticks where it decided or after an OOM. */
function record(): void {
  const firstDecision = (name: string, pick: (w: Window) => boolean) => {
    let found: Window | undefined;
    simulate(scenarioByName(name), { steps: 3000, seed: 1, onWindow: (w) => { if (!found && pick(w)) found = w; } });
    if (!found) throw new Error(`no window matched in ${name}`);
    return found;
  };
  const write = (file: string, data: unknown) => writeFileSync(join(dir, file), JSON.stringify(data, null, 1) + '\n');
  const budget = { cores: 16, source: 'recorded' };
  write('input-bound-window.json', { window: firstDecision('input-bound', (w) => tune(w, { cpuBudget: budget }).decision !== undefined), cpuBudget: budget });
  write('blind-oom-window.json', { window: firstDecision('blind', (w) => w.events.some((e) => e.kind === 'oom')), cpuBudget: { cores: 16, source: 'recorded' } });
  // A recorded run in the API's shapes (GET /v1/runs/:id/steps), readings beside it.
  const readings: unknown[] = [];
  let last = -1;
  const sim = simulate(scenarioByName('cpu-starved'), {
    steps: 60, seed: 1, mode: 'advise',
    onWindow: (w) => { if (w.now - last >= 4) { last = w.now; readings.push({ ts: w.now, host: w.host, gpus: w.gpus, process: w.process }); } },
  });
  const s = scenarioByName('cpu-starved');
  write('cpu-starved-run.json', {
    run: { name: 'cpu-starved', config: s.config, tune: s.tune },
    steps: sim.recentSteps.map((p) => ({ step: p.step, ts: p.ts, duration_s: p.durationS, data_wait_s: p.dataWaitS, samples: p.samples, loss: p.loss, mem_peak_bytes: p.memPeakBytes, rank: p.rank, world_size: p.worldSize, config_version: p.configVersion })),
    readings,
    cpuBudget: { cores: 4, source: 'recorded' },
  });
  write('small-batch-scenario.json', { scenario: 'small-batch', steps: 2500, seed: 1 });
}

if (process.env.RECORD_REPLAY === '1') record();

const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('replay fixtures', () => {
  it('has the fixtures', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['input-bound-window.json', 'blind-oom-window.json', 'cpu-starved-run.json', 'small-batch-scenario.json']));
  });

  it.each(fixtures)('%s matches its golden output', async (file) => {
    const out = await replayFile(join(dir, file));
    const golden = join(dir, file.replace(/\.json$/, '.txt'));
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, out);
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });
});

describe('replay', () => {
  it('a window: the decision it would take now', async () => {
    const out = await replayFile(join(dir, 'input-bound-window.json'));
    expect(out).toMatch(/num_workers increase 1 → \d+/);
    expect(out).toMatch(/status: input_bound/);
  });

  it('a window right after an OOM: backs off below it', async () => {
    const out = await replayFile(join(dir, 'blind-oom-window.json'));
    expect(out).toMatch(/batch_size decrease \d+ → \d+: out of memory at batch/);
  });

  it('a recorded run: recommendations only', () => {
    const rec = JSON.parse(readFileSync(join(dir, 'cpu-starved-run.json'), 'utf8'));
    const r = replay(rec);
    expect(r.decisions.length).toBeGreaterThan(0);
    expect(r.decisions.every((d) => d.recommendOnly)).toBe(true);
    expect(r.status?.bottleneck).toBe('cpu_saturated');
  });

  it('rejects what is not a recording', async () => {
    expect(() => replay({} as never)).toThrow(ReplayError);
    await expect(replayFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read/);
  });
});
