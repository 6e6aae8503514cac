// A tuner's decision, as it leaves the tuner and as the store keeps it with its outcome.
import type { Knob, RunConfig } from './config.js';
import type { MeasuredPoint } from './measured.js';

export const DECISION_ACTIONS = ['increase', 'decrease', 'rollback', 'set', 'advise'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

/** Why a change was undone: it did not pay (or cost) in samples/s, or the loss turned non-finite or jumped. */
export type RollbackCause = 'throughput' | 'loss';

export type DecisionOutcome =
  | { status: 'pending' }
  | { status: 'kept'; gainRatio: number; note?: string; after?: MeasuredPoint }
  | { status: 'rolled_back'; gainRatio: number; note: string; after?: MeasuredPoint; cause?: RollbackCause }
  | { status: 'superseded'; note?: string };

/**
 * How a move was chosen (tuner/search.ts, search-measured.ts, loader-knobs.ts): from the model's
 * prediction, as a trial the model could not predict, a stepping stone to a two-move path, a
 * golden-section bracket or bisection probe between measured sizes, a descent below the user's
 * size, a return to the best measured configuration, or one of the loader's other knobs.
 */
export const SEARCH_KINDS = ['predicted', 'trial', 'stepping_stone', 'bracket', 'bisect', 'return', 'descent', 'loader_knob'] as const;
export type DecisionSearchKind = (typeof SEARCH_KINDS)[number];

/** Why a move was made, typed: what the judge, the search and the model's record read back of it. */
export interface DecisionBasis {
  /** The verdict the decision answered (tuner/classify.ts); null where none was recorded. */
  bottleneck: string | null;
  /** How the search chose the move; null for moves outside it (safety moves, rollbacks, advice). */
  search: DecisionSearchKind | null;
  /** A safety move (OOM back-off, memory pressure, freeing host memory): kept without a gain to show. */
  safety: boolean;
  /** The gain the tuner predicted (relative, in its objective); null when it could not say. */
  predictedGain: number | null;
  /** The gradient noise scale the move was weighed with: the judge scores it by goodput too. */
  bNoise: number | null;
  /** When the search last saw the job change (unix seconds), so later passes treat older points as stale. */
  jobChangedAt: number | null;
}

/** A decision as the tuner returns it; the store adds id, ts, run and version. */
export interface Decision {
  knob: Knob | 'none';
  action: DecisionAction;
  reason: string;
  /** The figures behind the decision for people and the API; the measured ones are rendered from `before` and `rejected`. */
  evidence: Record<string, number | string | boolean | null>;
  /** The configuration's measured figures before the change (absent when it was not measured yet). */
  before?: MeasuredPoint;
  /** A rollback only: the trial it undoes, as measured. */
  rejected?: MeasuredPoint;
  /** How the move was chosen (absent on rollbacks). */
  basis?: DecisionBasis;
  configBefore: RunConfig;
  configAfter: RunConfig;
  advice: Advice[];
  /** When true the store does not create a config version (advise mode, or advice-only). */
  recommendOnly: boolean;
}

export interface Advice {
  code: string; // e.g. 'mixed_precision', 'gradient_checkpointing', 'faster_storage'
  title: string;
  why: string;
}

/** A stored decision: what the tuner returned plus bookkeeping. */
export interface DecisionRecord extends Decision {
  id: number;
  ts: number;
  step: number | null;
  configVersion: number | null; // the version it created, null for recommendations
  outcome: DecisionOutcome;
}
