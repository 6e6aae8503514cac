// A knob's bound as the user set it, with the floors every knob has whatever the user says:
// one definition for the guardrails, the knob table, the back-off policies and the simulator.
import type { Knob, TuneSettings } from './config.js';

/** The batch size a run may never reach without a user bound: far beyond any device. */
export const DEFAULT_MAX_BATCH = 65536;

/** Floors and ceilings that hold without a user bound (workers: no ceiling of their own). */
const FLOOR: Record<Knob, number> = { batch_size: 1, learning_rate: 0, num_workers: 0, prefetch_factor: 1, persistent_workers: 0, pin_memory: 0 };
/** prefetch_factor: pytorch#97432 saw 8 with pin_memory take ~90 % of a host; the tuner goes no further. */
const CEILING: Record<Knob, number> = { batch_size: DEFAULT_MAX_BATCH, learning_rate: Infinity, num_workers: Infinity, prefetch_factor: 8, persistent_workers: 1, pin_memory: 1 };

/**
 * The user's bound on a knob clamped to its floor; `max` is the user's, or the knob's own
 * ceiling (Infinity for workers: the tuner's CPU budget sets their default ceiling).
 */
export function userBound(tune: TuneSettings, knob: Knob): { min: number; max: number; userMax: boolean } {
  const b = tune.bounds[knob];
  return { min: Math.max(FLOOR[knob], b?.min ?? FLOOR[knob]), max: b?.max ?? CEILING[knob], userMax: b?.max !== undefined };
}
