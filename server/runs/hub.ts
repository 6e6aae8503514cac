// The live state of runs, over the store: what routes, metrics and the tuner ports call. It keeps
// each run's live state (live.ts), gives each run its metric label (labels.ts), wakes config
// long-polls (config-watch.ts) and tells listeners about new steps, versions and ended runs.
// Persistence and its errors are the store's; this module adds no SQL, and it keeps the store to
// itself: callers get what they need from the hub's own members, never the store.
import type { Snapshot } from '../../collectors/readings.js';
import type { Store, NewEvent, NewStep } from '../../store/store.js';
import type { RunRecord } from '../../store/runs.js';
import type { StepPoint } from '../../domain/steps.js';
import { createConfigWatch } from './config-watch.js';
import { createLabels } from './labels.js';
import { addLiveSteps, addProcessReading, newLiveRun, RECENT_STEPS, tallyStart, type LiveRun, type RunStatus } from './live.js';
import { createRankBoard, mirrorApplied, type RankAnnounce, type RankSummary, rankViews, stragglersOf, withRanksGpus, withStragglers } from './ranks.js';

export type HubEvent =
  | { type: 'steps'; run: RunRecord; label: string; steps: StepPoint[] }
  | { type: 'config'; run: RunRecord; version: number }
  | { type: 'ended'; run: RunRecord };

/** Steps read back at most to rebuild a run's start tally after a restart (hub.ts rebuildStart). */
const START_SCAN = 20_000;

