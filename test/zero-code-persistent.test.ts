// Persistent workers on an unmodified script (issue 22): a job that iterates the same DataLoader
// every epoch, with short epochs and workers that are costly to start (a slow worker_init_fn), is
// run bare and then under `trainpilot run` with the default knobs. The hook measures each epoch's
// start (iterator made → first batch), the tuner turns persistent_workers on, the hook applies it
// at an epoch start, and the epochs after are faster than the start config's, both measured here.
// Real PyTorch (/usr/bin/python3) and a real sidecar; needs `npm run build`.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.js';
import { PYTHON, torchSidecar } from './helpers/torch-sidecar.js';

const SCRIPT = 'test/fixtures/zero-code/slow_start.py';
const ARGS = ['--epochs', '40', '--workers', '2', '--init-ms', '400', '--step-ms', '10'];
const s = torchSidecar('persistent');

interface Epoch { seconds: number; workers: number; persistent: boolean }
const epochsOf = (stdout: string): Epoch[] => [...stdout.matchAll(/^epoch \d+: ([\d.]+) s, workers (\d+), persistent (True|False)$/gm)]
  .map((m) => ({ seconds: Number(m[1]), workers: Number(m[2]), persistent: m[3] === 'True' }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function bare(): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, ...ARGS], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout }));
  });
}

describe('persistent workers on a script whose workers start anew every epoch', () => {
  it('are turned on from the measured start cost, and the epochs after are faster than the start config', async () => {
    const start = await bare();
    expect(start.code).toBe(0);
    const r = await cli(['run', '--url', s.url, '--', PYTHON, SCRIPT, ...ARGS]);
    expect(r.code, r.stderr).toBe(0);
    const id = /\(run (\S+), pid \d+\)/.exec(r.stderr)?.[1] ?? '';
    const decisions = ((await (await fetch(`${s.url}/v1/runs/${id}/decisions`)).json()) as { decisions: Array<Record<string, any>> }).decisions;
    const events = ((await (await fetch(`${s.url}/v1/runs/${id}/events?limit=1000`)).json()) as { events: Array<{ kind: string; data: Record<string, any> }> }).events;
    const before = epochsOf(start.stdout);
    const tuned = epochsOf(r.stdout);
    const on = tuned.findIndex((e) => e.persistent);
    const bareS = median(before.slice(5).map((e) => e.seconds));
    const afterS = on < 0 ? NaN : median(tuned.slice(on + 1).map((e) => e.seconds));
    const starts = events.filter((e) => e.kind === 'epoch_end' && e.data.loader_start_s !== undefined);
    const startOff = median(starts.filter((e) => e.data.config_version === 1).map((e) => e.data.loader_start_s));
    const startOn = median(starts.filter((e) => e.data.config_version === 2).map((e) => e.data.loader_start_s));
    const pw = decisions.find((d) => d.knob === 'persistent_workers');
    console.log(`persistent e2e: bare epoch ${bareS.toFixed(3)} s (start config), under trainpilot persistent from epoch ${on}, ` +
      `then ${afterS.toFixed(3)} s: ×${(bareS / afterS).toFixed(2)}; epoch start ${startOff?.toFixed(3)} s → ${startOn?.toFixed(3)} s; ` +
      `loader host memory predicted ${(Number(pw?.evidence.loader_host_bytes_predicted) / 1e6).toFixed(0)} MB (2 workers); ` +
      `decisions: ${decisions.map((d) => `${d.knob} ${d.action} [${d.outcome.status}: ${d.outcome.note}] (${d.reason})`).join('; ')}`);

    expect(before.every((e) => !e.persistent && e.workers === 2)).toBe(true);
    expect(pw, JSON.stringify(decisions)).toBeDefined();
    expect(pw!.config_after.persistent_workers).toBe(true);
    expect(pw!.reason).toMatch(/persistent workers on: each epoch's 2 workers took [\d.]+ s to start/);
    expect(pw!.evidence.epoch_start_ratio).toBeGreaterThan(0.3);
    // Kept, or (seen once in three runs here) superseded when the judge saw the job's own pace shift
    // under it: either way the change stays; it is never rolled back.
    expect(['kept', 'superseded']).toContain(pw!.outcome.status);
    expect(decisions.filter((d) => d.action === 'rollback')).toEqual([]);
    // Applied at an epoch start and kept to the end: from then on, every epoch has it.
    expect(on).toBeGreaterThan(0);
    expect(tuned.slice(on).every((e) => e.persistent)).toBe(true);
    expect(tuned.length).toBe(40);
    // The start cost the hook measured fell, and the epochs are faster than the start config's.
    expect(startOn).toBeLessThan(startOff / 3);
    expect(afterS).toBeLessThan(bareS / 2);
  }, 180_000);
});
