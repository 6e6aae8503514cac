// `trainpilot dashboards --out DIR`: write the Grafana dashboards and provisioning files.
import { writeDashboards } from '../dashboards/index.js';
import { flagsHelp, parseFlags, type FlagSpec } from './flags.js';
import { UsageError } from './usage-error.js';

const FLAGS: FlagSpec[] = [
  { name: 'out', default: null, help: 'directory to write into (created if missing)' },
  { name: 'help', default: null, help: 'show this help', boolean: true },
];

export async function dashboards(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS, {});
  if (p.values.help) {
    process.stdout.write(`Usage: trainpilot dashboards --out DIR\n\nWrites the Grafana dashboards (JSON) and provisioning files.\n\n${flagsHelp(FLAGS)}\n`);
    return 0;
  }
  if (!p.values.out) p.errors.push('--out DIR is required');
  if (p.errors.length) throw new UsageError(p.errors, 'dashboards');
  const files = await writeDashboards(p.values.out!);
  for (const f of files) process.stdout.write(`${f}\n`);
  return 0;
}
