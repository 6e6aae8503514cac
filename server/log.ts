// The sidecar's log: one logger (Fastify's pino) for requests, start-up, shutdown, warnings and
// decisions, written in one format. pino writes JSON lines to the stream made here; `json` passes
// them on as they are (one object a line, for a log collector), `human` rewrites each as one line
// a person reads ("trainpilot: serving on …", "trainpilot: warning: …"). Levels: info holds
// start-up, shutdown and decisions; warn and error what went wrong; debug every HTTP request.
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { fmtChange, fmtNum, fmtSeconds, tidyNumbers } from '../tuner/format.js';
import type { DecisionRecord } from '../domain/decisions.js';

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino's numeric levels (pino/lib/constants.js). */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
const DEBUG = 20;
const INFO = 30;
const WARN = 40;

/** Fields pino adds that a human line leaves out (the message and level are the line itself). */
const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'err']);

export interface LogSink {
  write(text: string): void;
}

/** The line a person reads for one pino record. */
export function humanLine(rec: Record<string, unknown>): string {
  const level = typeof rec.level === 'number' ? rec.level : INFO;
  const prefix = level === INFO ? '' : `${LEVEL_NAMES[level] ?? 'log'}: `;
  // Info and debug messages say it all (their fields are for the JSON format); a warning's or an
  // error's fields carry what went wrong (a store error's code).
  const msg = String(rec.msg ?? '');
  const extra = level < WARN ? [] : Object.entries(rec)
    .filter(([k, v]) => !PINO_FIELDS.has(k) && v !== undefined && v !== null && !msg.includes(String(v)))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const err = rec.err as { message?: string; stack?: string } | undefined;
  const why = err ? `: ${err.stack ?? err.message ?? ''}` : '';
  return `trainpilot: ${prefix}${msg}${why}${extra.length ? ` (${extra.join(', ')})` : ''}\n`;
}

/**
 * The stream pino writes to. Fastify announces its listening address at info ("Server listening
 * at …"); the sidecar's own start-up line says that and more, so Fastify's is kept for debug.
 */
export function logStream(format: LogFormat, level: LogLevel, out: LogSink = process.stderr): LogSink {
  return {
    write(line: string) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line); // not pino's: pass it on untouched
        return;
      }
      if (typeof rec.msg === 'string' && rec.msg.startsWith('Server listening at ')) {
        if (level !== 'debug') return;
        rec.level = DEBUG;
      }
      out.write(format === 'json' ? (line.endsWith('\n') ? line : `${line}\n`) : humanLine(rec));
    },
  };
}

/** Fastify's `logger` option for a level and a format (false: no logging at all). */
export function loggerOptions(level: LogLevel, format: LogFormat, out?: LogSink): false | { level: string; stream: LogSink } {
  return level === 'silent' ? false : { level, stream: logStream(format, level, out) };
}

/** A decision as the info line says it: "run train.py: decision #3: num_workers increase 0 → 2 — reason". */
export function decisionMessage(runName: string, d: DecisionRecord): string {
  const what = d.knob === 'none'
    ? `advice: ${d.advice.map((a) => a.title).join('; ')}`
    : `${d.recommendOnly ? 'recommends ' : ''}${fmtChange({ knob: d.knob, action: d.action, before: d.configBefore[d.knob], after: d.configAfter[d.knob] })}`;
  return `run ${runName}: decision #${d.id}: ${what} — ${tidyNumbers(d.reason)}`;
}

/**
 * A line the sidecar always says, whatever the level (but silent): where it serves, that it shuts
 * down. Same format as the log; scripts find the address in it (bench/lib/sidecar-process.ts).
 */
export function announcer(format: LogFormat, level: LogLevel, out: LogSink = process.stderr): (msg: string) => void {
  if (level === 'silent') return () => {};
  return (msg) => out.write(format === 'json'
    ? `${JSON.stringify({ level: INFO, time: Date.now(), pid: process.pid, msg })}\n`
    : humanLine({ level: INFO, msg }));
}

/**
 * Fastify's request lines, one per request at debug instead of two at info: a job posting steps
 * twice a second would otherwise fill the info log. A 404 and a 4xx the default handler answers
 * are the client's business, so debug too; server errors stay errors.
 */
const DEBUG_LEVELS = new Set(['debug', 'trace']);

/**
 * Fastify's childLoggerFactory: a request logs through the app's logger itself, not a pino child
 * made for it (an object and its bindings per request, ~640 a second under bench/load, for lines
 * that are written at debug only). A route with its own level or serializers still gets a child.
 * What is lost is `reqId` on a request's lines; the human format left it out already, and the
 * lines name the method and URL.
 */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Record<string, unknown>, opts: { level?: string; serializers?: unknown }): FastifyBaseLogger {
  return opts.level || opts.serializers ? logger.child(bindings, opts as Parameters<FastifyBaseLogger['child']>[1]) : logger;
}

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    // Nothing is built for a line that is not written: this runs for every request (bench/load:
    // ~640 a second), and debug is off unless asked for.
    if (!error && !DEBUG_LEVELS.has(reply.log.level)) return;
    const fields = { method: req.method, url: req.url, status_code: reply.statusCode, duration_ms: Math.round(reply.elapsedTime * 100) / 100 };
    const text = `${req.method} ${req.url} ${reply.statusCode} ${fmtSeconds(reply.elapsedTime / 1000)}`;
    if (error) reply.log.error({ ...fields, err: error }, `request errored: ${text}`);
    else reply.log.debug(fields, text);
  }

  override routeNotFound(req: FastifyRequest): void {
    req.log.debug(`no route for ${req.method} ${req.url}`);
  }

  override defaultErrorLog(error: Error, req: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) reply.log.error({ err: error }, error?.message);
    else reply.log.debug({ status_code: reply.statusCode }, error?.message);
  }
}
