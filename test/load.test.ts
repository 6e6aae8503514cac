// The short version of bench/load: 64 runs × 100 reports/s for 8 s against the real sidecar.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runLoad } from '../bench/lib/load.js';
import { spawnSidecar } from '../bench/lib/sidecar-process.js';

it('stores every acknowledged report under 64 concurrent runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-load-'));
  const sidecar = await spawnSidecar(['--db', join(dir, 'load.db'), '--gpu', 'off']);
  try {
    const r = await runLoad(sidecar.url, sidecar.proc.pid!, { runs: 64, rate: 100, seconds: 8 });
    console.log(`load: sent ${r.sent}, acknowledged ${r.acknowledged}, stored ${r.stored}, errors ${r.errors}, p99 ${r.latencyMs.p99.toFixed(1)} ms (send lag p99 ${r.sendLagMs.p99.toFixed(1)} ms), RSS ${r.rssMb.map((x) => x.toFixed(0)).join(' ')} MB`);
    expect(r.errors).toBe(0);
    expect(r.acknowledged).toBe(r.sent);
    expect(r.stored).toBe(r.acknowledged);
    expect(r.sent).toBeGreaterThan(64 * 100 * 4); // the load really ran (at least half the nominal rate)
  } finally {
    expect(await sidecar.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
