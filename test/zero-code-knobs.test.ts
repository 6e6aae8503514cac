// `trainpilot run --knobs batch_size,learning_rate,num_workers` on an unmodified script (issue 22,
// DESIGN §10): the hook changes the training loader's batch at epoch starts and scales the
// learning rate by the optimizer's rule; a OneCycleLR script keeps its batch and says why, with
// the line. Real PyTorch (/usr/bin/python3) and a real sidecar; needs `npm run build`.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, type CliResult } from './cli-helpers.js';
import { torchSidecar } from './helpers/torch-sidecar.js';

const PYTHON = '/usr/bin/python3';
const NOISY = 'test/fixtures/zero-code/noisy.py';
const KNOBS = ['--knobs', 'batch_size,learning_rate,num_workers'];
const s = torchSidecar('knobs');
const dir = s.dir;

interface Epoch { batch: number; lr: number; rate: number }
const epochs = (r: CliResult): Epoch[] => [...r.stdout.matchAll(/^epoch \d+: batch (\d+), lr ([\d.e-]+), ([\d.]+) samples\/s$/gm)]
  .map((m) => ({ batch: Number(m[1]), lr: Number(m[2]), rate: Number(m[3]) }));
const runId = (r: CliResult) => /\(run (\S+), pid \d+\)/.exec(r.stderr)?.[1] ?? '';
const applied = async (id: string) => ((await (await fetch(`${s.url}/v1/runs/${id}/events?limit=1000`)).json()) as { events: Array<{ kind: string; data: Record<string, number> }> })
  .events.filter((e) => e.kind === 'config_applied').map((e) => e.data);
const job = (flags: string[], args: string[]) =>
  cli(['run', '--url', s.url, ...flags, '--', PYTHON, NOISY, '--losses', join(dir, 'losses.json'), ...args]);
/** lr is base × 0.5^k (the fixture's StepLR halves it every 1000 steps). */
const halvings = (lr: number, base: number) => [0, 1, 2, 3, 4, 5].some((k) => Math.abs(lr - base / 2 ** k) < 1e-6 * base);
const last = (xs: Epoch[], n = 3) => xs.slice(-n).reduce((a, e) => a + e.rate, 0) / n;

describe('--knobs batch_size,learning_rate on an unmodified script', () => {
  it('ends at a higher samples/s than the default knobs, its learning rate scaled linearly for SGD', async () => {
    const args = ['--epochs', '30', '--device-ms', '8'];
    const plain = await job([], args);
    const tuned = await job(KNOBS, args);
    expect(plain.code, plain.stderr).toBe(0);
    expect(tuned.code, tuned.stderr).toBe(0);
    const [p, t] = [epochs(plain), epochs(tuned)];
    console.log(`knobs e2e: default knobs end at ${last(p).toFixed(0)} samples/s (batch ${p.at(-1)!.batch}), ` +
      `--knobs at ${last(t).toFixed(0)} samples/s (batch ${t.at(-1)!.batch}, lr ${t.at(-1)!.lr})`);
    // Default knobs: the script's batch, and its lr as its StepLR sets it (halved every 1000 steps).
    expect(p.every((e) => e.batch === 16 && halvings(e.lr, 0.02)), 'default knobs: the script\'s batch and lr').toBe(true);
    expect(t.at(-1)!.batch).toBeGreaterThan(16);
    expect(last(t)).toBeGreaterThan(last(p));
    // SGD: linear. Each applied version's lr is the start's × its batch ratio, and the script's
    // own lr followed (StepLR halves it every 1000 steps, from the scaled base value).
    const versions = await applied(runId(tuned));
    for (const v of versions) expect(v.learning_rate).toBeCloseTo(0.02 * v.batch_size / 16, 9);
    const end = t.at(-1)!;
    expect(halvings(end.lr, 0.02 * end.batch / 16), `lr ${end.lr} at batch ${end.batch}`).toBe(true);
    expect(tuned.stderr).toMatch(/zero-code hook: tuned: num_workers, batch_size, learning_rate; the learning rate follows the batch/);
  }, 150_000);

  it('a OneCycleLR script keeps its batch and says why, once, with the line', async () => {
    const r = await job(KNOBS, ['--epochs', '20', '--device-ms', '8', '--one-cycle']);
    expect(r.code, r.stderr).toBe(0);
    expect(epochs(r).every((e) => e.batch === 16)).toBe(true);
    const why = r.stderr.match(/batch size and learning rate left as the script set them: the OneCycleLR built at test\/fixtures\/zero-code\/noisy\.py:\d+ is keyed to a total number of steps/g);
    expect(why?.length, r.stderr).toBe(1);
    for (const line of r.stdout.trimEnd().split('\n')) expect(line).toMatch(/^(epoch \d+: batch 16, lr [\d.e-]+, [\d.]+ samples\/s|done: .*)$/);
    expect((await applied(runId(r))).every((v) => v.batch_size === 16)).toBe(true);
  }, 120_000);
});
