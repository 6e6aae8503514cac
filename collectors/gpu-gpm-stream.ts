// The GPM side of the GPU collector: one long-lived `nvidia-smi dmon --gpm-metrics …`, parsed
// line by line (collectors/gpu-gpm.ts). GPM is optional: on a GPU or driver without it, or an
// nvidia-smi that does not know dmon (the test stand-in), dmon exits, prints a header without
// GPM columns, or prints only `-`; each of these marks GPM unsupported, stops dmon, and tries
// again only after `retryS`. Nothing here touches the query stream or the inventory, so a
// failing dmon neither breaks nor slows the rest of the collector.
import { reasonOf, type Logger } from './collector.js';
import { GPM_METRICS, gpmArgs, hasGpm, parseGpmHeader, parseGpmRow, type GpmLayout } from './gpu-gpm.js';
import { createLineStream } from './gpu-stream.js';
import { commandLabel } from './nvidia-smi.js';
import type { GpuActivity } from './readings.js';

export interface GpmStreamOptions {
  path: string;
  intervalS: number;
  /** Stop dmon when it gives no GPM value for this long after it starts. */
  giveUpS: number;
  /** After GPM is found unsupported, try again this much later. */
  retryS: number;
  /** Values older than this are not reported. */
  staleAfterS: number;
  log: Logger;
}

export interface GpmStatus {
  /** null until dmon has either given a GPM value or been found wanting. */
  supported: boolean | null;
  reason: string | null;
}

export interface GpmStream {
  start(): void;
  stop(): Promise<void>;
  /** The GPU's latest GPM activity, when fresh and holding at least one value. */
  activity(index: number, now: number): GpuActivity | undefined;
  status(): GpmStatus;
}

export function createGpmStream(opts: GpmStreamOptions): GpmStream {
  const args = gpmArgs(opts.intervalS);
  const label = commandLabel(args);
  const latest = new Map<number, { activity: GpuActivity; at: number }>();
  let layout: GpmLayout | null = null;
  let previousHash: string | null = null;
  let status: GpmStatus = { supported: null, reason: null };
  let startedAt = 0;
  let retry: NodeJS.Timeout | null = null;
  let giveUp: NodeJS.Timeout | null = null;
  let running = false;

  const unsupported = (reason: string): void => {
    if (!running) return;
    if (status.supported !== false) opts.log.info(`GPU GPM metrics absent: ${reason}`);
    status = { supported: false, reason };
    latest.clear();
    void pause();
  };

  const stream = createLineStream({
    path: opts.path,
    args,
    label,
    hangAfterMs: Math.max(10, 5 * Math.max(1, opts.intervalS)) * 1000,
    backoff: { initialMs: 1000, maxMs: 60_000 },
    onLine(line) {
      const t = line.trim();
      if (t === '') return false;
      if (t.startsWith('#')) {
        if (previousHash !== null) {
          try {
            layout = parseGpmHeader(previousHash, t, GPM_METRICS);
          } catch (err) {
            unsupported(reasonOf(err));
            return false;
          }
          previousHash = null;
          return true;
        }
        previousHash = t;
        return true;
      }
      previousHash = null;
      const row = layout ? parseGpmRow(line, layout, GPM_METRICS) : null;
      if (!row) return false;
      if (hasGpm(row.activity)) {
        latest.set(row.index, { activity: row.activity, at: Date.now() });
        if (status.supported !== true) {
          if (status.supported === false) opts.log.info('GPU GPM metrics read again');
          status = { supported: true, reason: null };
        }
      }
      return true;
    },
    onEnd(reason) {
      layout = null;
      previousHash = null;
      // Ended before it ever gave a value: this nvidia-smi or GPU has no GPM; do not respawn it every few seconds.
      if (status.supported !== true) unsupported(reason);
    },
  });

  async function pause(): Promise<void> {
    running = false;
    if (giveUp) clearTimeout(giveUp);
    giveUp = null;
    await stream.stop();
    retry = setTimeout(() => {
      retry = null;
      begin();
    }, opts.retryS * 1000);
    retry.unref();
  }

  function begin(): void {
    running = true;
    startedAt = Date.now();
    stream.start();
    giveUp = setTimeout(() => {
      giveUp = null;
      if (status.supported !== true) unsupported(`${label} gave no GPM value in ${opts.giveUpS} s`);
    }, opts.giveUpS * 1000);
    giveUp.unref();
  }

  return {
    start() {
      if (running || retry) return;
      begin();
    },
    async stop() {
      running = false;
      if (retry) clearTimeout(retry);
      if (giveUp) clearTimeout(giveUp);
      retry = giveUp = null;
      await stream.stop();
    },
    activity(index, now) {
      const e = latest.get(index);
      if (!e || now - e.at > opts.staleAfterS * 1000 || startedAt === 0) return undefined;
      return e.activity;
    },
    status: () => ({ ...status }),
  };
}
