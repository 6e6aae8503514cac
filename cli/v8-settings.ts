// Every V8 setting trainpilot runs under, in one place: what each does, why it is there, what
// it measured, and where it is applied.
//
//   bin/trainpilot.js        applyRunTimeV8Settings(), before it loads the CLI's bundle: the
//                            new-space growth factor, and for start-up no TurboFan and the late
//                            tier-up; on every path (serve, run, npx, a global install, the image);
//                            and one full GC when the sidecar has started, before it listens
//                            (SIDECAR_STARTED_CHANNEL; docs/footprint.md, "The start-up peak")
//   Dockerfile ENTRYPOINT,   commandLineV8Flags() for the image's Node, on node's command line:
//   deploy/kubernetes/*.yaml   the settings V8 reads only when it starts (Node version pinned there)
//   bench/                   the sidecar started with commandLineV8Flags(), as the image starts it;
//                            in-process benchmarks under steadyStateV8Flags()
//   test/kubernetes.test.ts, test/docker.test.ts check the Dockerfile and manifests against this.
//
// Why a TypeScript module in cli/: tsc compiles it to dist/cli/v8-settings.js, which the plain
// JavaScript launcher imports from dist/ just as it imports the bundle, and which bench/ (compiled
// to dist/bench/) and the tests import with its types; so it exists once, with no .d.ts or second
// copy to keep in step. It stays out of the bundle on purpose: the launcher needs it before the
// bundle is loaded, and it imports nothing but node:v8.
//
// What the figures say (bench/overhead: the sidecar at 1 s sampling, 8-GPU stand-in, one watched
// run, 60 s window after a 30 s warm-up; bench/metrics: p99 of 1000 renders, 8 GPUs + 20 runs).
// 2-core VM shared with other work: of two runs each, the one at the lower load average.
//
//   node 20 (V8 11), bench/overhead       CPU % of a core   peak RSS   RSS in window   load
//   (a) before: sh line, both flags            0.53 %        79.2 MB       71.4 MB      0.02
//   (b) no V8 settings                         0.55 %       100.5 MB       80.2 MB      0.04
//   (c) semi-space only                        0.58 %        91.7 MB       82.8 MB      0.01
//   (d) semi-space + late tier-up              0.57 %        80.2 MB       71.4 MB      0.00
//       semi-space at run time (no effect)     0.53 %       103.5 MB       81.9 MB      0.01
//       semi-space + tier-up at run time       0.52 %        83.9 MB       75.3 MB      0.07
//   now: (d), tier-up back to default at 10 s  0.50 %        80.5 MB       76.2 MB      0.13
//
//   node 22 (V8 12, the image's), overhead
//   (b) no V8 settings                         0.67 %       109.8 MB      109.8 MB      3.00
//   (c) semi-space only                        0.47 %       103.3 MB       94.4 MB      1.24
//   (d) semi-space + late tier-up              0.43 %        92.4 MB       80.0 MB      0.04
//       semi-space + tier-up at run time       0.47 %        98.8 MB       87.5 MB      0.21
//   now: (d), tier-up back to default at 10 s  0.40 %        92.0 MB       81.0 MB      0.10
//
//   node 20, bench/metrics p99 (CPU per render)   text                 OpenMetrics          load
//   (a) before                                 4.1 ms (3.1 ms)      4.7 ms (3.2 ms)      0.28
//   (b) no V8 settings                         3.3 ms (1.9 ms)      3.9 ms (2.1 ms)      0.39
//   (c) semi-space only = now, once started    8.6 ms (2.9 ms)      6.8 ms (3.0 ms)      0.44
//   (d) semi-space + late tier-up              8.8 ms (5.7 ms)      9.4 ms (5.3 ms)      0.45
//       (d), tier-up back to default           7.7 ms (3.5 ms)      6.3 ms (3.9 ms)      0.57
//
// The peak RSS is start-up's. Both settings are needed for 80 MB on Node 20 (each is ~10 MB), and
// both only work in full on node's command line. The late tier-up kept for good costs /metrics
// renders: median CPU per render (text, 7–9 runs each) 4.9 ms with it, against 3.9 ms with it
// undone 10 s after launch, the same as with semi-space alone (3.9 ms; none at all: 2.8 ms); it
// is undone, for ~1 MB more at the peak on Node 20 and ~4 MB more in the window (hot code gets
// optimized). The /metrics p99 on this machine swings 3–12 ms from run to run in every variant
// (other work on the 2 cores), more than any setting moves it; CPU per render is the steadier
// figure. On Node 22, the image's, the sidecar peaks ~12 MB higher with the same settings and
// misses 80 MB (92 MB). In short runs (20 s window) nothing else tried closed that: 1 MB
// semi-spaces 86.5 MB, MALLOC_ARENA_MAX=2 91.5 MB, --v8-pool-size=1 92.1 MB.
// CPU stays near the 0.5 % budget in every variant: the settings do not move it.
//
// Issue 23 (the plain launcher path, no node flags; the idle sidecar with a watched run, 8-GPU
// stand-in, 30 s warm-up, 60 s window; busy 2-core VM, load 6–7; docs/footprint.md):
//   run-time settings                                 start-up peak   window max   CPU
//   late tier-up only (the release before's launcher)     see docs/footprint.md (bench/overhead)
//   + new-space growth factor 1                          71 MB          67 MB      0.35 %
//   + no TurboFan during start-up (--max-opt=1, 10 s)    67 MB          63 MB      0.35 %
//
// Re-measure: BENCH_NODE_FLAGS replaces the sidecar's node flags in bench/overhead
// (bench/lib/sidecar-process.ts); an invocation count or budget other than the late one below
// turns the launcher's own tier-up off.
import { subscribe } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