export function createRunHub(store: Store) {
  const live = new Map<string, LiveRun>();
  const labels = createLabels();
  const watch = createConfigWatch();
  const listeners = new Set<(e: HubEvent) => void>();
  const ranks = createRankBoard(); // data-parallel runs' ranks (DESIGN §9)
  let latest: Snapshot | undefined;
  let closed = false;
  /** Per run: the newest status that named a bottleneck (not warming_up), and what of it is stored. */
  const settled = new Map<string, RunStatus>();
  const stored = new Map<string, string>();
  const persistStatus = (runId: string, status: RunStatus) => {
    stored.set(runId, statusKey(status));
    store.setStatus(runId, status);
  };
  /** Stored when the bottleneck or its advice changes (and when the run ends), not every tick. */
  const noteStatus = (runId: string, status: RunStatus) => {
    if (status.bottleneck === 'warming_up') return;
    settled.set(runId, status);
    if (stored.get(runId) !== statusKey(status)) persistStatus(runId, status);
  };

  const forgetDeleted = (ids: readonly string[]) => {
    for (const id of ids) {
      live.delete(id);
      settled.delete(id);
      stored.delete(id);
      ranks.forget(id);
      labels.forget(id);
    }
  };

  const emit = (e: HubEvent) => {
    for (const l of listeners) l(e);
  };

  /** Live state, rebuilt from SQLite for a run the process has not seen yet (after a restart). */
  const liveOf = (run: RunRecord): LiveRun => {
    let l = live.get(run.id);
    if (!l) {
      l = newLiveRun();
      const t = store.stepTotals(run.id);
      l.recent = store.latestSteps(run.id, RECENT_STEPS);
      l.stepsTotal = t.steps;
      l.samplesTotal = t.samples;
      l.lastLoss = t.lastLoss;
      l.lastStepTs = l.recent.at(-1)?.ts ?? null;
      l.status = store.lastStatus(run.id) as RunStatus | null; // a finished run's last word, kept in the store
      rebuildStart(run.id, l);
      live.set(run.id, l);
    }
    return l;
  };

  /**
   * The start tally of a run this process has not watched from its first step: its earliest steps
   * read in pages until a newer config appears, at most START_SCAN steps (a start config that ran
   * longer is measured on that much of it).
   */
  const rebuildStart = (runId: string, l: LiveRun) => {
    for (let after = -1, read = 0; read < START_SCAN && !l.start?.changed;) {
      const page = store.steps(runId, after, 1000);
      if (page.length === 0) break;
      tallyStart(l, page);
      read += page.length;
      after = page[page.length - 1].step;
    }
  };

  const versionChanged = (runId: string) => {
    const run = store.getRun(runId);
    watch.notify(runId);
    emit({ type: 'config', run, version: run.configVersion });
  };

  const addEvent = (runId: string, e: NewEvent): RunRecord => {
    if (mirrorApplied(store, ranks, runId, e)) versionChanged(runId); // a node's copy of a data-parallel run
    const { before, after, dropped } = store.addEvent(runId, e);
    if (dropped) return after;
    if (after.state !== before.state) {
      // The run keeps what the tuner last found (not a warming_up it said after the last change).
      const l = live.get(runId);
      const last = settled.get(runId) ?? l?.status;
      if (last) {
        if (l) l.status = last;
        persistStatus(runId, last);
      }
      watch.notify(runId);
      emit({ type: 'ended', run: after });
    }
    return after;
  };

  return {
    now: store.now,
    on(listener: (e: HubEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    registerRun(input: Parameters<Store['registerRun']>[0]): RunRecord {
      const run = store.registerRun(input);
      live.set(run.id, newLiveRun());
      labels.of(run);
      return run;
    },
    getRun: (id: string): RunRecord => store.getRun(id),
    /** The run, or undefined where getRun would throw NotFound. */
    findRun: (id: string): RunRecord | undefined => store.findRun(id),
    listRuns: (limit = 100): RunRecord[] => store.listRuns(limit),
    activeRuns: (): RunRecord[] => store.activeRuns(),
    live: (run: RunRecord): LiveRun => liveOf(run),
    label: (run: RunRecord): string => labels.of(run),
    /** A rank says where it runs (PUT /v1/runs/:id/ranks/:rank). */
    announceRank: (runId: string, a: RankAnnounce) => ranks.announce(runId, a, store.now()),
    /** Rank 0's forward of every rank's summaries (POST /v1/runs/:id/ranks). */
    addRankSummaries: (runId: string, worldSize: number, summaries: readonly RankSummary[]) => ranks.addSummaries(runId, worldSize, summaries, store.now()),
    /** Whether this sidecar holds a node's copy of another sidecar's run (its tuner does not decide). */
    isNodeCopy: (runId: string): boolean => ranks.isNodeCopy(runId),
    /** The run's ranks with their figures, and its stragglers when rank 0 forwards summaries here. */
    rankViews: (run: RunRecord) => rankViews(ranks, run.id, liveOf(run).recent),
    /** What the sampler watches: each running run's own pid, and the pids its ranks announced. */
    watchedPids(): Array<{ runId: string; pid: number }> {
      const own = store.activeRuns().filter((r) => r.pid !== null).map((r) => ({ runId: r.id, pid: r.pid! }));
      const seen = new Set(own.map((w) => `${w.runId}\0${w.pid}`));
      return [...own, ...ranks.pids().filter((w) => !seen.has(`${w.runId}\0${w.pid}`) && store.findRun(w.runId)?.state === 'running')];
    },

    addSteps(runId: string, batch: NewStep[]): { accepted: number; duplicates: number; configVersion: number } {
      // A run this process has not watched yet is rebuilt from SQLite before the batch is stored, so the batch counts once.
      const known = live.has(runId) ? null : store.findRun(runId);
      if (known) liveOf(known);
      const { run, fresh } = store.addSteps(runId, batch);
      if (fresh.length > 0) {
        addLiveSteps(liveOf(run), fresh);
        emit({ type: 'steps', run, label: labels.of(run), steps: fresh });
      }
      return { accepted: batch.length, duplicates: batch.length - fresh.length, configVersion: run.configVersion };
    },
    steps: (runId: string, afterStep: number, limit: number) => store.steps(runId, afterStep, limit),

    addEvent,
    events: (runId: string, limit = 200) => store.events(runId, limit),
    eventsRevision: (runId: string): string => store.eventsRevision(runId),
    setPid: (runId: string, pid: number): RunRecord => store.setPid(runId, pid),

    setConfig(runId: string, config: Parameters<Store['setConfig']>[1], opts: Parameters<Store['setConfig']>[2]): RunRecord {
      const after = store.setConfig(runId, config, opts);
      versionChanged(runId);
      return after;
    },
    configVersion: (runId: string, version: number) => store.configVersion(runId, version),
    /** Long-poll: the run once its version exceeds `after`, or after waitS with the current one. */
    async waitForConfig(runId: string, after: number, waitS: number, signal?: AbortSignal): Promise<RunRecord> {
      const deadline = Date.now() + waitS * 1000;
      for (;;) {
        const run = store.getRun(runId);
        const left = deadline - Date.now();
        if (run.configVersion > after || left <= 0 || run.state !== 'running' || closed || signal?.aborted) return run;
        await watch.wait(runId, left, signal);
      }
    },

    recordSnapshot(s: Snapshot): void {
      latest = s;
      // A rank's own tree goes with that rank (in memory); the run's pid (rank 0's, or the first
      // local rank's) is the run's, stored, with the GPU memory of its node's other ranks.
      const own: typeof s.processes = [];
      for (const p of s.processes) {
        const run = store.findRun(p.runId);
        if (run && (!ranks.processReading(run.id, p) || p.pid === run.pid)) own.push(p);
      }
      for (const p of own) addProcessReading(liveOf(store.findRun(p.runId)!), withRanksGpus(p, s.processes), s.ts, s.gpus);
      store.recordSnapshot(own.length === s.processes.length ? s : { ...s, processes: own });
    },
    snapshot: (): Snapshot | undefined => latest,
    processExited(runId: string, pid: number): void {
      const run = store.findRun(runId);
      if (!run || run.state !== 'running' || (pid !== run.pid && ranks.isRankPid(runId, pid))) return; // one rank ended, not the run
      addEvent(runId, { kind: 'exited', step: null, ts: store.now(), data: { pid } });
    },
    series: (...a: Parameters<Store['series']>) => store.series(...a),

    setStatus(runId: string, status: RunStatus): void {
      const run = store.findRun(runId);
      if (!run) return;
      const l = liveOf(run);
      l.status = withStragglers(status, stragglersOf(ranks, run.id));
      noteStatus(runId, l.status);
    },
    decisions: (runId: string, limit = 1000) => store.decisions(runId, limit),
    /** How many decisions the run has, by knob and action (kept in the decisions table, so after a restart too). */
    decisionCounts: (runId: string) => store.decisionCounts(runId),
    /** Writes a decision of the tuner's; a decision that creates a config version wakes its long-polls. */
    addDecision(runId: string, d: Parameters<Store['addDecision']>[1], opts: Parameters<Store['addDecision']>[2]) {
      const rec = store.addDecision(runId, d, opts);
      if (opts.apply) versionChanged(runId);
      return rec;
    },
    setOutcome: (...a: Parameters<Store['setOutcome']>) => store.setOutcome(...a),
    oomBatchSizes: (runId: string) => store.oomBatchSizes(runId),

    /** Store retention, and the live state of the runs it deleted. */
    applyRetention(retentionS: number) {
      const r = store.applyRetention(retentionS);
      forgetDeleted(r.runs);
      return r;
    },
    /**
     * The same in bounded parts, the event loop let run between two (store/retention.ts): what
     * the sidecar's timer does under load. Stops early, leaving the rest to the next sweep, when
     * the hub closes.
     */
    async sweepRetention(retentionS: number) {
      const sweep = store.retentionSweep(retentionS);
      while (!closed && sweep.next()) await new Promise<void>((res) => setImmediate(res));
      const r = sweep.result();
      forgetDeleted(r.runs);
      return r;
    },
    /** Forgets in-memory state of runs ended long enough ago (metrics series removed after this). */
    forgetEnded(afterS: number): void {
      for (const id of [...live.keys()]) {
        const run = store.findRun(id);
        if (!run || (run.endedAt !== null && store.now() - run.endedAt > afterS)) {
          live.delete(id);
          settled.delete(id);
          stored.delete(id);
          labels.forget(id);
          ranks.forget(id);
        }
      }
    },
    liveRunIds: (): string[] => [...live.keys()],
    /** Wakes every long-poll so it answers now (shutdown). */
    releasePolls(): void {
      closed = true;
      watch.releaseAll();
    },
    waitingPolls: (): number => watch.waiting(),
    /** Releases the long-polls and closes the store. */
    close(): void {
      closed = true;
      watch.releaseAll();
      store.close();
    },
    get closed() {
      return closed;
    },
  };
}

export type RunHub = ReturnType<typeof createRunHub>;

/** What makes a status worth storing again: its bottleneck and the remedies it advises. */
function statusKey(s: RunStatus): string {
  return `${s.bottleneck}:${s.advice.map((a) => a.code).join(',')}`;
}
