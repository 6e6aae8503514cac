// dashboards/prometheus: the rule files pass `promtool check rules`, their unit
// tests (every *test*.yml) pass `promtool test rules`, the example config passes
// `promtool check config`, recording rules follow level:metric:operations, and
// every rule selects only metrics trainpilot (or Prometheus itself: `up`) exposes.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../server/metrics/registry.js';
import { fixtureSource } from './helpers/prometheus-state.js';
import { exposedNames, parseErrors, selectedMetrics } from './helpers/prometheus-promql.js';
import { runTool, skipWithout } from './helpers/prometheus-tools.js';

const DIR = new URL('../dashboards/prometheus/', import.meta.url).pathname;
const RULE_FILES = ['alerts.yml', 'recording.yml'];

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }
async function rules(): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const f of RULE_FILES) {
    const doc = parse(await readFile(join(DIR, f), 'utf8')) as { groups: Array<{ rules: Rule[] }> };
    for (const g of doc.groups) out.push(...g.rules);
  }
  return out;
}

describe.skipIf(skipWithout('promtool'))('promtool on dashboards/prometheus', () => {
  it('check rules accepts the rule files', async () => {
    const r = await runTool('promtool', ['check', 'rules', ...RULE_FILES], '', DIR);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('test rules passes every *test*.yml', async () => {
    const tests = (await readdir(DIR)).filter((f) => /test.*\.ya?ml$/.test(f)).sort();
    expect(tests).toEqual(['alerts_test.yml', 'recording_test.yml']);
    const r = await runTool('promtool', ['test', 'rules', ...tests], '', DIR);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.match(/SUCCESS/g)).toHaveLength(tests.length);
  });

  it('check config accepts the example prometheus.yml', async () => {
    const r = await runTool('promtool', ['check', 'config', 'prometheus.yml'], '', DIR);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe('rule content', () => {
  let exposed: Set<string>;
  beforeAll(async () => {
    const { source, views, steps } = fixtureSource(1, 20);
    const metrics = createMetrics(source, { processMetrics: false });
    metrics.observeSteps(views[0], steps[0]);
    exposed = exposedNames((await metrics.render()).body);
  });

  it('names recording rules level:metric:operations', async () => {
    const records = (await rules()).filter((r) => r.record);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) expect(r.record).toMatch(/^[a-z_]+:trainpilot_[a-z_]+:[a-z0-9_]+$/);
  });

  it('has the alerts the issue lists, each with a for: and a severity', async () => {
    const alerts = (await rules()).filter((r) => r.alert);
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'TrainpilotCollectorDown', 'TrainpilotGpuIdleWhileRunActive', 'TrainpilotGpuMemoryNearFull',
      'TrainpilotGpuThrottled', 'TrainpilotRunInputBound', 'TrainpilotSidecarDown',
    ]);
    for (const a of alerts) {
      expect(a.for, a.alert).toMatch(/^\d+m$/);
      expect(['warning', 'critical']).toContain(a.labels?.severity);
    }
    expect(alerts.find((a) => a.alert === 'TrainpilotRunInputBound')!.for).toBe('10m');
  });

  it('selects only metrics /metrics exposes, recorded series or up', async () => {
    const all = await rules();
    const recorded = new Set(all.flatMap((r) => (r.record ? [r.record] : [])));
    for (const r of all) {
      expect(parseErrors(r.expr), r.expr).toEqual([]);
      for (const name of selectedMetrics(r.expr)) {
        expect(exposed.has(name) || recorded.has(name) || name === 'up', `${r.alert ?? r.record}: ${name}`).toBe(true);
      }
    }
  });
});
