// What a policy returns: one knob, one new config, the reason and the numbers behind it.
// decide.ts turns the chosen proposal into a Decision.
import type { Evidence } from './classify.js';
import type { Knob, RunConfig } from '../domain/config.js';
import type { DecisionSearchKind } from '../domain/decisions.js';

export interface Proposal {
  knob: Knob;
  action: 'increase' | 'decrease' | 'set';
  config: RunConfig;
  reason: string;
  evidence: Evidence;
  /** Model-predicted relative gain in the policy's objective, null when unknown (exploration). */
  predictedGain: number | null;
  /** Safety moves (OOM back-off, memory or RAM pressure) skip cooldown and gain checks. */
  safety?: boolean;
  /** How the search chose it (the decision's basis; also shown in the evidence as `search`). */
  search?: DecisionSearchKind;
  /** The gradient noise scale it was weighed with (goodput), rounded as the evidence shows it. */
  bNoise?: number | null;
  /** When the search saw the job last change (unix seconds). */
  jobChangedAt?: number | null;
}

/** What a policy concluded: maybe a proposal, and a note on why (not) for the status. */
export interface PolicyResult {
  proposal?: Proposal;
  note: string;
}
