// Energy per sample end to end (DESIGN §11): a real `trainpilot serve` samples the stand-in
// nvidia-smi, which replays the power readings of a real capture (test/fixtures/nvidia-smi/
// datakit-gtx-8card.xml: GPU 0 draws 232.80 W, GPU 3 198.41 W), with the job's process holding
// memory on GPUs 0 and 3. Step reports go in over HTTP; the run view and /metrics must give the
// power integrated over the steps as worked out here by hand, and /metrics must pass promtool.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonClient } from '../bench/lib/http.js';
import { CLI, REPO_ROOT, spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';
import { summaryText } from '../cli/report-summary.js';
import type { RunReport } from '../cli/report-data.js';
import { runTool, skipWithout } from './helpers/prometheus-tools.js';

/** Read off the capture by hand: <power_draw> of GPU 0 and GPU 3. */
const WATTS = 232.80 + 198.41;
const DURATIONS = [0.12, 0.1, 0.15, 0.08, 0.11, 0.13, 0.09, 0.1];
const SAMPLES = 32;
/** A report with the throughput quarters the summary needs to print its steps lines. */
const emptyReport = {
  throughput: { start: { samples_per_second: 1, steps: 1, data_wait_ratio: 0 }, end: { samples_per_second: 1, steps: 1, data_wait_ratio: 0 }, end_over_start: 1 },
  config_history: [], decisions: [], advice: [], peak_rss_bytes: null,
} as unknown as RunReport;

describe('energy per sample through the API and /metrics, with the stand-in replaying a capture', () => {
  let dir: string;
  let job: ChildProcess | undefined;
  let sidecar: SidecarProcess | undefined;
  let client: ReturnType<typeof jsonClient>;
  let runId: string;
  let label: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trainpilot-energy-'));
    job = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const control = join(dir, 'nvidia-smi.json');
    await writeFile(control, JSON.stringify({ mode: 'ok', apps: [
      { gpu: 0, pid: job.pid, usedMiB: 8192, name: 'python' },
      { gpu: 3, pid: job.pid, usedMiB: 8192, name: 'python' },
    ] }));
    sidecar = await spawnSidecar(
      ['--db', join(dir, 'trainpilot.db'), '--gpu', 'on', '--nvidia-smi', join(REPO_ROOT, 'test/bin/nvidia-smi'), '--interval', '1s'],
      { env: { FAKE_NVIDIA_SMI_CONTROL: control } },
    );
    client = jsonClient(sidecar.url);
    const reg = await client.post('/v1/runs', { name: 'energy', pid: job.pid, config: { batch_size: SAMPLES, learning_rate: 0.01, num_workers: 0, grad_accum_steps: 1 } });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    runId = reg.json.id;
    label = reg.json.label;
    // Wait until the sidecar has the run's GPUs and a power reading (compute apps are read every 5 s).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const view = await client.get(`/v1/runs/${runId}`);
      if (view.json.summary.energy_gpus?.length === 2) break;
      if (Date.now() > deadline) throw new Error(`no GPU attribution after 30 s: ${JSON.stringify(view.json.summary)}\n${sidecar.stderr()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Steps that start after that reading (and end now): each is covered by power readings.
    await new Promise((r) => setTimeout(r, 1200));
    let ts = Date.now() / 1000 - DURATIONS.reduce((a, b) => a + b, 0);
    const steps = DURATIONS.map((d, i) => ({ step: i + 1, duration_s: d, data_wait_s: 0, samples: SAMPLES, loss: 1, ts: (ts += d) }));
    const res = await client.post(`/v1/runs/${runId}/steps`, { steps });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
    job?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const byHand = { joules: WATTS * DURATIONS.reduce((a, b) => a + b, 0), samples: SAMPLES * DURATIONS.length };

  it('the run view gives the GPUs\' power integrated over the steps, and per sample', async () => {
    const { summary } = (await client.get(`/v1/runs/${runId}`)).json;
    expect(summary.energy_gpus).toEqual([0, 3]);
    // 431.21 W × 0.88 s = 379.4648 J over 256 samples = 1.48228… J/sample.
    expect(byHand.joules).toBeCloseTo(379.4648, 9);
    expect(summary.energy_joules).toBeCloseTo(byHand.joules, 2);
    expect(summary.joules_per_sample).toBeCloseTo(byHand.joules / byHand.samples, 5);
  });

  it('/metrics gives the same figures', async () => {
    const body = await (await fetch(`${sidecar!.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{run="${label}"\\} (\\S+)$`, 'm').exec(body)?.[1]);
    expect(value('trainpilot_run_energy_joules_total')).toBeCloseTo(byHand.joules, 2);
    expect(value('trainpilot_run_joules_per_sample')).toBeCloseTo(byHand.joules / byHand.samples, 5);
    // The stand-in has no GPM (dmon refused): no activity series at all, the rest all there.
    expect(body).not.toMatch(/^trainpilot_gpu_(sm_active|tensor_active)_ratio\{/m);
    expect(body.match(/^trainpilot_gpu_power_draw_watts\{/gm)).toHaveLength(8);
  });

  it('the report and the end-of-job summary say it for people', async () => {
    const out = await new Promise<string>((res, rej) => execFile(process.execPath, [CLI, 'report', runId, '--url', sidecar!.url], { encoding: 'utf8' },
      (e, stdout, stderr) => (e ? rej(new Error(stderr)) : res(stdout))));
    expect(out).toContain('- **GPU energy**: 379 J on GPUs 0, 3 — 1.48 J per sample\n');
    const view = (await client.get(`/v1/runs/${runId}`)).json;
    expect(summaryText({ ...emptyReport, run: view }, { durationS: 10, exitCode: 0, signal: null })).toContain('\n  GPU energy: 379 J on GPUs 0, 3 — 1.48 J per sample\n');
  });

  it.skipIf(skipWithout('promtool'))('/metrics passes promtool check metrics', async () => {
    const body = await (await fetch(`${sidecar!.url}/metrics`)).text();
    const r = await runTool('promtool', ['check', 'metrics'], body);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
