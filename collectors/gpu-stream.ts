// One long-lived child process read line by line, kept alive: restarted with
// exponential back-off when it exits or cannot start, killed and restarted
// when it goes silent (prints nothing usable) for too long.
import { spawn, type ChildProcess } from 'node:child_process';
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

/** How early the watchdog may fall and still count the silence as too long (timers fall late, not early). */
const CHECK_SLACK_MS = 5;

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
    armWatchdog(opts.hangAfterMs);
    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (child === c) child = null;
      lastError = reason;
      opts.onEnd?.(reason);
      scheduleRestart();
    };
    const onLine = (line: string): void => {
      if (child !== c) return;
      if (!opts.onLine(line)) {
        if (line.trim() !== '') lastBadLine = line;
        return;
      }
      lastGoodAt = Date.now();
      lastError = null;
      delay = opts.backoff.initialMs; // it works again: the next failure starts the back-off afresh
    };
    // Lines split here rather than by node:readline, whose interface costs more per chunk than
    // the parsing it feeds (a chunk a second with 8 GPUs; docs/footprint.md, "Where the CPU goes").
    let partial = '';
    c.stdout!.setEncoding('utf8');
    c.stdout!.on('data', (chunk: string) => {
      let from = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
        let line = partial === '' ? chunk.slice(from, nl) : partial + chunk.slice(from, nl);
        partial = '';
        from = nl + 1;
        if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1); // \r\n
        onLine(line);
      }
      if (from < chunk.length) partial += chunk.slice(from);
    });
    c.stdout!.on('end', () => {
      if (partial !== '') onLine(partial);
      partial = '';
    });
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    c.on('error', (err) => end(describeSpawnError(opts.path, err)));
    c.on('close', (code, signal) => end(killReason ?? describeExit(opts.label, code, signal, stderr, lastBadLine)));
  }

  // The watchdog is one timer set for when the silence would be too long, and set again from
  // there while lines keep coming: one wake-up per hangAfterMs, where an interval checked every
  // second (docs/footprint.md, "Where the CPU goes"). Within CHECK_SLACK_MS of the limit counts.
  function checkSilence(): void {
    watchdog = null;
    if (stopped || !child || killReason) return; // launch() sets it again for the next child
    const since = Math.max(lastGoodAt ?? 0, childStartedAt);
    const left = since + opts.hangAfterMs - Date.now();
    if (left > CHECK_SLACK_MS) return armWatchdog(left);
    killReason = `${opts.label} printed nothing usable for ${Math.round((Date.now() - since) / 100) / 10} s; killed it`;
    child.kill('SIGKILL');
  }

  function armWatchdog(ms: number): void {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(checkSilence, ms);
    watchdog.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      delay = opts.backoff.initialMs;
      launch();
    },
    async stop() {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (watchdog) clearTimeout(watchdog);
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
