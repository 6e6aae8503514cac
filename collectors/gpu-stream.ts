// One long-lived child process read line by line, kept alive: restarted with
// exponential back-off when it exits or cannot start, killed and restarted
// when it goes silent (prints nothing usable) for too long.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describeExit, describeSpawnError } from './nvidia-smi.js';

export interface LineStreamOptions {
  path: string;
  args: readonly string[];
  /** Short name for messages, e.g. "nvidia-smi --query-gpu=…". */
  label: string;
  /** Called for every stdout line; returns true when the line was usable output. */
  onLine: (line: string) => boolean;
  /** Called when a child ended or could not start, with the reason. */
  onEnd?: (reason: string) => void;
  /** Kill and restart a child that printed nothing usable for this long. */
  hangAfterMs: number;
  backoff: { initialMs: number; maxMs: number };
}

export interface LineStreamStatus {
  running: boolean;
  /** Why the last child ended or could not start; null once a usable line has come since. */
  lastError: string | null;
  lastGoodAt: number | null;
  restarts: number;
}

export interface LineStream {
  start(): void;
  stop(): Promise<void>;
  status(): LineStreamStatus;
}

export function createLineStream(opts: LineStreamOptions): LineStream {
  let child: ChildProcess | null = null;
  let childStartedAt = 0;
  let killReason: string | null = null;
  let stopped = true;
  let delay = opts.backoff.initialMs;
  let restartTimer: NodeJS.Timeout | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  let lastError: string | null = null;
  let lastGoodAt: number | null = null;
  let restarts = 0;

  function scheduleRestart(): void {
    if (stopped) return;
    restartTimer = setTimeout(() => {
      restartTimer = null;
      restarts += 1;
      launch();
    }, delay);
    restartTimer.unref();
    delay = Math.min(delay * 2, opts.backoff.maxMs);
  }

  function launch(): void {
    if (stopped) return;
    let stderr = '';
    let lastBadLine = '';
    let ended = false;
    const c = spawn(opts.path, opts.args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    child = c;
    childStartedAt = Date.now();
    killReason = null;
    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (child === c) child = null;
      lastError = reason;
      opts.onEnd?.(reason);
      scheduleRestart();
    };
    createInterface({ input: c.stdout! }).on('line', (line) => {
      if (child !== c) return;
      if (!opts.onLine(line)) {
        if (line.trim() !== '') lastBadLine = line;
        return;
      }
      lastGoodAt = Date.now();
      lastError = null;
      delay = opts.backoff.initialMs; // it works again: the next failure starts the back-off afresh
    });
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    c.on('error', (err) => end(describeSpawnError(opts.path, err)));
    c.on('close', (code, signal) => end(killReason ?? describeExit(opts.label, code, signal, stderr, lastBadLine)));
  }

  function checkSilence(): void {
    if (!child || killReason) return;
    const since = Math.max(lastGoodAt ?? 0, childStartedAt);
    if (Date.now() - since < opts.hangAfterMs) return;
    killReason = `${opts.label} printed nothing usable for ${Math.round((Date.now() - since) / 100) / 10} s; killed it`;
    child.kill('SIGKILL');
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      delay = opts.backoff.initialMs;
      watchdog = setInterval(checkSilence, Math.min(1000, Math.max(50, opts.hangAfterMs / 4)));
      watchdog.unref();
      launch();
    },
    async stop() {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (watchdog) clearInterval(watchdog);
      restartTimer = watchdog = null;
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
      c.kill('SIGKILL');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    },
    status: () => ({ running: child !== null, lastError, lastGoodAt, restarts }),
  };
}
