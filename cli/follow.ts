// Following one run once a second, for `trainpilot run` and `trainpilot watch`: on a terminal a
// live status line (live-line.ts), with each new decision printed above it as it happens;
// elsewhere the decisions and an occasional plain status line.
import type { ApiClient, Decision, Run } from './api-client.js';
import { liveLine } from './live-line.js';
import { tidyNumbers } from '../tuner/format.js';
import { fmtDecision, statusLine } from './status-line.js';

export interface FollowOptions {
  out: NodeJS.WriteStream;
  /** Draw a live line (a terminal) or print plain lines. */
  tty: boolean;
  everyMs: number;
  /** Plain mode: a status line at most this often (0 = never; decisions are still printed). */
  plainEveryMs: number;
  /** Unix seconds the elapsed time counts from. */
  startedAt: number;
  /** Called after each successful poll. */
  onPoll?: (run: Run) => void;
  /** Called on each failed poll with the number of failures in a row. */
  onError?: (err: unknown, inARow: number) => void;
}

export interface Follower {
  /** Stops polling (after the poll in flight, if any) and gives the terminal back. */
  stop(): Promise<void>;
  latest(): { run: Run | null; lastDecision: Decision | undefined };
}

export function followRun(client: ApiClient, id: string, opts: FollowOptions): Follower {
  const line = opts.tty ? liveLine(opts.out) : null;
  let run: Run | null = null;
  let decisions: Decision[] = [];
  let lastSeenId = 0;
  /** The run's decision count when the list was last fetched: fetch again only when it moves. */
  let fetchedAt = -1;
  let failures = 0;
  let lastPlain = Date.now();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();

  const print = (text: string) => {
    line?.clear();
    opts.out.write(`${text}\n`);
  };

  async function poll(): Promise<void> {
    try {
      run = await client.run(id);
      if (run.summary.decisions !== fetchedAt) {
        decisions = await client.decisions(id);
        fetchedAt = run.summary.decisions;
      }
      failures = 0;
    } catch (err) {
      opts.onError?.(err, ++failures);
      return;
    }
    const elapsed = Date.now() / 1000 - opts.startedAt;
    // By id: the API answers the newest 1000, so positions shift on a long run.
    for (const d of decisions.filter((x) => x.id > lastSeenId)) {
      print(`trainpilot: decision #${d.id}: ${fmtDecision(d)} — ${tidyNumbers(d.reason)}`);
      lastSeenId = d.id;
    }
    const text = statusLine(run, decisions.at(-1), elapsed);
    if (line) line.draw(text);
    else if (opts.plainEveryMs > 0 && Date.now() - lastPlain >= opts.plainEveryMs) {
      print(`trainpilot: ${text}`);
      lastPlain = Date.now();
    }
    opts.onPoll?.(run);
  }

  const tick = () => {
    inFlight = poll().finally(() => {
      if (!stopped) timer = setTimeout(tick, opts.everyMs);
    });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
      line?.close();
    },
    latest: () => ({ run, lastDecision: decisions.at(-1) }),
  };
}
