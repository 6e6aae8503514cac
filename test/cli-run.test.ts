// `trainpilot run` with real jobs (Node scripts) and a real sidecar: environment, registration,
// exit codes, signals, events, summary — and the job running on when there is no sidecar.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, spawnSidecar } from '../bench/lib/sidecar-process.js';
import { openStore } from '../store/store.js';
import { cli, listeningSidecar, startCli, writeJob, type ListeningSidecar } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trainpilot-cli-run-'));
let sidecar: ListeningSidecar;
let job: string;
/** A loopback port nobody listens on: connection refused. */
let closedPort: number;

beforeAll(async () => {
  sidecar = await listeningSidecar();
  job = writeJob(dir);
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  closedPort = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
});
afterAll(async () => {
  await sidecar.close();
  rmSync(dir, { recursive: true, force: true });
});

const jobLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const runOf = (id: string) => sidecar.runs.getRun(id);

describe('trainpilot run --url (a sidecar already running)', () => {
  it('passes URL and run id to the job, exits 0, records finished, prints the summary', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--tune', 'advise', '--', process.execPath, job, 'exit', '0']);
    expect(r.code).toBe(0);
    const [started, reported] = jobLines(r.stdout);
    expect(started.url).toBe(sidecar.url);
    expect(reported.status).toBe(202);
    const run = runOf(started.id);
    expect(run.name).toBe('job.mjs'); // the script, not "node"
    expect(run.tune.mode).toBe('advise');
    expect(run.state).toBe('finished');
    expect(sidecar.runs.events(started.id, 100).map((e) => e.kind)).toContain('finished');
    // 32 samples per 0.1 s in the first quarter, 64 in the last.
    expect(r.stderr).toMatch(/samples\/s: 320 at start .* → 640 at end .*×2\.00/);
    expect(r.stderr).toMatch(/ended after [\d.]+ m?s, exit 0/);
    expect(r.stderr).toMatch(/config: bs=32 lr=0\.001 w=0/);
    expect(r.stderr).toContain(`(run ${started.id}, pid ${started.pid}) watched by ${sidecar.url}, tuning advise`);
    expect(r.stderr).toContain(`report: trainpilot report ${started.id} --url ${sidecar.url}`);
  });

  it('--host-memory-budget 6GiB sets the run\'s budget (tune.host_memory_budget_bytes) and the job\'s environment', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--host-memory-budget', '1.5GiB', '--', process.execPath, job, 'exit', '0']);
    expect(r.code, r.stderr).toBe(0);
    const [started] = jobLines(r.stdout);
    expect(runOf(started.id).tune.host_memory_budget_bytes).toBe(1.5 * 2 ** 30);
    const plain = await cli(['run', '--url', sidecar.url, '--', process.execPath, job, 'exit', '0']);
    expect(runOf(jobLines(plain.stdout)[0].id).tune.host_memory_budget_bytes).toBeUndefined();
  });

  it('exits with the job\'s exit code and records failed with it', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--name', 'three', '--', process.execPath, job, 'exit', '3']);
    expect(r.code).toBe(3);
    const id = jobLines(r.stdout)[0].id;
    expect(runOf(id).name).toBe('three');
    expect(runOf(id).state).toBe('failed');
    const failed = sidecar.runs.events(id, 100).find((e) => e.kind === 'failed');
    expect(failed?.data.exit_code).toBe(3);
    expect(r.stderr).toMatch(/exit 3/);
  });

  it('exits 128+N when a signal kills the job, and records the signal', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--', process.execPath, job, 'signal', 'SIGKILL']);
    expect(r.code).toBe(137);
    const id = jobLines(r.stdout)[0].id;
    const failed = sidecar.runs.events(id, 100).find((e) => e.kind === 'failed');
    expect(failed?.data).toMatchObject({ exit_code: 137, signal: 'SIGKILL' });
    expect(r.stderr).toMatch(/killed by SIGKILL/);
  });

  it('registers the job\'s pid, so its process tree is watched', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--', process.execPath, job, 'exit', '0']);
    const started = jobLines(r.stdout)[0];
    expect(runOf(started.id).pid).toBe(started.pid);
    expect(r.stderr).not.toMatch(/not watched/);
  });

  it('forwards SIGTERM to the job and returns what the job made of it', async () => {
    const p = startCli(['run', '--url', sidecar.url, '--', process.execPath, job, 'wait']);
    await p.waitFor(/"waiting"/);
    p.proc.kill('SIGTERM');
    const r = await p.done;
    expect(r.stdout).toMatch(/got SIGTERM/);
    expect(r.code).toBe(7);
    expect(r.signal).toBeNull();
  });

  it('passes a SIGINT on off a terminal (nobody else sends it to the job)', async () => {
    const p = startCli(['run', '--url', sidecar.url, '--', process.execPath, job, 'wait']);
    await p.waitFor(/"waiting"/);
    p.proc.kill('SIGINT');
    const r = await p.done;
    expect(r.stdout).toMatch(/"got SIGINT","n":1/);
    expect(r.code).toBe(8);
  });

  it('runs the job and returns its exit code when the sidecar is unreachable, with one warning', async () => {
    const r = await cli(['run', '--url', `http://127.0.0.1:${closedPort}`, '--', process.execPath, job, 'exit', '5']);
    expect(r.code).toBe(5);
    const started = jobLines(r.stdout)[0];
    expect(started.id).toBeNull(); // not registered: the job's own client would fail open
    expect(r.stderr.match(/could not register the run \(cannot reach the sidecar .*ECONNREFUSED/g)).toHaveLength(1);
    expect(r.stderr.match(/^trainpilot run:/gm)).toHaveLength(1);
    expect(r.stderr).toMatch(/exit 5 \(no sidecar/);
  });

  it('finishes the job with its exit code when the sidecar dies mid-run, with one warning', async () => {
    const serve = await spawnSidecar(['--db', join(dir, 'dies.db'), '--gpu', 'off']);
    const p = startCli(['run', '--url', serve.url, '--', process.execPath, job, 'sleep', '2500']);
    await p.waitFor(/"reported"/);
    await serve.stop('SIGKILL');
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.stderr.match(/lost the sidecar/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/no summary from the sidecar/);
    expect(r.stderr).toMatch(/ended after [\d.]+ m?s, exit 0 \(no sidecar/);
  });

  it('does not leak an outer TRAINPILOT_RUN_ID into an unwatched job', async () => {
    const r = await cli(['run', '--url', 'http://127.0.0.1:1', '--', process.execPath, job], { TRAINPILOT_RUN_ID: 'outer' });
    expect(jobLines(r.stdout)[0].id).toBeNull();
  });
});

describe('trainpilot run with its own sidecar', () => {
  it('starts one, watches a job that never reports steps, and leaves the run in the store', async () => {
    // A plain job: burns CPU for a moment and forks a child, never talks to trainpilot.
    const plain = join(dir, 'plain.mjs');
    writeFileSync(plain, `
import { spawn } from 'node:child_process';
console.log(JSON.stringify({ job: 'started', url: process.env.TRAINPILOT_URL, id: process.env.TRAINPILOT_RUN_ID, pid: process.pid }));
const c = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 1200) {}']);
const t = Date.now(); while (Date.now() - t < 300) {}
c.on('exit', () => process.exit(0));
`);
    const db = join(dir, 'own.db');
    const r = await cli(['run', '--db', db, '--gpu', 'off', '--interval', '200ms', '--', process.execPath, plain]);
    expect(r.code).toBe(0);
    const started = jobLines(r.stdout)[0];
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.stderr).toMatch(/watch-only/);
    expect(r.stderr).toContain(`stored in ${db}: trainpilot serve --db ${db}, then trainpilot report ${started.id}`);
    // The pid reached the sidecar: it sampled the job's process tree (the job and its child).
    expect(r.stderr).toMatch(/peak RSS of the process tree: [\d.]+ MB/);
    const store = openStore({ path: db });
    try {
      const run = store.getRun(started.id);
      expect(run.name).toBe('plain.mjs');
      expect(run.state).not.toBe('running');
      expect(store.events(started.id, 100).map((e) => e.kind)).toContain('finished');
    } finally {
      store.close();
    }
  });

  it('returns 127 when the command does not exist, 126 when it cannot be executed', async () => {
    const r = await cli(['run', '--url', sidecar.url, '--', join(dir, 'no-such-command')]);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/cannot start .*ENOENT/);
    const notExecutable = join(dir, 'not-executable');
    writeFileSync(notExecutable, 'echo hi\n', { mode: 0o644 });
    const r2 = await cli(['run', '--url', sidecar.url, '--', notExecutable]);
    expect(r2.code).toBe(126);
    expect(r2.stderr).toMatch(/cannot start .*EACCES/);
  });
});

