// bench/store-reads: what the tuner's per-tick reads cost, with the store's read caches (run
// records; events, decisions, OOM sizes, decision counts per run, dropped at the run's next
// write) and without them (each read from SQLite, as if nothing were kept). It decides whether a
// cache pays (DESIGN §7: the sidecar's whole budget is 0.5 % of a core, 5 ms per second).
// A run as a long job leaves it: 200 events, 100 decisions, a few OOMs; 20 active runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunHub } from '../server/runs/hub.js';
import { createTunerPorts } from '../server/runs/tuner-ports.js';
import { openStore } from '../store/store.js';
import type { RunConfig } from '../domain/config.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const TICKS = Number(process.env.BENCH_TICKS ?? 300);

const config: RunConfig = { batch_size: 64, learning_rate: 0.001, num_workers: 2, grad_accum_steps: 1 };
const tune = { mode: 'auto' as const, knobs: ['batch_size' as const], optimizer: 'adam' as const, lr_scaling: 'auto' as const, keep_global_batch: false, bounds: {} };

function measure(cacheReads: boolean): void {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-bench-reads-'));
  const store = openStore({ path: join(dir, 'bench.db'), cacheReads });
  const hub = createRunHub(store);
  const ports = createTunerPorts(hub);
  try {
    const ids: string[] = [];
    for (let r = 0; r < RUNS; r++) {
      const run = hub.registerRun({ name: `r${r}`, pid: null, config, tune });
      ids.push(run.id);
      for (let e = 0; e < 200; e++) hub.addEvent(run.id, { kind: e % 50 === 0 ? 'oom' : 'epoch_end', step: e, ts: 1e9 + e, data: { batch_size: 128 + e } });
      for (let d = 0; d < 100; d++) {
        store.addDecision(run.id, {
          knob: 'batch_size', action: 'increase', reason: 'bench', evidence: { gain: 0.1, samples_per_second: 1234.5 },
          configBefore: config, configAfter: config, advice: [], recommendOnly: true,
        }, { apply: false, step: d });
      }
    }
    const tick = () => {
      for (const id of ports.activeRunIds()) {
        ports.readWindow(id);
        store.decisionCounts(id); // /metrics and the run view
      }
    };
    for (let i = 0; i < 30; i++) tick();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < TICKS; i++) tick();
    const perTickMs = Number(process.hrtime.bigint() - t0) / 1e6 / TICKS;
    const label = cacheReads ? 'with the read caches' : 'without (each read from SQLite)';
    console.log(`${label.padEnd(32)} ${perTickMs.toFixed(3)} ms per tick = ${(perTickMs / 10).toFixed(3)} % of a core at 1 s ticks`);
  } finally {
    hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`store-reads: the tuner's reads for ${RUNS} active runs, each with 200 events and 100 decisions; ${TICKS} ticks`);
measure(true);
measure(false);
