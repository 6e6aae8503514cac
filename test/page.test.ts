// The live page in a real headless Chromium (Debian's, driven by playwright-core) against a real
// sidecar app over real SQLite and real HTTP: the test feeds a run step reports over HTTP, writes
// decisions and the bottleneck through the tuner's store ports (what the tuner loop writes), and
// reads the page as a person would. Needs `npm run build` (the page is served from dist/).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, spawnSidecar } from '../bench/lib/sidecar-process.js';
import { parseNvidiaSmiXml } from '../collectors/gpu-xml.js';
import { quarterThroughput } from '../cli/report-data.js';
import { toTune } from '../server/run-input.js';
import { figures } from '../tuner/window-fixtures.js';
import type { GpuReading, ProcessTreeReading } from '../collectors/readings.js';
import { decision, listeningSidecar, type ListeningSidecar } from './cli-helpers.js';
import { chromiumAvailable, launchBrowser, liveSteps, openPage, type Browser } from './page-helpers.js';

const HTML_NAME = '<img src=x onerror="window.__xss=1"><b>bold</b>';
const SCREENSHOTS = join(REPO_ROOT, 'dist/screenshots');
const GPUS: GpuReading[] = parseNvidiaSmiXml(readFileSync(join(REPO_ROOT, 'test/fixtures/nvidia-smi/datakit-gtx-1card.xml'), 'utf8')).readings;

const hasChromium = chromiumAvailable();

let s: ListeningSidecar;
let browser: Browser;
let runId: string;
let htmlRunId: string;
/** The process tree the sidecar's collector would have read: this test's own process, for real. */
const tree = (): ProcessTreeReading => {
  const u = process.cpuUsage();
  return {
    runId, pid: process.pid, alive: true, cpuSecondsTotal: (u.user + u.system) / 1e6, residentMemoryBytes: process.memoryUsage().rss,
    children: [], workerCount: 0, gpuMemoryBytes: { 0: 1.5e9 },
  };
};

