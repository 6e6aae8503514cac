// Each epoch's start as the job reports it (issue 22): the hook and the client's loader send, with
// every `epoch_end`, the time from the loader's iterator being asked for to its first batch, the
// epoch's length, a batch's bytes and whether the loader is the object of the epoch before. The
// loader's knobs (loader-knobs.ts) weigh persistent workers by it and count prefetched batches in
// the host-memory budget. Pure: the window comes in.
import { median } from './stats.js';
import type { Window } from './window.js';

/** One epoch as the job reported it in its `epoch_end` event (clients/python: the hook and TunedLoader). */
export interface EpochStart {
  /** Iterator made → first batch handed out: the workers' start (or, when they persist, a refill). */
  startS: number;
  /** Iterator made → last batch handed out. */
  epochS: number;
  /** Bytes of the tensors of one batch, when the job could measure them. */
  batchBytes: number | null;
  /** The loader was the same object as the epoch before (not rebuilt at its line); null on its first epoch. */
  sameLoader: boolean | null;
}

/** The newest epochs of the version the job runs now, from their `epoch_end` events (a loader's first left out). */
export function epochStarts(w: Window): EpochStart[] {
  const out: EpochStart[] = [];
  for (const e of w.events) {
    if (e.kind !== 'epoch_end' || Number(e.data.config_version) !== w.appliedVersion) continue;
    const startS = Number(e.data.loader_start_s);
    const epochS = Number(e.data.epoch_s);
    if (!(startS >= 0) || !(epochS > 0) || startS > epochS) continue;
    const bb = Number(e.data.batch_bytes);
    // A loader's first epoch (no same_loader) starts cold and has nothing to compare with: left out.
    if (typeof e.data.same_loader !== 'boolean') continue;
    out.push({ startS, epochS, batchBytes: bb > 0 ? bb : null, sameLoader: e.data.same_loader });
  }
  return out.slice(-10);
}

/** The bytes of one batch (median of what the epochs reported), or null when not measurable. */
export function batchBytesOf(w: Window): number | null {
  const all: number[] = [];
  for (const e of w.events) {
    const b = e.kind === 'epoch_end' ? Number(e.data.batch_bytes) : NaN;
    if (b > 0) all.push(b);
  }
  return all.length > 0 ? median(all.slice(-10)) : null;
}
