// The sidecar put together one part at a time, as server/sidecar.ts does, with its resident memory
// and V8 heap read after each part (after two full GCs, so a part's figure is what it keeps, not
// its garbage). Run by bench/footprint.ts, bundled the way scripts/bundle.mjs bundles the CLI (so
// module source costs what it costs in the real sidecar) and started with the launcher's run-time
// V8 settings (applied first, as bin/trainpilot.js does) and --expose-gc. Each part's modules are loaded by a dynamic import at its stage,
// so their loading counts there. Prints one JSON line per stage on stdout.
// argv: the stand-in nvidia-smi, a scratch directory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const [nvidiaSmi, dir] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const kib = (status: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;

function measure(stage: string): void {
  gc();
  gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = process.memoryUsage();
  console.log(JSON.stringify({
    stage, rss: kib(status, 'VmRSS'), anon: kib(status, 'RssAnon'), file: kib(status, 'RssFile'), hwm: kib(status, 'VmHWM'),
    heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external,
  }));
}

async function main(): Promise<void> {
  (await import('../cli/v8-settings.js')).applyRunTimeV8Settings();
  measure('V8 and Node baseline (launcher settings)');

  const { openStore } = await import('../store/store.js');
  const { createRunHub } = await import('../server/runs/hub.js');
  const runs = createRunHub(openStore({ path: join(dir, 'footprint.db') }));
  measure('SQLite store (better-sqlite3, schema) and run hub');

  const { VERSION } = await import('../server/version.js');
  const { createMetrics } = await import('../server/metrics/registry.js');
  const { metricsSource } = await import('../server/metrics/store-source.js');
  let sampler: import('../collectors/sampler.js').Sampler | null = null;
  const metrics = createMetrics(metricsSource(runs, () => sampler?.inventory().gpu ?? undefined), { version: VERSION });
  runs.on((e) => {
    if (e.type === 'steps') metrics.observeSteps({ label: e.label }, e.steps);
  });
  measure('prom-client registry and metric families');

  const { buildApp } = await import('../server/app.js');
  const app = await buildApp({ runs, version: VERSION, metrics, logger: false, host: () => ({ snapshot: sampler?.latest() ?? null, health: sampler?.health() ?? [], inventory: sampler?.inventory() ?? { gpu: null } as never }) });
  await app.ready();
  measure('Fastify, its plugins and every route (schemas not compiled)');

  const { createSampler } = await import('../collectors/sampler.js');
  sampler = createSampler({
    intervalS: 1, gpu: 'on', nvidiaSmiPath: nvidiaSmi,
    watchedRuns: () => runs.watchedPids(), onSnapshot: (s) => runs.recordSnapshot(s), onProcessExit: (runId, pid) => runs.processExited(runId, pid),
  });
  await sampler.start();
  await sleep(3000);
  measure('collectors at 1 s (host, process, 8 GPUs), 3 s');

  const { createTunerLoop } = await import('../tuner/loop.js');
  const { createTunerPorts } = await import('../server/runs/tuner-ports.js');
  const tuner = createTunerLoop({ intervalS: 1, ports: createTunerPorts(runs), onError: () => {} });
  tuner.start();
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await sleep(1000);
  measure('tuner loop and the listener');

  await sleep(20_000);
  measure('idle sidecar after 20 s more');

  const post = (path: string, body: unknown) => app.inject({ method: 'POST', url: path, payload: body as object });
  const ids: string[] = [];
  for (let r = 0; r < 20; r++) {
    const res = await post('/v1/runs', { name: `fp-${r}`, config: { batch_size: 32, learning_rate: 0.01, num_workers: 2 }, tune: { mode: 'advise' } });
    ids.push(res.json().id);
  }
  for (let b = 0; b < 30; b++) {
    for (const id of ids) {
      const steps = Array.from({ length: 20 }, (_, i) => ({ step: b * 20 + i, duration_s: 0.1, data_wait_s: 0.04, samples: 32, loss: 2 - b / 100, ts: Date.now() / 1000 }));
      await post(`/v1/runs/${id}/steps`, { steps });
    }
  }
  await sleep(3000);
  measure('20 runs × 600 steps: run state, ingest, tuner caches (3 ticks)');

  await app.inject({ url: '/metrics' });
  await app.inject({ url: '/metrics', headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
  measure('/metrics rendered (8 GPUs, 20 runs; text and OpenMetrics)');

  for (const path of ['/', '/runs/x', '/page/index.js', '/page/run.js', '/page/api.js', '/page/words.js', '/page/page.css', '/page/lib/tuner/format.js', '/page/lib/server/page/chart.js']) await app.inject({ url: path });
  await app.inject({ url: `/v1/runs/${ids[0]}` });
  await app.inject({ url: `/v1/runs/${ids[0]}/series?metric=samples_per_second` });
  measure('the live page served (its files and the reads it makes)');

  await app.inject({ url: '/docs/json' });
  await app.inject({ url: '/docs' });
  measure('OpenAPI description and Swagger UI, first request');

  await app.inject({ method: 'POST', url: `/v1/runs/${ids[1]}/ranks`, payload: { world_size: 4, ranks: [0, 1, 2, 3].map((rank) => ({ rank, steps: 100, duration_s: 10, data_wait_s: rank === 3 ? 5 : 1, samples: 3200 })) } });
  await app.inject({ url: `/v1/runs/${ids[1]}` });
  measure('ranks: one data-parallel run, 4 ranks');

  console.error(`served on ${url}`);
  tuner.stop();
  await app.close();
  await sampler.stop();
  runs.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
