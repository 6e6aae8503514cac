// The ranks of data-parallel runs (DESIGN §9), in memory: which ranks this sidecar watches (their
// pid and node, announced by each rank every few seconds, so a restarted sidecar learns them again
// within seconds), the per-rank summaries rank 0 forwards from the job's collective, and each
// rank's process tree. Nothing here is persisted: every piece is sent again while the job runs.
import type { ProcessTreeReading } from '../../collectors/readings.js';
import type { BottleneckKind } from '../../tuner/classify.js';
import { findStragglers, rankFigures, type RankData, type RankFigures, type RankInterval, type Stragglers } from '../../tuner/stragglers.js';
import type { Advice } from '../../domain/decisions.js';
import type { StepPoint } from '../../domain/steps.js';
import type { NewEvent, Store } from '../../store/store.js';

/** Summaries kept per rank: at one forward every ~2 s, the last ~16 s of the job. */
export const RANK_INTERVALS = 8;
/** Local steps per rank a rank's figures are computed over when rank 0 forwards none here. */
const LOCAL_STEPS = 64;

export interface RankState {
  rank: number;
  node: string | null;
  pid: number | null;
  /** When this sidecar last heard of the rank (announce or summary), unix seconds. */
  seenAt: number;
  intervals: RankInterval[];
  lastStep: number | null;
  nodeVerdict: BottleneckKind | null;
  process: ProcessTreeReading | null;
  exited: boolean;
}

interface RunRanks {
  worldSize: number;
  ranks: Map<number, RankState>;
}

export interface RankAnnounce { rank: number; worldSize: number; pid: number | null; node: string | null }
export interface RankSummary extends RankInterval { rank: number; node: string | null; lastStep: number | null; nodeVerdict: BottleneckKind | null }

export function createRankBoard() {
  const runs = new Map<string, RunRanks>();

  const slot = (runId: string, worldSize: number): RunRanks => {
    let r = runs.get(runId);
    // A new world size is a new job layout (an elastic restart): the old ranks are gone.
    if (!r || r.worldSize !== worldSize) runs.set(runId, (r = { worldSize, ranks: new Map() }));
    return r;
  };
  const rankOf = (r: RunRanks, rank: number, now: number): RankState => {
    let s = r.ranks.get(rank);
    if (!s) {
      s = { rank, node: null, pid: null, seenAt: now, intervals: [], lastStep: null, nodeVerdict: null, process: null, exited: false };
      r.ranks.set(rank, s);
    }
    return s;
  };

  return {
    announce(runId: string, a: RankAnnounce, now: number): RankState {
      const s = rankOf(slot(runId, a.worldSize), a.rank, now);
      if (a.pid !== null && a.pid !== s.pid) {
        s.pid = a.pid;
        s.process = null;
        s.exited = false;
      }
      if (a.node !== null) s.node = a.node;
      s.seenAt = now;
      return s;
    },
    /** Rank 0's forward: one interval per rank of the job. */
    addSummaries(runId: string, worldSize: number, summaries: readonly RankSummary[], now: number): void {
      const r = slot(runId, worldSize);
      for (const m of summaries) {
        const s = rankOf(r, m.rank, now);
        if (m.node !== null) s.node = m.node;
        if (m.lastStep !== null) s.lastStep = Math.max(s.lastStep ?? m.lastStep, m.lastStep);
        s.nodeVerdict = m.nodeVerdict ?? s.nodeVerdict;
        s.seenAt = now;
        if (m.steps > 0) {
          s.intervals.push({ steps: m.steps, durationS: m.durationS, dataWaitS: m.dataWaitS, samples: m.samples });
          if (s.intervals.length > RANK_INTERVALS) s.intervals.shift();
        }
      }
    },
    /** Records a process-tree reading when its pid is one of the run's announced ranks; true if so. */
    processReading(runId: string, p: ProcessTreeReading): boolean {
      const r = runs.get(runId);
      if (!r) return false;
      let hit = false;
      for (const s of r.ranks.values()) {
        if (s.pid === p.pid) {
          s.process = p;
          if (!p.alive) s.exited = true;
          hit = true;
        }
      }
      return hit;
    },
    /** (run, pid) of every announced rank that still runs: the sampler watches them. */
    pids(): Array<{ runId: string; pid: number }> {
      const out: Array<{ runId: string; pid: number }> = [];
      for (const [runId, r] of runs) for (const s of r.ranks.values()) if (s.pid !== null && !s.exited) out.push({ runId, pid: s.pid });
      return out;
    },
    /** True when the pid is a rank of the run (its exit ends the rank, not the run). */
    isRankPid(runId: string, pid: number): boolean {
      const r = runs.get(runId);
      if (!r) return false;
      for (const s of r.ranks.values()) if (s.pid === pid) return true;
      return false;
    },
    /**
     * A node's copy: this sidecar hears from some of the run's ranks but not from rank 0, whose
     * sidecar decides for the job. Unknown until a rank announces itself.
     */
    isNodeCopy(runId: string): boolean {
      const r = runs.get(runId);
      return !!r && r.ranks.size > 0 && !r.ranks.has(0); // rank 0 shows up by announcing itself or in its forward
    },
    worldSize: (runId: string): number | null => runs.get(runId)?.worldSize ?? null,
    ranks(runId: string): RankState[] {
      const r = runs.get(runId);
      return r ? [...r.ranks.values()].sort((a, b) => a.rank - b.rank) : [];
    },
    forget(runId: string): void {
      runs.delete(runId);
    },
  };
}

