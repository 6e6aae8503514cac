// Stragglers of a data-parallel job (DESIGN §9): ranks whose data wait or step time holds the
// others back beyond noise, the node they run on, and what makes them slow where the evidence
// shows it. Pure over per-rank summaries; rank 0's sidecar gets them through the job's own
// torch.distributed collective (clients/python/trainpilot/distributed.py).
import type { BottleneckKind } from './classify.js';
import { fmtPercent, fmtSeconds } from './format.js';
import { median, robustSigma } from './stats.js';
import { jobStepRate } from './throughput.js';
import type { Advice } from '../domain/decisions.js';

/** One rank's figures over one exchange interval: sums over the steps it ran in it. */
export interface RankInterval {
  steps: number;
  durationS: number;
  dataWaitS: number;
  samples: number;
}

export interface RankData {
  rank: number;
  /** The node it runs on (the client's TRAINPILOT_NODE, else its host name). */
  node: string | null;
  /** Recent intervals, oldest first. */
  intervals: readonly RankInterval[];
  lastStep: number | null;
  /** What the rank's own node's sidecar classifies its local ranks as, when known. */
  nodeVerdict: BottleneckKind | null;
}

/** The run view's `ranks` entry (DESIGN §4), in base units. */
export interface RankFigures {
  rank: number;
  node: string | null;
  samplesPerSecond: number | null;
  stepSeconds: number | null;
  dataWaitRatio: number | null;
  lastStep: number | null;
}

export const STRAGGLER_CAUSES = ['data_loading', 'gpu_throttled', 'host_saturated', 'compute'] as const;
export type StragglerCause = (typeof STRAGGLER_CAUSES)[number];

export interface Stragglers {
  ranks: number[];
  nodes: string[];
  cause: StragglerCause;
  /** Flat, for the bottleneck evidence (the keys start with `straggler`, `others`). */
  evidence: Record<string, unknown>;
  advice: Advice;
}

/** A rank is compared once it has this many intervals and steps (fewer: too noisy to name). */
export const MIN_INTERVALS = 2;
export const MIN_STEPS = 20;
/**
 * A gap under 5 % of the step is not worth naming: the PyTorch profiler's threshold for data wait
 * (tuner/classify.ts DATA_WAIT_RATIO), applied to the difference between ranks.
 */
export const MIN_GAP_RATIO = 0.05;
/** And it must stand this many robust sigmas of the ranks' own interval-to-interval noise above the baseline. */
export const NOISE_SIGMAS = 3;

const sum = (xs: readonly RankInterval[], f: (i: RankInterval) => number) => xs.reduce((a, i) => a + f(i), 0);

export function rankFigures(r: RankData): RankFigures {
  const steps = sum(r.intervals, (i) => i.steps);
  const dur = sum(r.intervals, (i) => i.durationS);
  const wait = sum(r.intervals, (i) => i.dataWaitS);
  return {
    rank: r.rank,
    node: r.node,
    // The rank's own samples over its step time (jobStepRate of one rank: world size 1).
    samplesPerSecond: jobStepRate(r.intervals.map((i) => ({ durationS: i.durationS, samples: i.samples, worldSize: 1 }))).samplesPerSecond,
    stepSeconds: steps > 0 ? dur / steps : null,
    dataWaitRatio: dur > 0 ? wait / dur : null,
    lastStep: r.lastStep,
  };
}

interface Measured { r: RankData; wait: number; step: number; waitNoise: number; stepNoise: number }

function measured(r: RankData): Measured | null {
  const iv = r.intervals.filter((i) => i.steps > 0);
  const steps = sum(iv, (i) => i.steps);
  if (iv.length < MIN_INTERVALS || steps < MIN_STEPS) return null;
  return {
    r,
    wait: sum(iv, (i) => i.dataWaitS) / steps,
    step: sum(iv, (i) => i.durationS) / steps,
    waitNoise: robustSigma(iv.map((i) => i.dataWaitS / i.steps)),
    stepNoise: robustSigma(iv.map((i) => i.durationS / i.steps)),
  };
}

/** Ranks above the faster half's median by more than the gap and the noise allow; at most half of them. */
function above(ms: Measured[], value: (m: Measured) => number, noise: (m: Measured) => number, floor: number): { slow: Measured[]; baseline: number } {
  const values = ms.map(value).sort((a, b) => a - b);
  const baseline = median(values.slice(0, Math.ceil(values.length / 2)));
  const threshold = Math.max(floor, NOISE_SIGMAS * median(ms.map(noise)));
  const slow = ms.filter((m) => value(m) - baseline > threshold);
  return { slow: slow.length * 2 <= ms.length ? slow : [], baseline };
}

function causeOf(byWait: boolean, verdicts: Array<BottleneckKind | null>): StragglerCause {
  if (byWait) return 'data_loading';
  if (verdicts.includes('gpu_throttled')) return 'gpu_throttled';
  if (verdicts.includes('cpu_saturated') || verdicts.includes('host_memory_pressure')) return 'host_saturated';
  return 'compute';
}