async function api(method: string, path: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(s.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function sample(): void {
  // The capture's GPU 0, where the run holds memory (tree()): its power draw counts as the run's (energy per sample).
  s.runs.recordSnapshot({ ts: Date.now() / 1000, host: null, gpus: GPUS, processes: [tree()], health: [] });
}

describe.skipIf(!hasChromium && process.env.CI !== 'true')('the live page in Chromium', () => {
  beforeAll(async () => {
    s = await listeningSidecar({
      host: () => ({ snapshot: { ts: Date.now() / 1000, host: null, gpus: GPUS, processes: [tree()], health: [] }, health: [], inventory: { host: null, gpu: null } }),
    });
    runId = (await api('POST', '/v1/runs', { name: 'resnet-live', config: { batch_size: 32, learning_rate: 0.001, num_workers: 0 }, tune: { mode: 'auto' } })).id;
    // The API refuses such a name (its pattern); one in the store from elsewhere must still read as text.
    htmlRunId = s.runs.registerRun({ name: HTML_NAME, pid: null, config: null, tune: toTune({ mode: 'off' }) }).id;
    await api('POST', `/v1/runs/${runId}/steps`, { steps: liveSteps(0, 120, { wait: 0.05 }) });
    sample();
    await new Promise((r) => setTimeout(r, 300));
    sample();
    browser = await launchBrowser();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('lists the runs with no console errors, and a run name with HTML in it as text', async () => {
    const { page, errors } = await openPage(browser, `${s.url}/`);
    await page.waitForSelector(`tr[data-run="${runId}"]`);
    const row = page.locator(`tr[data-run="${runId}"]`);
    await expect.poll(() => row.locator('td').nth(2).textContent()).not.toBe('—');
    expect(await row.locator('a').getAttribute('href')).toBe(`/runs/${runId}`);
    expect(await row.locator('td').nth(1).textContent()).toBe('running');
    const html = page.locator(`tr[data-run="${htmlRunId}"] a`);
    expect(await html.textContent()).toBe(HTML_NAME);
    expect(await page.locator('#runs img, #runs b').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    await page.screenshot({ path: join(SCREENSHOTS, 'page-runs.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("draws the run's charts from its live steps and keeps drawing as steps arrive", async () => {
    const { page, errors } = await openPage(browser, `${s.url}/runs/${runId}`);
    const points = (id: string) => page.locator(`svg[data-chart="${id}"]`).getAttribute('data-points').then(Number);
    await page.waitForSelector('svg[data-chart="samples_per_second"] path.series');
    for (const id of ['samples_per_second', 'step_time', 'data_wait', 'loss', 'batch_size', 'num_workers', 'learning_rate', 'process_cpu', 'process_memory', 'gpu_utilization', 'gpu_memory']) {
      await expect.poll(() => points(id), { message: id }).toBeGreaterThan(0);
    }
    // Two step-time lines (p50 and p90); the run's summary in words and formatted numbers.
    expect(await page.locator('svg[data-chart="step_time"] path.series').count()).toBe(2);
    expect(await page.locator('[data-card="data_wait"] .value').textContent()).toMatch(/^\d+(\.\d)? %$/);
    expect(await page.locator('[data-card="samples_per_second"] .value').textContent()).toMatch(/^[\d,.]+ samples\/s$/);
    expect(await page.locator('#run-name').textContent()).toBe('resnet-live');
    // docs/gpu.md: a run with a GPU attributed has its energy per sample (a CPU job has no such card).
    expect(await page.locator('[data-card="joules_per_sample"] .label').textContent()).toBe('energy per sample (GPU 0)');
    expect(await page.locator('[data-card="joules_per_sample"] .value').textContent()).toMatch(/^([\d,.]+ J|—)$/);

    const before = await points('samples_per_second');
    const last = (await api('GET', `/v1/runs/${runId}`)).summary.last_step_ts as number;
    await api('POST', `/v1/runs/${runId}/steps`, { steps: liveSteps(120, 60, { samples: 64, wait: 0.01, after: last }) });
    sample();
    await expect.poll(() => points('samples_per_second'), { timeout: 5000 }).toBeGreaterThan(before);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a new decision within 2 s, its reason escaped, the bottleneck and its evidence in words', async () => {
    const { page, errors } = await openPage(browser, `${s.url}/runs/${runId}`);
    await page.waitForSelector('svg[data-chart="samples_per_second"] path.series');
    s.runs.setStatus(runId, { bottleneck: 'input_bound', evidence: { data_wait_ratio: 0.5312, process_cpu_cores: 0.303030303030303 }, advice: [{ code: 'faster_storage', title: 'Faster storage or caching', why: 'reads wait on the <disk>' }] });
    const d = s.runs.applyDecision(runId, decision({
      reason: 'input-bound: <img src=x onerror="window.__xss=2"> 53 % of each step waited for data; 2 workers added',
      evidence: { data_wait_ratio: 0.5312, before_samples_per_second: 339.4, note: '<script>window.__xss=3</script>' },
    }));
    const item = page.locator(`li[data-decision="${d.id}"]`);
    await item.waitFor({ timeout: 2000 });
    expect(await item.locator('.reason').textContent()).toContain('<img src=x onerror="window.__xss=2">');
    expect(await item.locator('.what').textContent()).toBe('data-loader workers 0 → 2');
    expect(await page.locator('#decisions img, #decisions script').count()).toBe(0);
    // Marked on the charts, the knob's step line moved with it.
    await expect.poll(() => page.locator('svg[data-chart="num_workers"] .marker text').allTextContents()).toContain(`#${d.id}`);
    await expect.poll(() => page.locator('#bottleneck').textContent()).toMatch(/input-bound/);
    const evidence = await page.locator('#evidence').textContent();
    expect(evidence).toMatch(/53 %/);
    expect(evidence).not.toMatch(/0\.30303/);
    expect(await page.locator('#advice li').textContent()).toContain('reads wait on the <disk>');
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    s.runs.setOutcome(runId, d.id, { status: 'kept', gainRatio: 0.81, after: figures({ samplesPerSecond: 613.2 }) });
    await expect.poll(() => item.locator('.outcome').textContent()).toBe('kept: +81 % samples/s, 339 → 613');
    // Steps under the decision's config: the summary sets the start config's own samples/s (before the
    // change) against the new config's, as the report computes them from the same steps.
    expect(await page.locator('[data-card="since_start"]').count()).toBe(0);
    const last = (await api('GET', `/v1/runs/${runId}`)).summary.last_step_ts as number;
    const newer = liveSteps(180, 40, { samples: 64, duration: 0.05, wait: 0.001, after: last }).map((x) => ({ ...x, config_version: d.configVersion! }));
    await api('POST', `/v1/runs/${runId}/steps`, { steps: newer });
    const since = (await api('GET', `/v1/runs/${runId}`)).summary.since_start;
    const all = (await api('GET', `/v1/runs/${runId}/steps?limit=1000`)).steps;
    const report = quarterThroughput(all);
    expect(report.basis).toBe('configs');
    expect(since.start_samples_per_second).toBeCloseTo(report.start!.samples_per_second!, 6);
    expect(since.samples_per_second).toBeCloseTo(report.end!.samples_per_second!, 6);
    expect(since.ratio).toBeGreaterThan(2);
    await expect.poll(() => page.locator('[data-card="since_start"] .value').textContent())
      .toMatch(new RegExp(`^×${since.ratio.toFixed(2).replace('.', '\\.')} \\([\\d,.]+ → [\\d,.]+ samples/s\\)$`));
    await page.screenshot({ path: join(SCREENSHOTS, 'page-run.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!hasChromium && process.env.CI !== 'true')('the live page behind a token', () => {
  const TOKEN = 'page-test-token-0123456789abcdef';
  let t: ListeningSidecar;
  let b: Browser;
  beforeAll(async () => {
    t = await listeningSidecar({ token: TOKEN });
    b = await launchBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await t?.close();
  });

  it("serves the page's files without the token, the API only with it, and the token never in a URL", async () => {
    for (const p of ['/', '/page/run.js', '/page/lib/tuner/format.js', '/runs/abc']) expect((await fetch(t.url + p)).status, p).toBe(200);
    expect((await fetch(`${t.url}/v1/runs`)).status).toBe(401);
    const reg = await fetch(`${t.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'secret-run' }) });
    const id = ((await reg.json()) as { id: string }).id;

    const { page, requests } = await openPage(b, `${t.url}/`);
    await page.waitForSelector('#token-form:not([hidden])');
    await page.fill('#token-form input', TOKEN);
    await page.click('#token-form button');
    await page.waitForSelector(`tr[data-run="${id}"]`);
    await page.click(`tr[data-run="${id}"] a`);
    await page.waitForSelector('#run-name:text("secret-run")');
    expect(requests.filter((u) => u.includes(TOKEN))).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!hasChromium && process.env.CI !== 'true')('`trainpilot serve` (the built CLI) serves the page', () => {
  it('says where the page is, serves it from the bundle, and it loads with no console errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trainpilot-page-serve-'));
    const sidecar = await spawnSidecar(['--db', join(dir, 'store.db'), '--gpu', 'off']);
    const b = await launchBrowser();
    try {
      expect(sidecar.stderr()).toContain(`serving on ${sidecar.url}, live page at ${sidecar.url}/ (store `);
      const res = await fetch(`${sidecar.url}/`);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
      const lib = await fetch(`${sidecar.url}/page/lib/tuner/format.js`);
      expect(lib.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await lib.text()).toContain('export function fmtPercent');
      const reg = await fetch(`${sidecar.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'served' }) });
      const id = ((await reg.json()) as { id: string }).id;
      const { page, errors } = await openPage(b, `${sidecar.url}/`);
      await page.click(`tr[data-run="${id}"] a`);
      await page.waitForSelector('#run-name:text("served")');
      await page.waitForSelector('svg[data-chart="samples_per_second"]');
      expect(errors).toEqual([]);
    } finally {
      await b.close();
      await sidecar.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