export type RankBoard = ReturnType<typeof createRankBoard>;

/** A rank's figures from this sidecar's own step reports (a node's copy gets no forwarded summaries). */
function localInterval(steps: readonly StepPoint[], rank: number): { interval: RankInterval; lastStep: number | null } {
  const mine = steps.filter((s) => s.rank === rank).slice(-LOCAL_STEPS);
  return {
    interval: {
      steps: mine.length,
      durationS: mine.reduce((a, s) => a + s.durationS, 0),
      dataWaitS: mine.reduce((a, s) => a + s.dataWaitS, 0),
      samples: mine.reduce((a, s) => a + s.samples, 0),
    },
    lastStep: mine.at(-1)?.step ?? null,
  };
}

/** Every rank this sidecar knows of: forwarded summaries where it has them, else its own step reports. */
export function rankData(board: RankBoard, runId: string, recent: readonly StepPoint[]): RankData[] {
  const out: RankData[] = [];
  for (const s of board.ranks(runId)) {
    if (s.intervals.length > 0) {
      out.push({ rank: s.rank, node: s.node, intervals: s.intervals, lastStep: s.lastStep, nodeVerdict: s.nodeVerdict });
    } else {
      const l = localInterval(recent, s.rank);
      out.push({ rank: s.rank, node: s.node, intervals: l.interval.steps > 0 ? [l.interval] : [], lastStep: l.lastStep, nodeVerdict: s.nodeVerdict });
    }
  }
  return out;
}

export interface RankViews { figures: Array<RankFigures & { pid: number | null; process: ProcessTreeReading | null; seenAt: number }>; stragglers: Stragglers | null }

export function rankViews(board: RankBoard, runId: string, recent: readonly StepPoint[]): RankViews {
  const data = rankData(board, runId, recent);
  const states = new Map(board.ranks(runId).map((s) => [s.rank, s]));
  return {
    figures: data.map((d) => {
      const s = states.get(d.rank)!;
      return { ...rankFigures(d), pid: s.pid, process: s.process, seenAt: s.seenAt };
    }),
    stragglers: stragglersOf(board, runId, data),
  };
}

/**
 * The job's stragglers, from forwarded summaries only: a node's own ranks are not the whole job.
 * Null for a node's copy, and for a run without ranks (the tuner's every tick asks).
 */
export function stragglersOf(board: RankBoard, runId: string, data?: RankData[]): Stragglers | null {
  if (board.isNodeCopy(runId)) return null;
  const forwarded = board.ranks(runId).filter((s) => s.intervals.length > 0).map((s) => s.rank);
  if (forwarded.length === 0) return null;
  return findStragglers((data ?? rankData(board, runId, [])).filter((d) => forwarded.includes(d.rank)));
}

/** The tuner's status with the job's stragglers in its evidence and their advice (DESIGN §4). */
export function withStragglers<T extends { evidence: Record<string, unknown>; advice: Advice[] }>(status: T, s: Stragglers | null): T {
  if (!s) return status;
  return { ...status, evidence: { ...status.evidence, ...s.evidence }, advice: [...status.advice.filter((a) => a.code !== s.advice.code), s.advice] };
}

/**
 * A node's copy learns each config version from its ranks' config_applied events (they carry the
 * config), under the number rank 0's sidecar gave it; true when it stored one.
 */
export function mirrorApplied(store: Store, board: RankBoard, runId: string, e: NewEvent): boolean {
  const d = e.data;
  const version = d.version;
  if (e.kind !== 'config_applied' || typeof version !== 'number' || !Number.isInteger(version) || !board.isNodeCopy(runId)) return false;
  const run = store.findRun(runId);
  if (!run || version <= run.configVersion) return false;
  const num = (k: string) => (typeof d[k] === 'number' && Number.isFinite(d[k]) ? (d[k] as number) : null);
  const [bs, lr, w, acc] = [num('batch_size'), num('learning_rate'), num('num_workers'), num('grad_accum_steps')];
  if (bs === null || lr === null || w === null || !Number.isInteger(bs) || bs < 1 || !(lr > 0) || !Number.isInteger(w) || w < 0) return false;
  store.mirrorConfig(runId, version, { batch_size: bs, learning_rate: lr, num_workers: w, grad_accum_steps: acc !== null && Number.isInteger(acc) && acc >= 1 ? acc : 1 },
    `version ${version} of rank 0's sidecar, applied by rank ${typeof d.rank === 'number' ? d.rank : '?'}`);
  return true;
}

/**
 * The run's own tree with the GPU memory its node's other ranks hold added (their trees apart from
 * it, as when torchrun starts them), so the run's GPUs are every local rank's. CPU, memory and
 * workers stay the run's own tree's: they are per rank, as the config's num_workers is.
 */
export function withRanksGpus(main: ProcessTreeReading, all: readonly ProcessTreeReading[]): ProcessTreeReading {
  const inMain = new Set([main.pid, ...main.children.map((c) => c.pid)]);
  const others = all.filter((p) => p.runId === main.runId && !inMain.has(p.pid) && p.alive);
  if (others.length === 0) return main;
  const gpu: Record<string, number> = { ...main.gpuMemoryBytes };
  for (const p of others) for (const [g, b] of Object.entries(p.gpuMemoryBytes)) gpu[g] = (gpu[g] ?? 0) + b;
  return { ...main, gpuMemoryBytes: gpu };
}
