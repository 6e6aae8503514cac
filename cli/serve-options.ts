// `trainpilot serve` options: flags → a checked options object, or the list of what is wrong.
import { isIP } from 'node:net';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, type SidecarOptions } from '../server/sidecar.js';
import { parseDuration, type FlagSpec } from './flags.js';
import { resolveToken, TOKEN_FLAG } from './token.js';

export const SERVE_FLAGS: FlagSpec[] = [
  { name: 'host', default: '127.0.0.1', help: 'address to bind the API to; non-loopback needs a token' },
  { name: 'port', default: '9477', help: 'API port (0 = any free port)' },
  { name: 'db', default: './data/trainpilot.db', help: 'SQLite store file (directory created if missing)' },
  { name: 'interval', default: '1s', help: 'sampling and tuning interval' },
  { name: 'nvidia-smi', default: 'nvidia-smi', help: 'nvidia-smi executable (name on PATH or path)' },
  { name: 'gpu', default: 'auto', help: 'GPU collection: auto (if nvidia-smi answers at start), on, off' },
  TOKEN_FLAG,
  { name: 'retention', default: '7d', help: 'drop stored samples, steps and ended runs older than this' },
  { name: 'metrics-listen', default: null, help: 'HOST:PORT of a second listener serving only /metrics and /healthz' },
  { name: 'log', default: 'info', help: 'log level: silent, error, warn, info (start-up, shutdown, decisions), debug (every HTTP request too)' },
  { name: 'log-format', default: 'human', help: 'log format: human (one readable line each) or json (one JSON object a line, for a log collector)' },
];

/** What `serve` hands the sidecar: the core's own options type (server/ never imports cli/). */
export type ServeOptions = SidecarOptions;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

function parsePort(text: string, flag: string, errors: string[]): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) errors.push(`--${flag}: ${JSON.stringify(text)} is not a port (0–65535)`);
  return n;
}

export function toServeOptions(values: Record<string, string | null>, env: NodeJS.ProcessEnv): { options: ServeOptions; errors: string[] } {
  const errors: string[] = [];
  const v = (k: string) => values[k] ?? '';
  const interval = parseDuration(v('interval'));
  if (interval === null || interval < 0.1 || interval > 3600) errors.push(`--interval: ${JSON.stringify(v('interval'))} is not a duration between 100ms and 1h (e.g. 1s, 500ms)`);
  const retention = parseDuration(v('retention'));
  if (retention === null || retention < 60) errors.push(`--retention: ${JSON.stringify(v('retention'))} is not a duration of at least 1m (e.g. 7d, 12h)`);
  const gpu = v('gpu');
  if (gpu !== 'auto' && gpu !== 'on' && gpu !== 'off') errors.push(`--gpu: ${JSON.stringify(gpu)} is not one of auto, on, off`);
  const log = v('log');
  if (!(LOG_LEVELS as readonly string[]).includes(log)) errors.push(`--log: ${JSON.stringify(log)} is not one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = values['log-format'] ?? 'human';
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) errors.push(`--log-format: ${JSON.stringify(logFormat)} is not one of ${LOG_FORMATS.join(', ')}`);

  const token = resolveToken(values, env, errors);
  if (token !== null && token.length < 16) errors.push('the token is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)');

  const host = v('host');
  if (!isLoopback(host) && !token) {
    errors.push(`--host ${host} is not a loopback address: anyone who can reach it could change training runs, so a token is required (--token-file or TRAINPILOT_TOKEN)`);
  }

  let metricsListen: ServeOptions['metricsListen'] = null;
  if (values['metrics-listen']) {
    const m = /^(.*):(\d+)$/.exec(values['metrics-listen']);
    if (!m) errors.push(`--metrics-listen: ${JSON.stringify(values['metrics-listen'])} is not HOST:PORT`);
    else metricsListen = { host: m[1].replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: parsePort(m[2], 'metrics-listen', errors) };
  }

  return {
    options: {
      host,
      port: parsePort(v('port'), 'port', errors),
      db: v('db'),
      intervalS: interval ?? 1,
      nvidiaSmi: v('nvidia-smi'),
      gpu: gpu as ServeOptions['gpu'],
      token,
      retentionS: retention ?? 7 * 86400,
      metricsListen,
      log: log as LogLevel,
      logFormat: logFormat as LogFormat,
    },
    errors,
  };
}
