// /metrics for a fixed state: golden file, promtool lint, series lifecycle, OpenMetrics.
import { readFile, writeFile } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { METRICS, createMetrics, type MetricsSource, type RunMetricsView } from '../server/metrics/registry.js';
import { fixtureSnapshot, fixtureSource, fixtureSteps } from './helpers/prometheus-state.js';
import { runTool, skipWithout } from './helpers/prometheus-tools.js';

const GOLDEN = new URL('./golden/metrics.txt', import.meta.url);

async function goldenBody(): Promise<string> {
  const { source, views, steps } = fixtureSource(1, 300);
  const metrics = createMetrics(source, { version: '0.1.0', processMetrics: false });
  metrics.observeSteps(views[0], steps[0]);
  return (await metrics.render()).body;
}

describe('/metrics golden', () => {
  it('matches test/golden/metrics.txt for the 8-GPU fixture and one run (UPDATE_GOLDEN=1 rewrites)', async () => {
    const body = await goldenBody();
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(GOLDEN, body);
    expect(body).toBe(await readFile(GOLDEN, 'utf8'));
  });

  // Read by hand off test/fixtures/nvidia-smi/datakit-gtx-8card.xml, independently of the parser:
  // GPU 0 gpu_util 97 %, power_draw 232.80 W, gpu_temp 66 C, sm_clock 1410 MHz; fb total 32510 MiB;
  // GPU 3 and 6 clocks_throttle_reason_sw_power_cap Active; pid 37305 holds 31683 MiB on GPU 0.
  it('has a series for every GPU of the capture, in base units', async () => {
    const body = await goldenBody();
    const g0 = 'gpu="0",uuid="GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e"';
    expect(body).toContain(`trainpilot_gpu_utilization_ratio{${g0}} 0.97\n`);
    expect(body).toContain(`trainpilot_gpu_power_draw_watts{${g0}} 232.8\n`);
    expect(body).toContain(`trainpilot_gpu_temperature_celsius{${g0}} 66\n`);
    expect(body).toContain(`trainpilot_run_gpu_memory_used_bytes{run="resnet50-a",${g0}} ${31683 * 1024 * 1024}\n`);
    expect(body).toContain('trainpilot_gpu_clock_event_active{gpu="6",uuid="GPU-d2446f91-171e-1b54-515d-9d9b03484ddf",reason="sw_power_cap"} 1');
    expect(body.match(/^trainpilot_gpu_clock_event_active\{.*\} 1$/gm)).toHaveLength(2);
    expect(body).toContain('trainpilot_gpu_memory_total_bytes{gpu="7",uuid="GPU-1d955959-c95b-4f40-2cac-100d3006ffe2"} 34089205760');
    expect(body).toContain('trainpilot_gpu_sm_clock_hertz{gpu="0",uuid="GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e"} 1410000000');
    expect(body).toContain('trainpilot_gpu_clock_event_active{gpu="3",uuid="GPU-3181eb56-505c-8214-ba05-c132f68f89b8",reason="sw_power_cap"} 1');
    expect(body).toContain('trainpilot_run_step_duration_seconds_count{run="resnet50-a"} 300');
    expect(body.match(/^trainpilot_gpu_utilization_ratio\{/gm)).toHaveLength(8);
  });

  // GPM: only GPU 0 carries it (the documented dmon rows, last interval: smutil 94, mmaact 1, fp32 72);
  // the others have no series at all, not a 0. Energy: the 8 GPUs' power_draw (232.80 + 152.03 +
  // 67.57 + 198.41 + 117.99 + 85.80 + 68.14 + 61.47 = 984.21 W) over 300 steps of 0.08…0.12 s (30 s).
  it('exports GPM ratios only where the GPU has them, and the run\'s energy per sample', async () => {
    const body = await goldenBody();
    const g0 = 'gpu="0",uuid="GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e"';
    expect(body).toContain(`trainpilot_gpu_sm_active_ratio{${g0}} 0.94\n`);
    expect(body).toContain(`trainpilot_gpu_tensor_active_ratio{${g0}} 0.01\n`);
    for (const name of ['sm_active', 'sm_occupancy', 'tensor_active', 'dram_active', 'fp32_active']) {
      expect(body.match(new RegExp(`^trainpilot_gpu_${name}_ratio\\{`, 'gm')), name).toHaveLength(1);
    }
    const joules = Number(/^trainpilot_run_energy_joules_total\{run="resnet50-a"\} (\S+)$/m.exec(body)?.[1]);
    expect(joules).toBeCloseTo(984.21 * 30, 6);
    const perSample = Number(/^trainpilot_run_joules_per_sample\{run="resnet50-a"\} (\S+)$/m.exec(body)?.[1]);
    expect(perSample).toBeCloseTo((984.21 * 30) / (300 * 64), 9);
    expect(body).not.toMatch(/^trainpilot_run_energy_joules_total\{run="job-/m);
  });
});

describe('process metrics', () => {
  it('the event-loop delay figures are read from the histogram at most once a second: a scrape right after another shows the same', async () => {
    const { source } = fixtureSource(1, 10);
    const metrics = createMetrics(source);
    const lag = (body: string) =>
      Object.fromEntries([...body.matchAll(/^(nodejs_eventloop_lag_(?:min|max|mean|p50|p99)_seconds) (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
    await new Promise((r) => setTimeout(r, 2300)); // the monitor samples once a second
    const first = lag((await metrics.render()).body);
    expect(Object.keys(first)).toHaveLength(5);
    expect(first.nodejs_eventloop_lag_max_seconds).toBeGreaterThan(0);
    // How late the 1 s timer fired, not the interval itself (Node's histogram holds ~1.0009 s).
    expect(first.nodejs_eventloop_lag_max_seconds).toBeLessThan(0.5);
    expect(first.nodejs_eventloop_lag_min_seconds).toBeLessThanOrEqual(first.nodejs_eventloop_lag_max_seconds);
    const start = Date.now();
    while (Date.now() - start < 30) {
      // busy: a read here would see a histogram reset by the first read and given no sample since
    }
    expect(lag((await metrics.render()).body)).toEqual(first);
  });
});

describe.skipIf(skipWithout('promtool'))('promtool check metrics', () => {
  it('passes on the golden exposition', async () => {
    const r = await runTool('promtool', ['check', 'metrics'], await goldenBody());
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('passes with the process metrics included (prom-client defaults that fail the lint are left out)', async () => {
    const { source } = fixtureSource(3, 50);
    const body = (await createMetrics(source).render()).body;
    expect(body).toContain('process_cpu_seconds_total');
    expect(body).not.toMatch(/^nodejs_active_\w+_total/m);
    const r = await runTool('promtool', ['check', 'metrics'], body);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('catalogue', () => {
  it('registers exactly the catalogue: type, help, and every series with exactly its declared labels', async () => {
    const { source, views, steps } = fixtureSource(1, 20);
    const metrics = createMetrics(source, { processMetrics: false });
    metrics.observeSteps(views[0], steps[0]);
    const families = await metrics.registry.getMetricsAsJSON();
    const specs = Object.values(METRICS);
    expect(families.map((f) => f.name).sort()).toEqual(specs.map((s) => s.name).sort());
    for (const f of families) {
      const spec = specs.find((s) => s.name === f.name)!;
      expect(String(f.type), f.name).toBe(spec.type);
      expect(f.help, f.name).toBe(spec.help);
      expect(f.values.length, f.name).toBeGreaterThan(0);
      for (const v of f.values) expect(Object.keys(v.labels).filter((k) => k !== 'le').sort(), f.name).toEqual([...spec.labels].sort());
    }
  });

  it('holds the minimum catalogue of DESIGN §5', () => {
    const names = new Set(Object.values(METRICS).map((s) => s.name));
    for (const name of [
      'trainpilot_host_cpu_utilization_ratio', 'trainpilot_host_cpu_iowait_ratio', 'trainpilot_host_memory_total_bytes',
      'trainpilot_host_memory_available_bytes', 'trainpilot_host_swap_used_bytes', 'trainpilot_gpu_info',
      'trainpilot_gpu_utilization_ratio', 'trainpilot_gpu_memory_utilization_ratio', 'trainpilot_gpu_memory_used_bytes',
      'trainpilot_gpu_memory_total_bytes', 'trainpilot_gpu_power_draw_watts', 'trainpilot_gpu_power_limit_watts',
      'trainpilot_gpu_temperature_celsius', 'trainpilot_gpu_sm_clock_hertz', 'trainpilot_gpu_clock_event_active',
      'trainpilot_run_step_duration_seconds', 'trainpilot_run_data_wait_ratio', 'trainpilot_run_samples_per_second',
      'trainpilot_run_steps_total', 'trainpilot_run_samples_total', 'trainpilot_run_loss', 'trainpilot_run_batch_size',
      'trainpilot_run_learning_rate', 'trainpilot_run_dataloader_workers', 'trainpilot_run_process_cpu_seconds_total',
      'trainpilot_run_process_resident_memory_bytes', 'trainpilot_run_gpu_memory_used_bytes', 'trainpilot_run_bottleneck',
      'trainpilot_tuner_decisions_total', 'trainpilot_collector_up', 'trainpilot_collector_duration_seconds',
      'trainpilot_collector_errors_total',
    ]) expect(names, name).toContain(name);
    expect([...names].filter((n) => /^trainpilot_host_(disk|network)_\w+_bytes_total$/.test(n))).toHaveLength(4);
    for (const s of Object.values(METRICS)) {
      if (s.name.startsWith('trainpilot_gpu_') && s.name !== 'trainpilot_gpu_info') expect(s.labels.slice(0, 2), s.name).toEqual(['gpu', 'uuid']);
      if (s.name.startsWith('trainpilot_run_') || s.name.startsWith('trainpilot_tuner_')) expect(s.labels[0], s.name).toBe('run');
    }
  });
});

describe('series lifecycle', () => {
  it('drops every series of a run the source stops listing, histogram included', async () => {
    const snapshot = fixtureSnapshot();
    const a = fixtureSteps(1, 20);
    const views: RunMetricsView[] = [];
    const source: MetricsSource = { snapshot: () => snapshot, gpuInventory: () => undefined, runs: () => views };
    const metrics = createMetrics(source, { processMetrics: false });
    const run = (label: string): RunMetricsView => ({
      id: label, label, state: 'running', config: { batch_size: 8, learning_rate: 0.1, num_workers: 0, grad_accum_steps: 1 },
      stepsTotal: a.length, samplesTotal: 1280, recentSteps: a, lastLoss: 1, bottleneck: null, process: null,
      decisions: [{ knob: 'batch_size', action: 'increase', count: 1 }],
    });
    views.push(run('keep'), run('gone'));
    metrics.observeSteps(views[0], a);
    metrics.observeSteps(views[1], a);
    const before = (await metrics.render()).body;
    expect(before).toContain('trainpilot_run_step_duration_seconds_count{run="gone"} 20');
    expect(before).toContain('trainpilot_tuner_decisions_total{run="gone",knob="batch_size",action="increase"} 1');
    views.splice(1, 1);
    const after = (await metrics.render()).body;
    expect(after).not.toContain('run="gone"');
    expect(after).toContain('trainpilot_run_step_duration_seconds_count{run="keep"} 20');
  });

  it('leaves out what the source does not know (null readings, no host, no GPUs)', async () => {
    const snapshot = fixtureSnapshot();
    snapshot.gpus![2].powerDrawWatts = null;
    snapshot.host = null;
    const metrics = createMetrics({ snapshot: () => snapshot, gpuInventory: () => undefined, runs: () => [] }, { processMetrics: false });
    const body = (await metrics.render()).body;
    expect(body.match(/^trainpilot_gpu_power_draw_watts\{/gm)).toHaveLength(7);
    expect(body).not.toMatch(/^trainpilot_host_/m);
    expect(body).toContain('trainpilot_runs{state="running"} 0');
    const empty = createMetrics({ snapshot: () => undefined, gpuInventory: () => undefined, runs: () => [] }, { processMetrics: false });
    expect((await empty.render()).body).not.toMatch(/^trainpilot_(gpu|host|collector)_\w+[{ ]/m);
  });
});

describe('exposition formatter', () => {
  it("prints what prom-client's own Registry prints, in both formats", async () => {
    const make = () => {
      const { source, views, steps } = fixtureSource(2, 40);
      const m = createMetrics(source, { version: '0.1.0', processMetrics: false });
      views.forEach((v, i) => m.observeSteps(v, steps[i]));
      return m;
    };
    const a = make();
    expect((await a.render()).body).toBe(await a.registry.metrics());
    const b = make();
    const ours = (await b.render('application/openmetrics-text')).body;
    b.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    expect(ours).toBe(await b.registry.metrics());
  });

  it('escapes label values and help text as the exposition format requires', async () => {
    const { source, views } = fixtureSource(1, 5);
    views[0].label = 'a "quoted" \\ name\nsecond line';
    const body = (await createMetrics(source, { processMetrics: false }).render()).body;
    expect(body).toContain('trainpilot_run_loss{run="a \\"quoted\\" \\\\ name\\nsecond line"}');
  });
});

describe('OpenMetrics', () => {
  it('answers OpenMetrics when Accept asks, and plain text after it with counters still named _total', async () => {
    const { source, views, steps } = fixtureSource(1, 10);
    const metrics = createMetrics(source, { processMetrics: false });
    metrics.observeSteps(views[0], steps[0]);
    const prometheusAccept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const om = await metrics.render(prometheusAccept);
    expect(om.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    expect(om.body).toContain('# TYPE trainpilot_run_steps counter');
    expect(om.body).toContain('trainpilot_run_steps_total{run="resnet50-a"} 10');
    const text = await metrics.render('text/plain');
    expect(text.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text.body).toContain('# TYPE trainpilot_run_steps_total counter');
    expect(text.body).not.toContain('# EOF');
    const refused = await metrics.render('application/openmetrics-text;q=0, text/plain');
    expect(refused.contentType).toMatch(/^text\/plain/);
  });
});
