// A finished run keeps its last bottleneck, evidence and advice (in the API, `status` and the
// report, across a sidecar restart), and has exactly one `finished` event however many reporters
// say so (the job's client and `trainpilot run` both do).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../cli/api-client.js';
import { gatherReport } from '../cli/report-data.js';
import { reportMarkdown } from '../cli/report-markdown.js';
import { runRow } from '../cli/status.js';
import { buildApp } from '../server/app.js';
import { openRuns } from './helpers/runs.js';
import { GOOD_RUN, steps } from './helpers/app.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-run-end-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function open(path: string) {
  const runs = openRuns({ path });
  const app = await buildApp({ runs, version: 'test' });
  await app.ready();
  return { runs, app, close: async () => { await app.close(); runs.close(); } };
}

const saturated = {
  bottleneck: 'cpu_saturated' as const,
  evidence: { why: 'steps wait 53 % for data and the host CPU is 95 % busy', data_wait_ratio: 0.5312, host_cpu_utilization_ratio: 0.9497 },
  advice: [{ code: 'more_cpu', title: 'Give the job more CPU cores', why: '53 % of each step waits for data and the CPU is saturated' }],
};

describe('how a run ends', () => {
  it('keeps the last bottleneck (not a warming_up after it) and one finished event, across a restart', async () => {
    const db = join(dir, 'a.db');
    let s = await open(db);
    const id = (await s.app.inject({ method: 'POST', url: '/v1/runs', payload: GOOD_RUN })).json().id as string;
    await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/steps`, payload: { steps: steps(0, 20) } });
    s.runs.setStatus(id, { bottleneck: 'input_bound', evidence: { why: 'steps wait' }, advice: [] });
    s.runs.setStatus(id, saturated);
    s.runs.setStatus(id, { bottleneck: 'warming_up', evidence: { why: 'config version 3 not yet applied by the job' }, advice: [] });

    // The job's client, then `trainpilot run`, both say finished; a late exited and failed change nothing.
    for (const data of [{}, { exit_code: 0, by: 'trainpilot run' }]) {
      const r = await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'finished', data } });
      expect(r.statusCode).toBe(202);
      expect(r.json().state).toBe('finished');
    }
    s.runs.processExited(id, GOOD_RUN.pid);
    await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'failed', data: { exit_code: 1 } } });
    const kinds = s.runs.events(id, 100).map((e) => e.kind);
    expect(kinds.filter((k) => ['finished', 'failed', 'exited'].includes(k))).toEqual(['finished']);

    const view = (await s.app.inject({ url: `/v1/runs/${id}` })).json();
    expect(view).toMatchObject({ state: 'finished', bottleneck: { kind: 'cpu_saturated', evidence: saturated.evidence }, advice: saturated.advice });
    await s.close();

    // A fresh sidecar on the same store: the API, `status` and the report still say cpu_saturated.
    s = await open(db);
    const url = await s.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const client = createApiClient({ url });
      const run = await client.run(id);
      expect(run.bottleneck).toEqual({ kind: 'cpu_saturated', evidence: saturated.evidence });
      expect(run.advice).toEqual(saturated.advice);
      expect(runRow(run)[5]).toBe('cpu_saturated');
      const md = reportMarkdown(await gatherReport(client, id));
      expect(md).toContain('- **bottleneck**: cpu_saturated: steps wait 53 % for data and the host CPU is 95 % busy');
      expect(md).toContain('  - data wait: 53 %');
      expect(md).toContain('**Give the job more CPU cores**');
      expect(md).toMatch(/\*\*state\*\*: finished \(exit 0\)/);
    } finally {
      await s.close();
    }
  });

  it('stores the status only when the bottleneck or its advice changes', async () => {
    const s = await open(join(dir, 'b.db'));
    try {
      const id = (await s.app.inject({ method: 'POST', url: '/v1/runs', payload: GOOD_RUN })).json().id as string;
      const written = () => s.runs.db.prepare('SELECT ts, status FROM run_status WHERE run_id = ?').get(id) as { status: string } | undefined;
      expect(written()).toBeUndefined();
      s.runs.setStatus(id, { bottleneck: 'warming_up', evidence: {}, advice: [] });
      expect(written()).toBeUndefined();
      s.runs.setStatus(id, saturated);
      const first = written()!.status;
      s.runs.setStatus(id, { ...saturated, evidence: { ...saturated.evidence, data_wait_ratio: 0.6 } });
      expect(written()!.status).toBe(first); // same bottleneck, same advice: not written again
      await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'failed', data: { exit_code: 3 } } });
      expect(JSON.parse(written()!.status).evidence.data_wait_ratio).toBe(0.6); // the end writes the newest
    } finally {
      await s.close();
    }
  });

  it('lets finished replace an exited seen first, and records it once', async () => {
    const s = await open(join(dir, 'c.db'));
    try {
      const id = (await s.app.inject({ method: 'POST', url: '/v1/runs', payload: GOOD_RUN })).json().id as string;
      s.runs.processExited(id, GOOD_RUN.pid);
      for (let i = 0; i < 2; i++) await s.app.inject({ method: 'POST', url: `/v1/runs/${id}/events`, payload: { kind: 'finished', data: {} } });
      expect(s.runs.getRun(id).state).toBe('finished');
      expect(s.runs.events(id, 100).map((e) => e.kind).filter((k) => k !== 'started')).toEqual(['exited', 'finished']);
    } finally {
      await s.close();
    }
  });
});
