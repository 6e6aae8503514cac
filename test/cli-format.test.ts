// The pure parts of the client commands: throughput quarters, config history, names, exit codes,
// escaping, and the live line's redraw.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Decision, Step } from '../cli/api-client.js';
import { configHistory, quarterThroughput, throughputSeries } from '../cli/report-data.js';
import { esc, fmtOutcome } from '../cli/report-format.js';
import { mdText } from '../cli/report-markdown.js';
import { defaultName, exitCodeOf } from '../cli/run.js';
import { liveLine } from '../cli/live-line.js';
import { fitWidth, fmtConfig, fmtDecision, statusLine } from '../cli/status-line.js';

const step = (i: number, samples: number, extra: Partial<Step> = {}): Step => ({
  step: i, ts: 1e9 + i, duration_s: 0.5, data_wait_s: 0.1, samples, loss: null, mem_peak_bytes: null,
  grad_sq_norm: null, grad_sq_norm_small: null, rank: 0, world_size: 1, config_version: 1, ...extra,
});

describe('quarterThroughput', () => {
  it('compares the first and the last quarter of the steps, by the job\'s own durations', () => {
    const steps = [...Array.from({ length: 8 }, (_, i) => step(i, 10)), ...Array.from({ length: 8 }, (_, i) => step(8 + i, 30))];
    const t = quarterThroughput(steps);
    expect(t.start).toMatchObject({ steps: 4, samples: 40, seconds: 2, samples_per_second: 20, data_wait_ratio: expect.closeTo(0.2, 9) });
    expect(t.end).toMatchObject({ steps: 4, samples: 120, samples_per_second: 60 });
    expect(t.end_over_start).toBeCloseTo(3);
  });

  it('with a config change, compares the starting config\'s own steps with the final config\'s, not quarters', () => {
    // Issue 21: a run whose first quarter already ran the change read ×1.02 where the change gave +82 %.
    const steps = [...Array.from({ length: 4 }, (_, i) => step(i, 10)), ...Array.from({ length: 20 }, (_, i) => step(4 + i, 30, { config_version: 2 }))];
    const t = quarterThroughput(steps);
    expect(t.basis).toBe('configs');
    expect(t.start).toMatchObject({ steps: 4, samples_per_second: 20 });
    expect(t.end).toMatchObject({ steps: 15, samples_per_second: 60 });
    expect(t.end_over_start).toBeCloseTo(3);
  });

  it('counts rank 0 only, scaled by world size', () => {
    const steps = [0, 1, 2, 3].flatMap((i) => [step(i, 8, { rank: 0, world_size: 2 }), step(i, 8, { rank: 1, world_size: 2 })]);
    expect(quarterThroughput(steps).start).toMatchObject({ steps: 1, samples: 16, samples_per_second: 32 });
  });

  it('is empty without steps and uses the one step there is', () => {
    expect(quarterThroughput([])).toEqual({ start: null, end: null, end_over_start: null });
    expect(quarterThroughput([step(0, 5)]).end_over_start).toBe(1);
  });
});

describe('throughputSeries', () => {
  it('cuts the run into at most N stretches of steps', () => {
    const steps = Array.from({ length: 100 }, (_, i) => step(i, i < 50 ? 10 : 30));
    const s = throughputSeries(steps, 10);
    expect(s).toHaveLength(10);
    expect(s[0]).toEqual({ step: 9, samples_per_second: 20 });
    expect(s[9]).toEqual({ step: 99, samples_per_second: 60 });
    expect(throughputSeries(steps.slice(0, 3), 10).map((p) => p.step)).toEqual([0, 1, 2]);
    expect(throughputSeries([], 10)).toEqual([]);
  });
});

describe('configHistory', () => {
  it('zips the knob series into versions and names the decision behind each', () => {
    const d = { id: 7, config_version: 2, reason: 'input-bound' } as Decision;
    const h = configHistory({
      batch_size: [[10, 32], [20, 32]], learning_rate: [[10, 0.001], [20, 0.001]], num_workers: [[10, 0], [20, 2]], grad_accum_steps: [[10, 1], [20, 1]],
    }, [d]);
    expect(h).toEqual([
      { version: 1, ts: 10, config: { batch_size: 32, learning_rate: 0.001, num_workers: 0, grad_accum_steps: 1 }, reason: 'the job\'s starting config', decision_id: null },
      { version: 2, ts: 20, config: { batch_size: 32, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 }, reason: 'input-bound', decision_id: 7 },
    ]);
    expect(configHistory({}, [])).toEqual([]);
  });
});

describe('run helpers', () => {
  it('names a run after the script an interpreter runs, or the command', () => {
    expect(defaultName(['/usr/bin/python3', '-u', 'examples/pytorch/train.py', '--max-steps', '5'])).toBe('train.py');
    expect(defaultName(['./my job!'])).toBe('my-job-');
    expect(defaultName(['node'])).toBe('node');
    expect(defaultName(['/opt/.hidden'])).toBe('hidden');
    expect(defaultName(['...'])).toBe('job');
  });

  it('maps a signal to 128 + its number', () => {
    expect(exitCodeOf(0, null)).toBe(0);
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
    expect(exitCodeOf(null, 'SIGTERM')).toBe(143);
    expect(exitCodeOf(null, 'SIGINT')).toBe(130);
  });
});

