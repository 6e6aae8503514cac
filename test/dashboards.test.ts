// The dashboards as generated and as checked in: equal, loadable by Grafana's
// file provisioning, and querying only metrics that /metrics exposes.
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI, REPO_ROOT } from '../bench/lib/sidecar-process.js';
import { generateDashboardFiles, writeDashboards } from '../dashboards/index.js';
import { createMetrics } from '../server/metrics/registry.js';
import { fixtureSource } from './helpers/prometheus-state.js';
import { dashboardQueries, exposedNames, labelValuesQuery, parseErrors, selectedMetrics, substitute } from './helpers/prometheus-promql.js';

const CHECKED_IN = new URL('../dashboards/grafana/', import.meta.url).pathname;
const run = promisify(execFile);
const files = generateDashboardFiles();
const dashboardsJson = files.filter((f) => f.path.endsWith('.json')).map((f) => JSON.parse(f.content));

// Any value will do for parsing; the end-to-end test substitutes real ones.
const VARS = { instance: '127.0.0.1:9477', gpu: '0', run: 'resnet50-a', datasource: 'prometheus', __rate_interval: '1m', __interval: '15s', __range: '1h' };

describe('checked-in dashboards', () => {
  it.each(files.map((f) => f.path))('dashboards/grafana/%s equals what writeDashboards generates (UPDATE_GOLDEN=1 rewrites)', async (path) => {
    const file = files.find((f) => f.path === path)!;
    const target = join(CHECKED_IN, path);
    if (process.env.UPDATE_GOLDEN === '1') {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.content);
    }
    expect(await readFile(target, 'utf8')).toBe(file.content);
  });

  it('`trainpilot dashboards --out DIR` (the built CLI) writes exactly the checked-in files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trainpilot-dashboards-cli-'));
    try {
      const { stdout } = await run(process.execPath, [CLI, 'dashboards', '--out', dir], { cwd: REPO_ROOT });
      expect(stdout.trim().split('\n')).toEqual(files.map((f) => join(dir, ...f.path.split('/'))));
      for (const f of files) expect(await readFile(join(dir, ...f.path.split('/')), 'utf8')).toBe(await readFile(join(CHECKED_IN, f.path), 'utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writeDashboards writes every file under the folder it is given and returns their paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trainpilot-dashboards-'));
    try {
      const written = await writeDashboards(join(dir, 'out'));
      expect(written).toEqual(files.map((f) => join(dir, 'out', ...f.path.split('/'))));
      for (const [i, path] of written.entries()) expect(await readFile(path, 'utf8')).toBe(files[i].content);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("what Grafana's provisioning loader needs", () => {
  it('has two dashboards with distinct uids, titles and a schemaVersion', () => {
    expect(dashboardsJson.map((d) => d.title).sort()).toEqual(['trainpilot / Node', 'trainpilot / Run']);
    for (const d of dashboardsJson) {
      expect(d.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/); // Grafana's uid limit is 40 characters
      expect(typeof d.schemaVersion).toBe('number');
      // Schema 33 turned datasource names into {type, uid} references (Grafana DashboardMigrator).
      expect(d.schemaVersion).toBeGreaterThanOrEqual(33);
      expect(d.id ?? null).toBeNull(); // a provisioned dashboard must not carry a database id
    }
    expect(new Set(dashboardsJson.map((d) => d.uid)).size).toBe(2);
  });

  it.each(dashboardsJson.map((d) => [d.title, d]))('%s: every panel and query names the ${datasource} variable, panel ids are unique', (_t, d) => {
    const vars = d.templating.list;
    expect(vars.find((v: { name: string }) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids: number[] = [];
    for (const p of d.panels) {
      ids.push(p.id);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets.map((t: { refId: string }) => t.refId)).size).toBe(p.targets.length);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const v of vars.filter((v: { type: string }) => v.type === 'query')) expect(v.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('provisions a Prometheus datasource and a file provider for the dashboards', () => {
    const ds = parse(files.find((f) => f.path === 'provisioning/datasources/trainpilot.yaml')!.content);
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', access: 'proxy' });
    const prov = parse(files.find((f) => f.path === 'provisioning/dashboards/trainpilot.yaml')!.content);
    expect(prov.apiVersion).toBe(1);
    expect(prov.providers[0]).toMatchObject({ type: 'file', options: { path: expect.stringMatching(/^\//) } });
  });
});

describe('dashboard PromQL', () => {
  const queries = dashboardsJson.flatMap(dashboardQueries);

  it('covers the panels the issue lists', () => {
    const selected = new Set(queries.flatMap((q) => selectedMetrics(q.kind === 'variable' ? labelValuesQuery(substitute(q.expr, VARS)).selector : substitute(q.expr, VARS))));
    for (const name of [
      'trainpilot_gpu_utilization_ratio', 'trainpilot_gpu_memory_used_bytes', 'trainpilot_gpu_power_draw_watts', 'trainpilot_gpu_power_limit_watts',
      'trainpilot_gpu_temperature_celsius', 'trainpilot_gpu_sm_clock_hertz', 'trainpilot_gpu_clock_event_active',
      'trainpilot_host_cpu_utilization_ratio', 'trainpilot_host_cpu_iowait_ratio', 'trainpilot_host_memory_available_bytes', 'trainpilot_host_swap_used_bytes',
      'trainpilot_collector_up', 'trainpilot_run_samples_per_second', 'trainpilot_run_step_duration_seconds_bucket', 'trainpilot_run_data_wait_ratio',
      'trainpilot_run_loss', 'trainpilot_run_batch_size', 'trainpilot_run_learning_rate', 'trainpilot_run_dataloader_workers',
      'trainpilot_tuner_decisions_total', 'trainpilot_run_bottleneck', 'trainpilot_run_gpu_memory_used_bytes',
      'trainpilot_run_process_cpu_seconds_total', 'trainpilot_run_process_resident_memory_bytes',
    ]) expect(selected, name).toContain(name);
  });

  let exposed: Set<string>;
  beforeAll(async () => {
    const { source, views, steps } = fixtureSource(1, 20);
    const metrics = createMetrics(source, { processMetrics: false });
    metrics.observeSteps(views[0], steps[0]);
    exposed = exposedNames((await metrics.render()).body);
  });

  it.each(queries.map((q) => [q.where, q]))('%s parses and selects only exposed metrics', (_w, q) => {
    const expr = substitute(q.expr, VARS);
    const promql = q.kind === 'variable' ? labelValuesQuery(expr).selector : expr;
    expect(parseErrors(promql), promql).toEqual([]);
    const names = selectedMetrics(promql);
    expect(names.length, promql).toBeGreaterThan(0);
    for (const name of names) expect(exposed, `${q.where}: ${name}`).toContain(name);
  });
});
