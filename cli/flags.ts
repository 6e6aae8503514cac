// Flag parsing shared by every command: `--name value`, `--name=value`, booleans, and the
// environment equivalent TRAINPILOT_<NAME> (upper case, - → _). Parse into {values, errors}
// rather than throwing, so the CLI can report every problem at once.

export interface FlagSpec {
  name: string;
  default: string | null;
  help: string;
  boolean?: boolean;
}

export interface Parsed {
  values: Record<string, string | null>;
  positional: string[];
  errors: string[];
  /** Everything after a bare `--`. */
  rest: string[];
}

export const envName = (flag: string) => `TRAINPILOT_${flag.toUpperCase().replace(/-/g, '_')}`;

export function parseFlags(argv: string[], specs: FlagSpec[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: Record<string, string | null> = {};
  for (const s of specs) values[s.name] = env[envName(s.name)] ?? s.default;
  const out: Parsed = { values, positional: [], errors: [], rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('--')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) {
      out.errors.push(`unknown flag --${name}`);
      continue;
    }
    if (spec.boolean) {
      values[name] = eq === -1 ? 'true' : a.slice(eq + 1);
    } else if (eq !== -1) {
      values[name] = a.slice(eq + 1);
    } else if (i + 1 < argv.length) {
      values[name] = argv[++i];
    } else {
      out.errors.push(`--${name} needs a value`);
    }
  }
  return out;
}

/** "1s", "500ms", "5m", "12h", "7d" or plain seconds → seconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40,
};

/**
 * A size for people → whole bytes: "6GiB", "512MiB", "8GB", "1.5 TiB", "6Gi" (Kubernetes) or plain
 * bytes. A bare K/M/G/T is refused: Docker reads "6g" as GiB and Kubernetes "6G" as 10^9 bytes.
 */
export function parseSize(text: string): { bytes: number } | { error: string } {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(t);
  if (!m) return { error: `${JSON.stringify(text)} is not a size (e.g. 6GiB, 512MiB, 8GB, or bytes)` };
  const unit = m[2].toLowerCase();
  if (/^[kmgt]$/.test(unit)) {
    return { error: `${JSON.stringify(text)} is ambiguous: write ${m[1]}${m[2].toUpperCase()}B (10^${'kmgt'.indexOf(unit) * 3 + 3} bytes) or ${m[1]}${m[2].toUpperCase()}iB (2^${'kmgt'.indexOf(unit) * 10 + 10})` };
  }
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return { error: `${JSON.stringify(text)}: unknown unit ${JSON.stringify(m[2])} (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)` };
  const bytes = Math.round(Number(m[1]) * factor);
  if (!(bytes >= 2 ** 20)) return { error: `${JSON.stringify(text)} is under 1 MiB: too small for a job's host memory` };
  if (bytes > 2 ** 53) return { error: `${JSON.stringify(text)} is too large` };
  return { bytes };
}

export function flagsHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => [`--${s.name}${s.boolean ? '' : ' V'}`, envName(s.name), s.default ?? '', s.help]);
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `  ${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${(r[2] || '-').padEnd(w[2])}  ${r[3]}`).join('\n');
}
