// What every command opens with: its flags (with --help) parsed, --help answered, the positional
// arguments checked; for the client commands also --url checked and the token resolved. Problems
// are collected, not thrown one by one: `done()` throws them together as one UsageError, which
// main turns into messages and exit code 2.
import { checkUrl, CLIENT_FLAGS } from './api-client.js';
import { flagsHelp, parseFlags, type FlagSpec, type Parsed } from './flags.js';
import { resolveToken } from './token.js';
import { UsageError } from './usage-error.js';

export const HELP_FLAG: FlagSpec = { name: 'help', default: null, help: 'show this help', boolean: true };

export interface CommandSpec {
  name: string;
  /** The usage text before the flags table. */
  usage: string;
  flags: FlagSpec[];
  /** Positional arguments: none, exactly one (named, e.g. RUN or FILE), or whatever the command checks itself. */
  positional: 'none' | { one: string; missing: string } | 'any';
  /** Adds --url and --token-file and resolves them. */
  client?: boolean;
}

export interface Opened extends Parsed {
  /** Problems found so far; the command may add its own before calling done(). */
  errors: string[];
  /** The sidecar's address and token (client commands only; '' and null otherwise). */
  url: string;
  token: string | null;
  /** Throws every problem found as one UsageError; returns nothing when there is none. */
  done(): void;
}

export function commandFlags(spec: CommandSpec): FlagSpec[] {
  return [...(spec.client ? CLIENT_FLAGS : []), ...spec.flags, HELP_FLAG];
}

export function commandHelp(spec: CommandSpec): string {
  return `${spec.usage.trimEnd()}\n\n${flagsHelp(commandFlags(spec))}\n`;
}

/** Parses argv for the command; null when --help was asked for (and printed). */
export function openCommand(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv): Opened | null {
  const parsed = parseFlags(argv, commandFlags(spec), env);
  if (parsed.values.help) {
    process.stdout.write(commandHelp(spec));
    return null;
  }
  const errors = [...parsed.errors];
  const pos = parsed.positional;
  if (spec.positional === 'none' && pos.length) errors.push(`unexpected argument ${JSON.stringify(pos[0])}`);
  if (typeof spec.positional === 'object' && pos.length !== 1) {
    errors.push(pos.length ? `expected one ${spec.positional.one}, got ${pos.length}` : spec.positional.missing);
  }
  let url = '';
  let token: string | null = null;
  if (spec.client) {
    url = parsed.values.url ?? '';
    checkUrl(url, errors);
    token = resolveToken(parsed.values, env, errors);
  }
  return {
    ...parsed, errors, url, token,
    done() {
      if (errors.length) throw new UsageError(errors, spec.name);
    },
  };
}