/**
 * Where the launcher leaves the V8 flags it set at run time that a new isolate undoes, for a
 * worker thread to set again as it starts (store/checkpointer.ts reads it: a process-wide name, so
 * neither imports the other).
 */
export const RUN_TIME_FLAGS_KEY = Symbol.for('trainpilot.v8.runTimeFlags');

/** V8's major version in this process (11 in Node 20, 12 in Node 22). */
export const V8_MAJOR = Number(process.versions.v8.split('.')[0]);

/**
 * --max-semi-space-size: V8 sizes the young generation for the host's RAM (16 MB semi-spaces on
 * 24 GB); 2 MB keeps the sidecar ~10 MB smaller for more frequent, shorter scavenges (an earlier
 * measurement: 1 MB gained nothing at the peak on Node 20 and cost renders). Read only when the heap is set
 * up: v8.setFlagsFromString() at run time changes nothing (measured, see above), so this goes on
 * node's command line (or NODE_OPTIONS, which allows it). A documented Node option, stable
 * across versions.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=2';

/**
 * The young generation held at its first size, set at run time by the launcher on every path
 * (`trainpilot serve`, `run`, npx, a global install, the image). V8 starts each semi-space at
 * 1 MB (V8 11/12 on 64-bit) and doubles it (this factor) whenever many objects survive a
 * scavenge, up to 16 MB on a host with this much RAM; start-up's survivors grew it to 8 MB and
 * it never shrank: ~12 MB of resident memory for the idle sidecar's life. Unlike
 * --max-semi-space-size, which V8 reads only when it sets the heap up, this factor is read at each
 * growth (v8 src/heap/new-spaces.cc, SemiSpaceNewSpace::Grow), so setting it before the CLI's bundle loads keeps
 * the semi-spaces at 1 MB: measured (docs/footprint.md) the same resident memory as
 * --max-semi-space-size=1 on node's command line. The cost is more, smaller scavenges under load.
 */
export const NEW_SPACE_GROWTH_FLAG = '--semi-space-growth-factor=1';

/**
 * No optimizing tier during start-up: --max-opt=1 stops at Sparkplug (baseline code), so none of
 * the code that runs hot once at start (module bodies, route registration, the first XML
 * inventory) is handed to TurboFan, whose compiler pages and zone memory stayed resident
 * (docs/footprint.md: the idle sidecar with a watched run peaked 4 MB lower, 71 → 67 MB, and held
 * 4 MB less in the 60 s window, 67 → 63 MB, at the same CPU). Read at each tier-up decision, so
 * it works at run time; V8's default (999: any tier) comes back with the tier-up at START_UP_S.
 * A documented V8 flag of both V8 11 and 12.
 */
export const START_UP_TIER_FLAGS = { startUp: '--max-opt=1', normal: '--max-opt=999' } as const;

/** How long after launch the late tier-up lasts: start-up is over well before (~1.5 CPU s). */
export const START_UP_S = 10;

/**
 * The late TurboFan tier-up, and V8's default to go back to after start-up. Start-up code
 * (module bodies, Ajv compiling every route's schemas, the first nvidia-smi XML) runs hot once;
 * optimizing it took ~10 MB of compiler memory that malloc kept. V8 resets a function's budget
 * from the flag at each tick, so setting the default again lets what stays hot (renders,
 * ingest, the collectors) be optimized as usual. On the command line it covers Node's own
 * loader too; set at run time, ~4 MB (Node 20) to ~7 MB (Node 22) of its gain is lost.
 * An internal V8 setting, renamed in V8 12 (Node 22): Node refuses an unknown V8 flag on its
 * command line, and v8.setFlagsFromString() writes "unrecognized flag" to stderr, so the name
 * follows the V8 that reads it. Late: ~32× the default invocation count (V8 12), ~62× the
 * default budget (V8 11); the defaults are those V8s' own (node --v8-options).
 */