const list = (xs: readonly (string | number)[]) => xs.join(', ');

function adviceFor(cause: StragglerCause, who: string, nodes: string, one: boolean): Advice {
  const [wait, run] = one ? ['waits', 'runs'] : ['wait', 'run'];
  // One config applies to every rank (the client switches them together), so a knob cannot move
  // for one node alone: the job is advised, and the node's own remedy named.
  const oneConfig = 'The job has one config for all its ranks, so trainpilot does not change it for one node: it advises.';
  switch (cause) {
    case 'data_loading':
      return { code: 'stragglers_data_loading', title: `Speed up data loading on ${nodes}`,
        why: `${who} ${wait} for data longer than the other ranks, and every step waits for ${one ? 'it' : 'them'}. ${oneConfig} Give ${nodes}'s loader what the other nodes have (more CPU for its workers, the data on local or faster storage, a cache), or raise num_workers for the whole job if ${nodes} has idle cores.` };
    case 'gpu_throttled':
      return { code: 'stragglers_gpu_throttled', title: `Check cooling and power limits on ${nodes}`,
        why: `${who} ${run} slower steps and ${nodes}'s sidecar sees its GPUs throttled. ${oneConfig}` };
    case 'host_saturated':
      return { code: 'stragglers_host_saturated', title: `Free up ${nodes}'s host`,
        why: `${who} ${run} slower steps and ${nodes}'s sidecar sees its host saturated (CPU or memory). Move other work off it. ${oneConfig}` };
    default:
      return { code: 'stragglers_compute', title: `Find out why ${nodes} computes slower`,
        why: `${who} ${run} slower steps with no more data wait than the others; slower or shared hardware, or uneven work per rank (sequence lengths), would do it. ${oneConfig}` };
  }
}

/** The job's stragglers, or null when no rank holds the others back beyond noise. */
export function findStragglers(ranks: readonly RankData[]): Stragglers | null {
  const ms = ranks.map(measured).filter((m): m is Measured => m !== null);
  if (ms.length < 2) return null;
  const stepBase = median(ms.map((m) => m.step));
  const floor = MIN_GAP_RATIO * stepBase;
  const byWait = above(ms, (m) => m.wait, (m) => m.waitNoise, floor);
  const byStep = above(ms, (m) => m.step, (m) => m.stepNoise, floor);
  const slowSet = new Set([...byWait.slow, ...byStep.slow]);
  if (slowSet.size === 0 || slowSet.size * 2 > ms.length) return null;
  const slow = [...slowSet].sort((a, b) => a.r.rank - b.r.rank);
  const others = ms.filter((m) => !slowSet.has(m));
  const nodes = [...new Set(slow.map((m) => m.r.node ?? 'an unnamed node'))];
  const verdicts = [...new Set(slow.map((m) => m.r.nodeVerdict))];
  const cause = causeOf(byWait.slow.length > 0, verdicts);
  const ratio = (g: Measured[], f: (m: Measured) => number) => {
    const d = g.reduce((a, m) => a + m.step, 0);
    return d > 0 ? g.reduce((a, m) => a + f(m), 0) / d : null;
  };
  const mean = (g: Measured[], f: (m: Measured) => number) => g.reduce((a, m) => a + f(m), 0) / g.length;
  const waitS = ratio(slow, (m) => m.wait);
  const waitO = ratio(others, (m) => m.wait);
  const who = `${slow.length === 1 ? 'Rank' : 'Ranks'} ${list(slow.map((m) => m.r.rank))} on ${list(nodes)}`;
  const verdictText = verdicts.filter((v) => v !== null).join(', ');
  const one = slow.length === 1;
  const why = cause === 'data_loading'
    ? `${who} ${one ? 'waits' : 'wait'} ${fmtPercent(waitS)} of each step for data, the other ranks ${fmtPercent(waitO)}`
    : `${who} ${one ? 'takes' : 'take'} ${fmtSeconds(mean(slow, (m) => m.step))} a step, the other ranks ${fmtSeconds(mean(others, (m) => m.step))}`;
  return {
    ranks: slow.map((m) => m.r.rank),
    nodes,
    cause,
    evidence: {
      stragglers: slow.map((m) => m.r.rank),
      straggler_nodes: nodes,
      straggler_cause: cause,
      straggler_why: verdictText ? `${why}; ${list(nodes)}'s sidecar sees ${verdictText}` : why,
      straggler_data_wait_ratio: waitS,
      others_data_wait_ratio: waitO,
      straggler_step_seconds: mean(slow, (m) => m.step),
      others_step_seconds: mean(others, (m) => m.step),
      straggler_node_verdict: verdictText || null,
      // One config for the job: the decision stays one (rank 0's sidecar), the straggler is advised.
      straggler_action: 'advise',
    },
    advice: adviceFor(cause, who, list(nodes), one),
  };
}
