// `trainpilot dashboards --out DIR`: write the Grafana dashboards and provisioning files.
import { writeDashboards } from '../dashboards/index.js';
import { openCommand, type CommandSpec } from './command.js';

const SPEC: CommandSpec = {
  name: 'dashboards',
  usage: 'Usage: trainpilot dashboards --out DIR\n\nWrites the Grafana dashboards (JSON) and provisioning files.',
  flags: [{ name: 'out', default: null, help: 'directory to write into (created if missing)' }],
  positional: 'none',
};

export async function dashboards(argv: string[]): Promise<number> {
  const p = openCommand(SPEC, argv, {});
  if (!p) return 0;
  if (!p.values.out) p.errors.push('--out DIR is required');
  p.done();
  const files = await writeDashboards(p.values.out!);
  for (const f of files) process.stdout.write(`${f}\n`);
  return 0;
}
