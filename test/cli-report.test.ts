// `trainpilot status`, `report` and `watch` against a real sidecar holding a run with steps,
// config versions, a decision (written through the tuner's store port) and events.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, decision, listeningSidecar, startCli, writeJob, type ListeningSidecar } from './cli-helpers.js';
import { steps } from './helpers/app.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-cli-report-'));
let s: ListeningSidecar;
let runId: string;
let idleId: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(s.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  s = await listeningSidecar();
  idleId = (await api('POST', '/v1/runs', { name: 'idle-job', tune: { mode: 'off' } })).id;
  const run = await api('POST', '/v1/runs', { name: 'resnet-a', config: { batch_size: 32, learning_rate: 0.001, num_workers: 0 }, tune: { mode: 'auto' } });
  runId = run.id;
  // First half at 32 samples per step, second half at 64: throughput doubles.
  await api('POST', `/v1/runs/${runId}/steps`, { steps: steps(0, 40, { samples: 32, duration_s: 0.1, data_wait_s: 0.05 }) });
  const d = s.runs.applyDecision(runId, decision({ evidence: { data_wait_ratio: 0.5, note: '<script>alert(1)</script>' } }));
  s.runs.setOutcome(runId, d.id, { status: 'kept', gainRatio: 2 });
  s.runs.setStatus(runId, { bottleneck: 'input_bound', evidence: { data_wait_ratio: 0.5 }, advice: [{ code: 'mixed_precision', title: 'Mixed precision', why: 'the GPU waits on fp32 math' }] });
  await api('POST', `/v1/runs/${runId}/events`, { kind: 'config_applied', data: { version: 2 } });
  await api('POST', `/v1/runs/${runId}/steps`, { steps: steps(40, 40, { samples: 64, duration_s: 0.1, data_wait_s: 0.01 }) });
  await api('POST', `/v1/runs/${runId}/events`, { kind: 'note', data: { msg: '<img src=x onerror=alert(1)> | `pipe`' } });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trainpilot status', () => {
  it('prints a table of runs', async () => {
    const r = await cli(['status', '--url', s.url]);
    expect(r.code).toBe(0);
    const [head, ...rows] = r.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ID\s+NAME\s+STATE\s+STEPS\s+SAMPLES\/S\s+BOTTLENECK\s+CONFIG\s+DECISIONS$/);
    const row = rows.find((l) => l.startsWith(runId))!;
    // 64 recent steps: 24 at 320/s and 40 at 640/s → 64·… samples over 6.4 s.
    expect(row).toMatch(/resnet-a\s+running\s+80\s+520\s+input_bound\s+bs=32 lr=0\.001 w=2\s+1$/);
    expect(rows.find((l) => l.startsWith(idleId))).toMatch(/idle-job\s+running\s+0\s+—\s+—\s+no config\s+0$/);
  });

  it('prints JSON and filters by state', async () => {
    await api('POST', `/v1/runs/${idleId}/events`, { kind: 'failed', data: { exit_code: 1 } });
    const all = JSON.parse((await cli(['status', '--json'], { TRAINPILOT_URL: s.url })).stdout);
    expect(all.runs.map((r: { id: string }) => r.id).sort()).toEqual([runId, idleId].sort());
    const failed = JSON.parse((await cli(['status', '--url', s.url, '--state', 'failed', '--json'])).stdout);
    expect(failed.runs.map((r: { id: string }) => r.id)).toEqual([idleId]);
  });

  it('says why when the sidecar is not there, and refuses a bad --state', async () => {
    const r = await cli(['status', '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the sidecar at http:\/\/127\.0\.0\.1:9/);
    expect((await cli(['status', '--url', s.url, '--state', 'dead'])).code).toBe(2);
  });
});