describe('escaping', () => {
  it('html: text and attribute values', () => {
    expect(esc(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('markdown: one line, no syntax opened', () => {
    expect(mdText('a|b\n`c` [d](e) <f> *g*')).toBe('a\\|b \\`c\\` \\[d\\](e) \\<f\\> \\*g\\*');
    expect(mdText('num_workers')).toBe('num_workers');
  });
});

describe('formats and the live line', () => {
  it('names a decision by its change, or advice by its title', () => {
    const d = (o: Partial<Decision>) => ({
      knob: 'batch_size', action: 'increase', config_before: { batch_size: 8 }, config_after: { batch_size: 16 }, advice: [], recommend_only: false, ...o,
    }) as Decision;
    expect(fmtDecision(d({}))).toBe('batch_size increase 8 → 16');
    expect(fmtDecision(d({ recommend_only: true }))).toBe('advice: batch_size increase 8 → 16');
    const advice = [{ code: 'more_cores', title: 'Give the job more CPU cores', why: '' }, { code: 'cache', title: 'Cache', why: '' }];
    expect(fmtDecision(d({ knob: 'none', action: 'advise', advice }))).toBe('advice: Give the job more CPU cores, and 1 more remedy');
    expect(fmtDecision(d({ knob: 'none', action: 'advise' }))).toBe('advice: advise');
  });

  it('reads an outcome as the gain with the samples/s before and after', () => {
    const kept = { evidence: { before_samples_per_second: 339.123456 }, outcome: { status: 'kept', gainRatio: 0.809, note: '+81 % samples/s, noise band 3.2 %', after: { samples_per_second: 613.4567 } } };
    expect(fmtOutcome(kept)).toBe('kept: +81 % samples/s, 339 → 613 (noise band 3.2 %)');
    const back = { evidence: { before_samples_per_second: 613 }, outcome: { status: 'rolled_back', gainRatio: -0.12, note: 'throughput fell 12 %, beyond the 3 % noise band', after: { samples_per_second: 540 } } };
    expect(fmtOutcome(back)).toBe('rolled back: −12 % samples/s, 613 → 540 (throughput fell 12 %, beyond the 3 % noise band)');
    expect(fmtOutcome({ evidence: {}, outcome: { status: 'rolled_back', gainRatio: -1, note: 'out of memory at batch 64' } })).toBe('rolled back (out of memory at batch 64)');
    expect(fmtOutcome({ evidence: {}, outcome: { status: 'pending' } })).toBe('pending');
  });

  it('formats the status line and configs through tuner/format.ts', () => {
    expect(fmtConfig({ batch_size: 32, learning_rate: 0.00031234, num_workers: 2, grad_accum_steps: 1 })).toBe('bs=32 lr=3.1e-4 w=2');
    const run = {
      name: 'train.py', state: 'running', config: { batch_size: 32, learning_rate: 0.001, num_workers: 2 }, bottleneck: { kind: 'input_bound', evidence: {} },
      summary: { steps: 120, samples_per_second: 612.7345, data_wait_ratio: 0.5312 },
    } as unknown as Parameters<typeof statusLine>[0];
    expect(statusLine(run, undefined, 65.4)).toBe('train.py running | 1 min 5 s | 120 steps | 613 samples/s | data wait 53 % | input_bound | bs=32 lr=0.001 w=2');
  });

  it('redraws in place, fitted to the terminal, when its height is unknown', () => {
    let written = '';
    const out = { columns: 30, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const line = liveLine(out);
    line.draw('x'.repeat(100));
    line.draw('short');
    line.close();
    expect(written).toBe(`\r\x1b[2K${'x'.repeat(28)}…\r\x1b[2Kshort\r\x1b[2K`);
    expect(fitWidth('abc', undefined)).toBe('abc');
  });

  it('keeps to the bottom row below a scrolling region, follows a resize, and resets on close', () => {
    let written = '';
    const out = Object.assign(new EventEmitter(), { rows: 10, columns: 40, write: (s: string) => ((written += s), true) }) as unknown as NodeJS.WriteStream;
    const line = liveLine(out);
    expect(written).toBe('\n\x1b7\x1b[1;9r\x1b8\x1b[1A');
    written = '';
    line.draw('status');
    line.clear(); // nothing to clear: our own lines scroll in the region
    expect(written).toBe('\x1b7\x1b[10;1H\x1b[2Kstatus\x1b8');
    written = '';
    (out as unknown as { rows: number }).rows = 12;
    out.emit('resize');
    expect(written).toBe('\x1b7\x1b[1;10r\x1b[10;1H\x1b[2K\x1b8' + '\n\x1b7\x1b[1;11r\x1b8\x1b[1A' + '\x1b7\x1b[12;1H\x1b[2Kstatus\x1b8');
    written = '';
    line.close();
    expect(written).toBe('\x1b7\x1b[1;12r\x1b[12;1H\x1b[2K\x1b8');
    expect(out.listenerCount('resize')).toBe(0);
  });
});
