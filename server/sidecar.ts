// The sidecar's composition: store, collectors, tuner, metrics and the HTTP app, started and
// stopped together. `trainpilot serve` and `trainpilot run` (in-process sidecar) both use it.
import { channel } from 'node:diagnostics_channel';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CollectorHealth } from '../collectors/readings.js';
import { createSampler, type Sampler } from '../collectors/sampler.js';
import { createTunerLoop } from '../tuner/loop.js';
import { buildApp } from './app.js';
import { errorHandling } from './error-handler.js';
import { announcer, decisionMessage, loggerOptions, type LogFormat, type LogLevel } from './log.js';
import { createMetrics } from './metrics/registry.js';
import { ENDED_RUN_KEEP_S, metricsSource } from './metrics/store-source.js';
import { metricsRoutes } from './routes/metrics.js';
import { openStore } from '../store/store.js';
import { createRunHub, type RunHub } from './runs/hub.js';
import { createTunerPorts } from './runs/tuner-ports.js';
import { VERSION } from './version.js';

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log.js';

export interface SidecarOptions {
  host: string;
  port: number;
  db: string;
  intervalS: number;
  nvidiaSmi: string;
  gpu: 'auto' | 'on' | 'off';
  token: string | null;
  retentionS: number;
  metricsListen: { host: string; port: number } | null;
  log: LogLevel;
  /** human (default): one readable line each; json: pino's JSON lines. */
  logFormat?: LogFormat;
}

/**
 * Published once the sidecar has started and before it listens: start-up is over, and its
 * garbage (module bodies, the first GPU inventory, the routes' set-up) is still in the heap. The
 * launcher collects it there (cli/v8-settings.ts), so the first requests, which come at once
 * (`trainpilot run` registers its job), do not add to it: the start-up peak (docs/footprint.md).
 * The core says when; what V8 does about it is the launcher's.
 */
export const SIDECAR_STARTED_CHANNEL = 'trainpilot.sidecar.started';
const startedChannel = channel(SIDECAR_STARTED_CHANNEL);

/** Retention runs at start and then this often. */
const RETENTION_EVERY_S = 600;

/** How long shutdown lets answers in flight finish before cutting connections. */
const DRAIN_MS = 5000;

/**
 * Fastify's close() closes the connections idle at that moment and then waits for the rest; a
 * keep-alive connection whose request finishes after that stays open until its timeout (72 s)
 * and holds close() up. Sweep idle connections while closing; cut what is left after DRAIN_MS.
 */
async function closeApp(app: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 25);
  const cut = setTimeout(() => app.server.closeAllConnections(), DRAIN_MS);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}

