// What a person reads (issue 15, acceptance 2): the end-of-run summary and the report (markdown,
// HTML) rendered from real runs — one fed over HTTP to a real sidecar with its real tuner, and the
// PyTorch example under `trainpilot run` — carry no raw floats, no advice that does not fit a
// CPU-only job, each remedy once, and outcomes that read as gains ("kept: +81 % samples/s, 339 → 613").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../cli/api-client.js';
import { gatherReport, type RunReport } from '../cli/report-data.js';
import { reportHtml } from '../cli/report-html.js';
import { reportMarkdown } from '../cli/report-markdown.js';
import { summaryText } from '../cli/report-summary.js';
import { startSidecar, type Sidecar } from '../server/sidecar.js';
import { GPU_ONLY } from '../tuner/advice.js';
import { cli } from './cli-helpers.js';

const RAW_FLOAT = /\d\.\d{4,}/;
/** Remedies that need a GPU, by what a person reads of them. */
const GPU_WORDS = /DALI|pinned memory|non-blocking copies|CUDA graphs|mixed precision|on the GPU|GPU-side/i;
const PYTHON = '/usr/bin/python3';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-people-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sidecar(name: string): Promise<Sidecar> {
  return startSidecar({
    host: '127.0.0.1', port: 0, db: join(dir, `${name}.db`), intervalS: 0.25, nvidiaSmi: 'nvidia-smi',
    gpu: 'off', token: null, retentionS: 86400, metricsListen: null, log: 'silent',
  });
}

/** Everything a person reads of a run, checked for the three faults the issue names. */
function checkWhatPeopleRead(r: RunReport, texts: Record<string, string>): void {
  for (const [name, text] of Object.entries(texts)) {
    // The HTML's chart coordinates are numbers for the browser, not text for people.
    const words = name === 'html' ? text.replace(/<svg[\s\S]*?<\/svg>/g, '') : text;
    expect(words.match(RAW_FLOAT)?.[0] ?? null, `${name}: a raw float`).toBeNull();
    expect(words.match(GPU_WORDS)?.[0] ?? null, `${name}: a GPU remedy for a CPU-only job`).toBeNull();
  }
  const given = r.decisions.flatMap((d) => d.advice.map((a) => String(a.code)));
  expect(given.filter((c) => GPU_ONLY.has(c))).toEqual([]);
  expect(given, 'a remedy given twice').toEqual([...new Set(given)]);
  expect(r.advice.map((a) => a.code)).toEqual([...new Set(r.advice.map((a) => a.code))]);
  // Each remedy once in the summary's advice list too.
  const summaryAdvice = texts.summary.split('\n  advice:\n')[1]?.split('\n').filter((l) => l.startsWith('    - ')) ?? [];
  expect(summaryAdvice).toEqual([...new Set(summaryAdvice)]);
  // Outcomes read as gains with the samples/s before and after, never "×gain".
  for (const d of r.decisions.filter((x) => x.outcome.status === 'kept' || x.outcome.status === 'rolled_back')) {
    expect(texts.markdown).toMatch(/- \*\*outcome\*\*: (kept|rolled back)(: [+−]\d+(\.\d)? % samples\/s(, [\d,.]+ → [\d,.]+)?)?/);
    expect(d.outcome).toBeTruthy();
  }
  expect(texts.markdown).not.toMatch(/\(×\d/);
}

/**
 * A job over HTTP as the client would be: it acknowledges each config version and reports steps
 * whose data wait falls as workers are added (on this CPU-only sidecar, a CPU-bound input pipeline).
 */
async function feed(client: ApiClient, url: string, id: string, seconds: number): Promise<void> {
  const post = (path: string, body: unknown) => fetch(url + path, { method: path.endsWith('/config') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let applied = 1;
  let step = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const run = await client.run(id);
    const c = run.config as { batch_size: number; num_workers: number };
    if (run.config_version > applied) {
      applied = run.config_version;
      await post(`/v1/runs/${id}/events`, { kind: 'config_applied', step, data: { version: applied } });
    }
    const wait = Math.max(0.004, 0.07 - 0.02 * c.num_workers);
    const batch = Array.from({ length: 12 }, (_, i) => ({
      step: step + i, duration_s: 0.05 + wait + ((step + i) % 5) * 0.0003, data_wait_s: wait, samples: c.batch_size, loss: 2 - (step + i) * 1e-3, config_version: applied,
    }));
    step += batch.length;
    await post(`/v1/runs/${id}/steps`, { steps: batch });
    await new Promise((r) => setTimeout(r, 100));
  }
  await post(`/v1/runs/${id}/events`, { kind: 'finished', data: {} });
}

describe('what a person reads of a run', () => {
  it('a run fed over HTTP to the real tuner: no raw floats, no GPU advice, each remedy once, outcomes as gains', async () => {
    const s = await sidecar('fed');
    try {
      const client = createApiClient({ url: s.url });
      const run = await client.register({ name: 'fed-job', tune: { mode: 'auto' } });
      await fetch(`${s.url}/v1/runs/${run.id}/config`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ config: { batch_size: 16, learning_rate: 0.0003, num_workers: 0, grad_accum_steps: 1 } }),
      });
      await feed(client, s.url, run.id, 8);
      const r = await gatherReport(client, run.id);
      expect(r.decisions.length, 'the tuner decided something').toBeGreaterThan(0);
      const texts = {
        summary: summaryText(r, { durationS: r.duration_s, exitCode: 0, signal: null }),
        markdown: reportMarkdown(r),
        html: reportHtml(r),
      };
      checkWhatPeopleRead(r, texts);
      expect(r.run.bottleneck, 'a finished run keeps its bottleneck').not.toBeNull();
      expect(texts.summary).not.toContain('bottleneck: none found');
      expect(texts.markdown).toContain('- **evidence**:\n  - ');
      console.log(`fed run: ${r.decisions.length} decisions, bottleneck ${r.run.bottleneck?.kind}\n${texts.summary}`);
    } finally {
      await s.close();
    }
  }, 60_000);

  const torch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  // In CI the example must run: a missing torch fails the test there instead of skipping it.
  it.skipIf(!torch && process.env.CI !== 'true')('the PyTorch example under trainpilot run: its summary and report read right', async () => {
    expect(torch, `${PYTHON} has no torch`).toBe(true);
    const s = await sidecar('example');
    try {
      const r = await cli(['run', '--url', s.url, '--', PYTHON, 'examples/pytorch/train.py', '--max-seconds', '12', '--samples', '4000']);
      expect(r.code, r.stderr).toBe(0);
      const id = /\(run (\w+), pid/.exec(r.stderr)?.[1];
      expect(id, r.stderr).toBeTruthy();
      const summary = r.stderr.slice(r.stderr.indexOf('trainpilot: train.py ('));
      const client = createApiClient({ url: s.url });
      const rep = await gatherReport(client, id!);
      expect(rep.throughput.end?.steps ?? 0).toBeGreaterThan(0);
      checkWhatPeopleRead(rep, { summary, markdown: reportMarkdown(rep), html: reportHtml(rep) });
      expect(rep.events.filter((e) => e.kind === 'finished')).toHaveLength(1);
      expect(summary).not.toContain('bottleneck: none found');
      console.log(`example run: ${rep.decisions.length} decisions\n${summary}`);
    } finally {
      await s.close();
    }
  }, 120_000);
});
