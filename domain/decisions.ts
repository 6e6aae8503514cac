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