export interface Sidecar {
  app: FastifyInstance;
  runs: RunHub;
  sampler: Sampler;
  /** The API's address once listening, e.g. http://127.0.0.1:9477. */
  url: string;
  metricsUrl: string | null;
  /** The one log (server/log.ts): start-up, shutdown, warnings and decisions at info and above. */
  log: FastifyBaseLogger;
  /** Says a line whatever the level (not when silent), in the log's format: start-up, shutdown. */
  announce(msg: string): void;
  close(): Promise<void>;
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const runs = createRunHub(openStore({ path: opts.db }));
  const sampler = createSampler({
    intervalS: opts.intervalS,
    gpu: opts.gpu,
    nvidiaSmiPath: opts.nvidiaSmi,
    watchedRuns: () => runs.watchedPids(),
    onSnapshot: (s) => {
      runs.recordSnapshot(s);
      logCollectorChanges(s.health);
      // The tuner's pass follows each sampling tick (its readings are the tick's) rather than a
      // timer of its own: one wake-up a second for the idle sidecar (docs/footprint.md).
      if (started) tuner.pass();
    },
    onProcessExit: (runId, pid) => runs.processExited(runId, pid),
  });
  const metrics = createMetrics(metricsSource(runs, () => sampler.inventory().gpu ?? undefined), { version: VERSION });
  runs.on((e) => {
    if (e.type === 'steps') metrics.observeSteps({ label: e.label }, e.steps);
  });
  // A collector going down (and coming back) is a warning worth a line; its every failure is not.
  const wasUp = new Map<string, boolean>();
  const logCollectorChanges = (health: CollectorHealth[]) => {
    for (const h of health) {
      const before = wasUp.get(h.name);
      wasUp.set(h.name, h.up);
      if (before === undefined ? !h.up : before !== h.up) {
        if (h.up) app.log.info({ collector: h.name }, `collector ${h.name} is back`);
        else app.log.warn({ collector: h.name, error: h.lastError }, `collector ${h.name} is down: ${h.lastError ?? 'no reason given'}`);
      }
    }
  };
  const ports = createTunerPorts(runs);
  const tuner = createTunerLoop({
    intervalS: opts.intervalS,
    ports: {
      ...ports,
      // Every decision is logged at info, as a person reads it (the API has the evidence).
      applyDecision(runId, d) {
        const rec = ports.applyDecision(runId, d);
        const run = runs.findRun(runId);
        app.log.info({ run_id: runId, decision_id: rec.id, knob: rec.knob, action: rec.action, recommend_only: rec.recommendOnly }, decisionMessage(run?.name ?? runId, rec));
        return rec;
      },
    },
    onError: (runId, err) => app.log.warn({ run_id: runId, err }, `tuner: run ${runId}: the pass failed; the other runs go on`),
  });
  let started = false;

  const logger = loggerOptions(opts.log, opts.logFormat ?? 'human');
  const app = await buildApp({
    runs,
    version: VERSION,
    token: opts.token,
    metrics,
    logger,
    host: () => ({ snapshot: sampler.latest() ?? null, health: sampler.health(), inventory: sampler.inventory() }),
    ready: () => (started ? { ready: true } : { ready: false, reason: 'collectors starting' }),
  });

  let metricsApp: FastifyInstance | null = null;
  if (opts.metricsListen) {
    metricsApp = Fastify({ logger: false });
    await metricsApp.register(errorHandling);
    metricsApp.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
    await metricsApp.register(metricsRoutes, { metrics });
  }

  // At start, before anything is served, retention goes in one transaction; then, every
  // RETENTION_EVERY_S, in bounded parts with requests let in between (store/retention.ts).
  runs.applyRetention(opts.retentionS);
  runs.forgetEnded(ENDED_RUN_KEEP_S + 60);
  let sweeping = false;
  const housekeeping = () => {
    if (sweeping) return;
    sweeping = true;
    runs.sweepRetention(opts.retentionS)
      .then(() => runs.closed || runs.forgetEnded(ENDED_RUN_KEEP_S + 60))
      .catch((err) => app.log.warn({ err }, `retention: ${(err as Error).message}`))
      .finally(() => (sweeping = false));
  };
  const timer = setInterval(housekeeping, RETENTION_EVERY_S * 1000);
  timer.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(timer);
      tuner.stop();
      // Close the listeners first (drain in-flight requests, wake long-polls), then the rest.
      runs.releasePolls();
      await Promise.allSettled([closeApp(app), metricsApp && closeApp(metricsApp)]);
      await sampler.stop();
      runs.close();
    })());

  try {
    await sampler.start();
    started = true;
    await app.ready();
    if (startedChannel.hasSubscribers) startedChannel.publish({ intervalS: opts.intervalS });
    const address = await app.listen({ host: opts.host, port: opts.port });
    const metricsUrl = metricsApp && opts.metricsListen
      ? await metricsApp.listen({ host: opts.metricsListen.host, port: opts.metricsListen.port })
      : null;
    return { app, runs, sampler, url: address, metricsUrl, log: app.log, announce: announcer(opts.logFormat ?? 'human', opts.log), close };
  } catch (err) {
    await close();
    throw err;
  }
}