describe('trainpilot report', () => {
  it('json: throughput at start and end, config history, decisions, advice', async () => {
    const r = await cli(['report', runId, '--url', s.url, '--format', 'json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.run.id).toBe(runId);
    // The start config's own steps before the first change against the final config's (issue 21),
    // each without its first steps of warm-up: 35 of 40 steps at v1 and at v2.
    expect(rep.throughput.basis).toBe('configs');
    expect(rep.throughput.start).toMatchObject({ steps: 35, samples: 1120, samples_per_second: expect.closeTo(320, 6) });
    expect(rep.throughput.end).toMatchObject({ steps: 35, samples: 2240, samples_per_second: expect.closeTo(640, 6) });
    expect(rep.throughput.end_over_start).toBeCloseTo(2);
    const series = rep.throughput_series as Array<{ step: number; samples_per_second: number }>;
    expect(series.length).toBeLessThanOrEqual(60);
    expect(series[0].samples_per_second).toBeCloseTo(320);
    expect(series.at(-1)).toEqual({ step: 79, samples_per_second: expect.closeTo(640, 6) });
    expect(rep.config_history.map((v: { version: number; config: { num_workers: number } }) => [v.version, v.config.num_workers])).toEqual([[1, 0], [2, 2]]);
    expect(rep.config_history[1].reason).toMatch(/input-bound/);
    expect(rep.decisions).toHaveLength(1);
    expect(rep.decisions[0]).toMatchObject({ knob: 'num_workers', action: 'increase', outcome: { status: 'kept', gainRatio: 2 } });
    expect(rep.advice.map((a: { code: string }) => a.code)).toEqual(['mixed_precision', 'faster_storage']);
    expect(rep.events.map((e: { kind: string }) => e.kind).slice(-2)).toEqual(['config_applied', 'note']);
  });

  it('markdown by default, found by run name, with the decisions', async () => {
    const r = await cli(['report', 'resnet-a', '--url', s.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# trainpilot report: resnet-a/);
    expect(r.stdout).toMatch(/## Decisions\n\n### #\d+ \+[\d.]+ (m?s|µs) step 39: num_workers increase 0 → 2/);
    expect(r.stdout).toContain('- **reason**: input-bound: data wait is 50% of each step and 1.2 cores are free');
    expect(r.stdout).toContain('- **outcome**: kept: +200 % samples/s');
    // Evidence is a list of labelled, formatted items, not key=value.
    expect(r.stdout).toContain('- **evidence**:\n  - data wait: 50 %');
    expect(r.stdout).not.toMatch(/[a-z]_[a-z_]+=/);
    expect(r.stdout).toMatch(/\*\*samples\/s at end\*\*: 640 samples\/s .*×2\.00 the start/);
    // Run data cannot open markdown syntax or raw HTML.
    expect(r.stdout).toContain('\\<img src=x onerror=alert(1)\\> \\| \\`pipe\\`');
  });

  it('html is one self-contained page with every piece of run data escaped', async () => {
    const out = join(dir, 'report.html');
    const r = await cli(['report', runId, '--url', s.url, '--format', 'html', '--out', out]);
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<img|src=["']?http|<link/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('num_workers increase 0 → 2');
    // The live page's charts, static: samples/s and the knobs as step lines, the decision marked at
    // its step with its reason as the tooltip.
    expect(html).toMatch(/<svg [^>]*data-chart="report-samples"[^>]*>[\s\S]*<path class="series" data-series="samples\/s" d="M[\d., ML]+"/);
    expect(html).toMatch(/<svg [^>]*data-chart="report-knobs"[\s\S]*data-series="workers"/);
    expect(html).toMatch(/<g class="marker"><title>#\d+ step 39: num_workers increase 0 → 2 — input-bound/);
  });

  it('renders a watch-only run (no config, no steps, no decisions) in every format', async () => {
    const md = await cli(['report', idleId, '--url', s.url]);
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('The job never said what it runs with (watch-only).');
    expect(md.stdout).toContain('No decisions.');
    const json = JSON.parse((await cli(['report', idleId, '--url', s.url, '--format', 'json'])).stdout);
    expect(json.throughput).toEqual({ start: null, end: null, end_over_start: null });
    expect((await cli(['report', idleId, '--url', s.url, '--format', 'html'])).stdout).toContain('No decisions.');
  });

  it('exit 1 for an unknown run, 2 for a bad format', async () => {
    const r = await cli(['report', 'nope', '--url', s.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no run with id or name "nope"/);
    expect((await cli(['report', runId, '--url', s.url, '--format', 'pdf'])).code).toBe(2);
  });
});

describe('trainpilot watch', () => {
  it('follows a run and ends when it ends', async () => {
    const w = await api('POST', '/v1/runs', { name: 'watched', config: { batch_size: 8, learning_rate: 0.1, num_workers: 0 } });
    const p = startCli(['watch', 'watched', '--url', s.url, '--interval', '200ms']);
    await new Promise((r) => setTimeout(r, 600));
    await api('POST', `/v1/runs/${w.id}/steps`, { steps: steps(0, 10, { samples: 8, duration_s: 0.1, data_wait_s: 0 }) });
    s.runs.applyDecision(w.id, decision({ configBefore: { batch_size: 8, learning_rate: 0.1, num_workers: 0, grad_accum_steps: 1 }, configAfter: { batch_size: 8, learning_rate: 0.1, num_workers: 2, grad_accum_steps: 1 } }));
    await new Promise((r) => setTimeout(r, 600));
    await api('POST', `/v1/runs/${w.id}/events`, { kind: 'finished', data: { exit_code: 0 } });
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/decision #\d+: num_workers increase 0 → 2 — input-bound/);
    expect(r.stdout).toMatch(/watched finished \| .* \| 10 steps \| 80 samples\/s/);
  });
});

describe('trainpilot watch, stopped', () => {
  it('exits 0 on Ctrl-C with the line cleared', async () => {
    const p = startCli(['watch', runId, '--url', s.url]);
    // Off a terminal the decisions so far are printed at the first poll, after the handlers are set.
    await p.waitFor(/decision #\d+: num_workers increase 0 → 2/);
    p.proc.kill('SIGINT');
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.signal).toBeNull();
  });
});

describe('a sidecar with a token', () => {
  it('status and run send it from TRAINPILOT_TOKEN or --token-file, and the job gets it', async () => {
    const token = 'a-long-enough-test-token-0123456789';
    const t = await listeningSidecar({ token });
    try {
      const refused = await cli(['status', '--url', t.url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/401 unauthorized/);
      expect((await cli(['status', '--url', t.url], { TRAINPILOT_TOKEN: token })).code).toBe(0);
      const file = join(dir, 'token');
      writeFileSync(file, `${token}\n`);
      const job = writeJob(dir);
      // The job's steps are accepted only if the token reached it too.
      const r = await cli(['run', '--url', t.url, '--token-file', file, '--', process.execPath, job]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/"status":202/);
      expect(r.stderr).toMatch(/640 at end/);
    } finally {
      await t.close();
    }
  });
});
