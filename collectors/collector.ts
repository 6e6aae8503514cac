// The one small interface every collector implements (after node_exporter's
// collector.go `Update(ch) error`): a name, and one read of its source.
// A collector throws when it cannot read; the sampler catches that, marks the
// collector down with the message as its reason, and goes on with the others.
import type { CollectorName } from './readings.js';

export interface Collector<T> {
  readonly name: CollectorName;
  /** One reading. `signal` aborts when the sampler stops waiting (timeout or stop). */
  collect(signal: AbortSignal): Promise<T>;
  /** Release what the collector holds (child processes, timers). */
  close?(): Promise<void>;
}

/** What collectors log through; pino (Fastify's logger) and console both fit. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };

/** An error's message, whatever was thrown. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
