// The proof on a real Prometheus: Debian's prometheus scrapes a real
// `trainpilot serve` (stand-in nvidia-smi replaying the 8 × V100S capture, a run
// fed with step reports over HTTP) every second and evaluates our rule files.
// Then every dashboard query (template variables substituted) must succeed and
// every panel query return data; every rule expression must succeed and every
// rule evaluate cleanly; every metric a dashboard names must be on /metrics.
// Missing prometheus fails the test in CI (CI=true) and skips it elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonClient } from '../bench/lib/http.js';
import { REPO_ROOT, spawnSidecar, type SidecarProcess } from '../bench/lib/sidecar-process.js';
import { generateDashboardFiles } from '../dashboards/index.js';
import { dashboardQueries, exposedNames, labelValuesQuery, selectedMetrics, substitute } from './helpers/prometheus-promql.js';
import { startPrometheus, type PrometheusServer } from './helpers/prometheus-server.js';
import { skipWithout } from './helpers/prometheus-tools.js';

const RUN_NAME = 'resnet50-a';
const RULE_FILES = ['alerts.yml', 'recording.yml'].map((f) => join(REPO_ROOT, 'dashboards/prometheus', f));
const queries = generateDashboardFiles().filter((f) => f.path.endsWith('.json')).flatMap((f) => dashboardQueries(JSON.parse(f.content)));
const panels = queries.filter((q) => q.kind === 'panel');
const others = queries.filter((q) => q.kind !== 'panel');

interface Series { metric: Record<string, string>; values?: unknown[]; value?: unknown }