export function tierUpFlags(v8Major: number = V8_MAJOR): { late: string; normal: string } {
  return v8Major >= 12
    ? { late: '--invocation-count-for-turbofan=96000', normal: '--invocation-count-for-turbofan=3000' }
    : { late: '--interrupt-budget=4194304', normal: '--interrupt-budget=67584' };
}

/**
 * The diagnostics channel server/sidecar.ts publishes on once started, before it listens (the
 * name is written twice, here and there, so that this module imports nothing but node's own).
 */
export const SIDECAR_STARTED_CHANNEL = 'trainpilot.sidecar.started';

/**
 * One full garbage collection now. Node gives JavaScript no way to ask for one without
 * --expose-gc on its command line; V8's %CollectGarbage does the same, compiled with natives
 * syntax allowed for that one function (the flag is read when code is parsed) and disallowed
 * again at once, so no other code can use it.
 */
export function collectGarbageNow(): void {
  setFlagsFromString('--allow-natives-syntax');
  let gc: () => void;
  try {
    gc = new Function('%CollectGarbage(null)') as () => void;
  } finally {
    setFlagsFromString('--no-allow-natives-syntax');
  }
  gc();
}

/** node's command-line flags for `trainpilot serve` on a V8 of this major version. */
export function commandLineV8Flags(v8Major: number = V8_MAJOR): string[] {
  return [SEMI_SPACE_FLAG, tierUpFlags(v8Major).late];
}

/**
 * What the sidecar runs under once started (the tier-up back at V8's default): the flags for
 * in-process benchmarks, so their figures are the long-running sidecar's.
 */
export function steadyStateV8Flags(): string[] {
  return [NEW_SPACE_GROWTH_FLAG];
}

/**
 * The launcher's part: the late tier-up for start-up, unless node's command line already has it
 * (the image), and V8's default START_UP_S later. A tier-up value given on the command line
 * other than ours is left alone. The timer does not keep a short command (status, report) alive.
 */
export function applyRunTimeV8Settings(): void {
  setFlagsFromString(NEW_SPACE_GROWTH_FLAG);
  // Every new isolate (a worker thread: store/checkpointer.ts under load) puts the growth factor
  // back to 2 for the whole process as its flags are set up on the worker's thread (V8's flag
  // definitions: DEFINE_MIN_VALUE_IMPLICATION(semi_space_growth_factor, 2)): measured,
  // the main thread's young generation then grew to 16 MB semi-spaces (bench/load: +30 MB
  // resident). Node announces each worker on this channel; the factor is set again every 2 ms
  // until the worker runs ('online' came 170–340 ms after the worker was made on the busy VM, by
  // when the young generation had grown; set again each 5 ms it held at 1 MB semi-spaces).
  // The same from the worker's own first line, where the worker reads this (store/checkpointer.ts):
  // the main thread's event loop may be busy for longer than 2 ms just when the worker starts.
  (globalThis as Record<symbol, unknown>)[RUN_TIME_FLAGS_KEY] = [NEW_SPACE_GROWTH_FLAG];
  subscribe('worker_threads', (message) => {
    const again = setInterval(() => setFlagsFromString(NEW_SPACE_GROWTH_FLAG), 2);
    const done = () => {
      clearInterval(again);
      setFlagsFromString(NEW_SPACE_GROWTH_FLAG);
    };
    const worker = (message as { worker: Worker }).worker;
    worker.once('online', done);
    worker.once('exit', done);
  });
  // Start-up's garbage collected when the sidecar has started, before its first request: V8's
  // first full GC would otherwise come ~15 s after launch (its memory reducer), after the first
  // requests have added their share on top of start-up's, and that sum was the sidecar's peak
  // (docs/footprint.md, "The start-up peak"). One full GC, ~10–20 ms, once.
  subscribe(SIDECAR_STARTED_CHANNEL, collectGarbageNow);
  const { late, normal } = tierUpFlags();
  const name = late.slice(0, late.indexOf('=') + 1);
  const given = process.execArgv.find((a) => a.startsWith(name));
  if (given !== undefined && given !== late) return;
  if (given === undefined) setFlagsFromString(late);
  const tierGiven = process.execArgv.some((a) => a.startsWith('--max-opt'));
  if (!tierGiven) setFlagsFromString(START_UP_TIER_FLAGS.startUp);
  setTimeout(() => {
    setFlagsFromString(normal);
    if (!tierGiven) setFlagsFromString(START_UP_TIER_FLAGS.normal);
  }, START_UP_S * 1000).unref();
}