describe('trainpilot run on a terminal', () => {
  // A real pseudo-terminal from Python's pty module (no shell), of the given size (0 0: unknown);
  // once the output shows the marker it types Ctrl-C, which the terminal sends to the foreground group.
  const PTY = [
    'import os, pty, sys, fcntl, termios, struct',
    'rows, cols = int(sys.argv[1]), int(sys.argv[2])',
    'pid, fd = pty.fork()',
    'if pid == 0:',
    '    if rows: fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))',
    '    os.execv(sys.argv[4], sys.argv[4:])',
    'marker, seen, sent = (sys.argv[3].encode() if sys.argv[3] else None), b"", False',
    'while True:',
    '    try: data = os.read(fd, 65536)',
    '    except OSError: break',
    '    if not data: break',
    '    os.write(1, data)',
    '    seen += data',
    '    if marker and not sent and marker in seen: os.write(fd, b"\\x03"); sent = True',
    'sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))',
  ].join('\n');

  async function onTerminal(rows: number, cols: number, jobArgs = ['sleep', '2500'], ctrlCAfter = '', cmd = [process.execPath, job]): Promise<{ code: unknown; out: string }> {
    const args = ['-c', PTY, String(rows), String(cols), ctrlCAfter, process.execPath, CLI, 'run', '--url', sidecar.url, '--', ...cmd, ...jobArgs];
    const p = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise((r) => p.once('close', r));
    return { code, out };
  }

  async function quietly(rows: number, cols: number): Promise<string> {
    const { code, out } = await onTerminal(rows, cols);
    expect(code).toBe(0);
    expect(out).toMatch(/trainpilot: job\.mjs \(\w+\) ended after [\d.]+ m?s, exit 0/);
    return out;
  }

  it.skipIf(!existsSync('/usr/bin/python3') && process.env.CI !== 'true')('height unknown: one status line redrawn in place', async () => {
    const out = await quietly(0, 0);
    const draws = out.split('\r\x1b[2K').slice(1).map((d) => d.split('\r')[0]);
    const live = draws.filter((d) => /^job\.mjs running \| /.test(d));
    expect(live.some((d) => /40 steps \| 480 samples\/s/.test(d)), JSON.stringify(draws)).toBe(true);
    for (const d of live) expect(d.split('{"job"')[0].length).toBeLessThanOrEqual(80); // the job's own output may follow
  });

  it.skipIf(!existsSync('/usr/bin/python3') && process.env.CI !== 'true')('height known: the status line keeps to the bottom row, the job\'s output scrolls above', async () => {
    const out = await quietly(24, 100);
    expect(out).toContain('\x1b[1;23r'); // the job scrolls in rows 1–23
    const draws = out.split('\x1b7\x1b[24;1H\x1b[2K').slice(1).map((d) => d.split('\x1b8')[0]);
    expect(draws.some((d) => /^job\.mjs running \| .*40 steps \| 480 samples\/s/.test(d)), JSON.stringify(draws)).toBe(true);
    for (const d of draws) expect(d.length).toBeLessThanOrEqual(99);
    // The job's lines are its own: with every status draw taken out (each saves the cursor, draws
    // on row 24 and restores it, so it may sit anywhere in the byte stream, even just before the
    // job's next write), no status text is left on them. The region is reset before the summary.
    const jobOnly = out.replace(/\x1b7\x1b\[24;1H\x1b\[2K[^\x1b]*\x1b8/g, '');
    expect(jobOnly.split('\n').find((l) => l.includes('"reported"'))).toMatch(/^(\x1b\[[\d;]*[A-Za-z]|\x1b[78])*\{"job":"reported"/);
    expect(jobOnly).not.toMatch(/running \|/);
    expect(out.lastIndexOf('\x1b[1;24r')).toBeLessThan(out.indexOf('ended after'));
    expect(out.lastIndexOf('\x1b[1;24r')).toBeGreaterThan(out.lastIndexOf('\x1b[24;1H\x1b[2Kjob.mjs'));
  });

  it.skipIf(!existsSync('/usr/bin/python3') && process.env.CI !== 'true')('Ctrl-C reaches the job once (from the terminal), and run reports how it ended', async () => {
    // A Python job that cleans up for a moment after KeyboardInterrupt: a second SIGINT would interrupt that.
    const py = join(dir, 'interrupted.py');
    writeFileSync(py, [
      'import sys, time',
      'n = 0',
      'try:',
      '    print("waiting", flush=True)  # inside the try: Ctrl-C may come as soon as this is out',
      '    time.sleep(30)',
      'except KeyboardInterrupt:',
      '    n += 1',
      '    try:',
      '        time.sleep(0.5)',
      '    except KeyboardInterrupt:',
      '        n += 1',
      'print("interrupts: %d" % n, flush=True)',
      'sys.exit(8)',
    ].join('\n'));
    const { code, out } = await onTerminal(24, 100, [], 'waiting', ['/usr/bin/python3', py]);
    expect(code).toBe(8);
    expect(out).toMatch(/interrupts: 1\b/);
    expect(out).toMatch(/ended after [\d.]+ m?s, exit 8/);
    expect(out).toContain('\x1b[1;24r'); // the terminal given back
  });
});

describe('trainpilot run usage', () => {
  it('needs a command after --', async () => {
    expect((await cli(['run'])).code).toBe(2);
    const r = await cli(['run', 'python3', 'train.py']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/put the command after --/);
  });

  it('names a bad --tune and a bad --name', async () => {
    const r = await cli(['run', '--tune', 'max', '--name', '-x', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tune: "max"/);
    expect(r.stderr).toMatch(/--name: "-x"/);
  });

  it('names a knob --knobs does not know', async () => {
    const r = await cli(['run', '--knobs', 'batch_size,momentum', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--knobs: "momentum" is not one of batch_size, learning_rate, num_workers, prefetch_factor, persistent_workers, pin_memory/);
  });

  it.each([
    ['6G', /"6G" is ambiguous: write 6GB \(10\^9 bytes\) or 6GiB \(2\^30\)/],
    ['six', /"six" is not a size \(e\.g\. 6GiB, 512MiB, 8GB, or bytes\)/],
    ['6 GiBs', /unknown unit "GiBs"/],
    ['512KiB', /under 1 MiB/],
  ])('names a bad --host-memory-budget %s', async (size, why) => {
    const r = await cli(['run', '--host-memory-budget', size, '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--host-memory-budget: .*${why.source}`));
  });
});