describe.skipIf(skipWithout('prometheus'))('dashboards and rules on a real Prometheus scraping a real sidecar', () => {
  let dir: string;
  let job: ChildProcess | undefined;
  let sidecar: SidecarProcess | undefined;
  let prom: PrometheusServer | undefined;
  let feeder: NodeJS.Timeout | undefined;
  let client: ReturnType<typeof jsonClient> | undefined;
  let vars: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trainpilot-e2e-prom-'));
    // The "training job": a live process whose tree the sidecar watches, and
    // which the stand-in nvidia-smi lists as holding 12 GiB on GPU 0.
    job = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const control = join(dir, 'nvidia-smi.json');
    await writeFile(control, JSON.stringify({ mode: 'ok', apps: [{ gpu: 0, pid: job.pid, usedMiB: 12288, name: 'python' }] }));
    sidecar = await spawnSidecar(
      ['--db', join(dir, 'trainpilot.db'), '--gpu', 'on', '--nvidia-smi', join(REPO_ROOT, 'test/bin/nvidia-smi'), '--interval', '1s'],
      // GPUs 0 and 1 answer dmon --gpm-metrics with the documented format's rows (test/fixtures/nvidia-smi/gpm/).
      { env: { FAKE_NVIDIA_SMI_CONTROL: control, FAKE_NVIDIA_SMI_GPM: 'gpm/dmon-gpm-documented.txt' } },
    );
    client = jsonClient(sidecar.url);
    const reg = await client.post('/v1/runs', {
      name: RUN_NAME, pid: job.pid,
      config: { batch_size: 64, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 },
    });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const runId: string = reg.json.id;
    let step = 0;
    const feed = async () => {
      const now = Date.now() / 1000;
      const steps = Array.from({ length: 4 }, (_, i) => ({
        step: ++step, duration_s: 0.05 + (step % 3) * 0.01, data_wait_s: 0.01 * (step % 2),
        samples: 64, loss: 3 / Math.sqrt(step), ts: now - (3 - i) * 0.06,
      }));
      await client!.post(`/v1/runs/${runId}/steps`, { steps });
      // Data parallel over two nodes, as rank 0 forwards its ranks' summaries: rank 1 waits on data.
      const ranks = await client!.post(`/v1/runs/${runId}/ranks`, {
        world_size: 2,
        ranks: [0, 1].map((rank) => ({
          rank, node: `gpu-node-${rank + 1}`, steps: 4, duration_s: 0.24, data_wait_s: rank === 1 ? 0.16 : 0.01, samples: 256, last_step: step,
        })),
      });
      if (ranks.status !== 202) throw new Error(`rank summaries: ${ranks.status} ${JSON.stringify(ranks.json)}`);
    };
    await feed();
    feeder = setInterval(() => void feed().catch(() => undefined), 250);

    const instance = new URL(sidecar.url).host;
    vars = {
      datasource: 'prometheus', instance, run: reg.json.label ?? RUN_NAME, gpu: '0',
      // What Grafana would pick for a 1 s scrape interval: $__rate_interval ≥ 4 scrapes.
      __rate_interval: '10s', __interval: '2s', __range: '1m',
    };
    prom = await startPrometheus({ job: 'trainpilot', targets: [instance], ruleFiles: RULE_FILES });
    // Enough scrapes for rate() and the rules (eight with the run's data), and
    // the collectors caught up with the run (its process tree, its GPU memory).
    const ready = [
      `count_over_time(trainpilot_run_samples_total{run="${vars.run}"}[30s]) >= 8`,
      `trainpilot_run_process_resident_memory_bytes{run="${vars.run}"}`,
      `trainpilot_run_gpu_memory_used_bytes{run="${vars.run}"}`,
      `trainpilot_run_rank_straggler{run="${vars.run}"} == 1`,
      `trainpilot_run_joules_per_sample{run="${vars.run}"}`,
      'trainpilot_gpu_tensor_active_ratio{gpu="0"}',
    ];
    const deadline = Date.now() + 45_000;
    for (;;) {
      const results = await Promise.all(ready.map((query) => prom!.api<{ result: Series[] }>('query', { query })));
      if (results.every((r) => r.result.length > 0)) break;
      if (Date.now() > deadline) {
        const missing = ready.filter((_, i) => results[i].result.length === 0);
        throw new Error(`still empty after 45 s: ${missing.join('; ')}\n${prom.logs()}\n${sidecar.stderr()}`);
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  }, 90_000);

  afterAll(async () => {
    if (feeder) clearInterval(feeder);
    client?.close();
    await prom?.stop();
    await sidecar?.stop();
    job?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const range = () => {
    const end = Date.now() / 1000;
    return { start: String(end - 60), end: String(end), step: '1' };
  };

  it('scrapes the sidecar without errors, in the OpenMetrics format it negotiates', async () => {
    const targets = await prom!.api<{ activeTargets: Array<{ health: string; lastError: string; labels: Record<string, string> }> }>('targets');
    expect(targets.activeTargets).toHaveLength(1);
    expect(targets.activeTargets[0]).toMatchObject({ health: 'up', lastError: '', labels: { job: 'trainpilot', instance: vars.instance } });
    const res = await fetch(`${sidecar!.url}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(await res.text()).toMatch(/# EOF\n$/);
  });

  it('exposes on /metrics every metric name a dashboard references', async () => {
    const body = await (await fetch(`${sidecar!.url}/metrics`)).text();
    const exposed = exposedNames(body);
    for (const q of queries) {
      const expr = substitute(q.expr, vars);
      for (const name of selectedMetrics(q.kind === 'variable' ? labelValuesQuery(expr).selector : expr)) {
        expect(exposed, `${q.where}: ${name}`).toContain(name);
      }
    }
  });

  it.each(panels.map((q) => [q.where, q]))('panel query returns data: %s', async (_w, q) => {
    // $gpu is multi-valued: one GPU (a repeated panel), several, and "All" (its allValue).
    const gpus = q.expr.includes('$gpu') ? ['0', '0|3', '.*'] : [vars.gpu];
    for (const gpu of gpus) {
      const expr = substitute(q.expr, { ...vars, gpu });
      const data = await prom!.api<{ resultType: string; result: Series[] }>('query_range', { query: expr, ...range() });
      expect(data.resultType).toBe('matrix');
      expect(data.result.length, expr).toBeGreaterThan(0);
    }
  });

  it.each(others.map((q) => [q.where, q]))('variable and annotation query succeeds: %s', async (_w, q) => {
    const expr = substitute(q.expr, vars);
    if (q.kind === 'variable') {
      const { selector, label } = labelValuesQuery(expr);
      const values = await prom!.api<string[]>(`label/${label}/values`, { 'match[]': selector, start: range().start });
      expect(values, selector).toContain(vars[label]);
    } else {
      const data = await prom!.api<{ result: Series[] }>('query_range', { query: expr, ...range() });
      expect(Array.isArray(data.result)).toBe(true);
    }
  });

  it('shows the run on the GPU its process holds memory on', async () => {
    const q = panels.find((p) => p.where.includes("The run's GPUs"))!;
    const data = await prom!.api<{ result: Series[] }>('query', { query: substitute(q.expr, vars) });
    expect(data.result.map((s) => s.metric.gpu)).toEqual(['0']);
  });

  it('runs every rule expression, and Prometheus evaluates every rule without error', async () => {
    let count = 0;
    for (const file of RULE_FILES) {
      const doc = parse(await readFile(file, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
      for (const rule of doc.groups.flatMap((g) => g.rules)) {
        await prom!.api('query', { query: rule.expr });
        count++;
      }
    }
    expect(count).toBe(16);
    const rules = await prom!.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('rules');
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(16);
    for (const r of all) expect(r, r.name).toMatchObject({ health: 'ok' });
  });

  it('raises the alerts the capture calls for (pending: their for: is minutes)', async () => {
    // datakit-gtx-8card.xml: sw_power_cap active on GPUs 3 and 6; fb used over 95 % of 32510 MiB on GPUs 0, 3, 5 and 6.
    const { alerts } = await prom!.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('alerts');
    const by = (name: string) => alerts.filter((a) => a.labels.alertname === name).map((a) => a.labels.gpu).sort();
    expect(by('TrainpilotGpuThrottled')).toEqual(['3', '6']);
    expect(by('TrainpilotGpuMemoryNearFull')).toEqual(['0', '3', '5', '6']);
    expect(alerts.filter((a) => a.labels.alertname === 'TrainpilotGpuThrottled').map((a) => a.labels.reason)).toEqual(['sw_power_cap', 'sw_power_cap']);
    // The run's GPU (0) is 97 % busy, every collector is up, the sidecar is scraped.
    expect(by('TrainpilotGpuIdleWhileRunActive')).toEqual([]);
    expect(by('TrainpilotCollectorDown')).toEqual([]);
    expect(by('TrainpilotSidecarDown')).toEqual([]);
    for (const a of alerts) expect(a.state).toBe('pending');
  });

  it('shows the ranks side by side, the straggler marked on its node', async () => {
    const q = panels.find((p) => p.where.includes('Stragglers'))!;
    const data = await prom!.api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('query', { query: substitute(q.expr, vars) });
    expect(data.result.map((s) => [s.metric.rank, s.metric.node, s.value[1]]).sort()).toEqual([['0', 'gpu-node-1', '0'], ['1', 'gpu-node-2', '1']]);
    const wait = panels.find((p) => p.where.includes('Data wait by rank'))!;
    const waits = await prom!.api<{ result: Array<{ metric: Record<string, string> }> }>('query', { query: substitute(wait.expr, vars) });
    expect(waits.result.map((s) => s.metric.rank).sort()).toEqual(['0', '1']);
  });

  it('records the run throughput and step-time quantiles', async () => {
    for (const name of ['instance_run:trainpilot_run_samples:rate1m', 'instance_run_quantile:trainpilot_run_step_duration_seconds:histogram_quantile']) {
      const data = await prom!.api<{ result: Series[] }>('query', { query: `${name}{run="${vars.run}"}` });
      expect(data.result.length, name).toBeGreaterThan(0);
    }
  });
});
