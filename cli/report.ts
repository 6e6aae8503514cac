// `trainpilot report RUN`: one run with its config history, decisions, advice and throughput,
// as markdown (default), json or a self-contained html page; to stdout or --out FILE.
import { writeFileSync } from 'node:fs';
import { checkUrl, CLIENT_FLAGS, clientFailure, createApiClient, resolveRun, resolveToken } from './api-client.js';
import { flagsHelp, parseFlags, type FlagSpec } from './flags.js';
import { gatherReport } from './report-data.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-markdown.js';
import { UsageError } from './usage-error.js';

const FLAGS: FlagSpec[] = [
  ...CLIENT_FLAGS,
  { name: 'format', default: 'markdown', help: 'markdown, json or html' },
  { name: 'out', default: null, help: 'write the report to this file instead of stdout' },
  { name: 'help', default: null, help: 'show this help', boolean: true },
];

export const REPORT_HELP = `Usage: trainpilot report RUN [flags]

A report of one run (its id, or its name for the newest run of that name): config history,
decisions with their reasons, evidence, before/after configs and outcomes, advice, and
samples/s over the first and the last quarter of its steps.

${flagsHelp(FLAGS)}
`;

const FORMATS = ['markdown', 'json', 'html'] as const;

export async function report(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseFlags(argv, FLAGS, env);
  if (parsed.values.help) {
    process.stdout.write(REPORT_HELP);
    return 0;
  }
  const errors = [...parsed.errors];
  if (parsed.positional.length !== 1) errors.push(parsed.positional.length ? `expected one RUN, got ${parsed.positional.length}` : 'which run? give its id or name');
  const format = parsed.values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) errors.push(`--format: ${JSON.stringify(format)} is not one of ${FORMATS.join(', ')}`);
  const url = parsed.values.url ?? '';
  checkUrl(url, errors);
  const token = resolveToken(parsed.values, env, errors);
  if (errors.length) throw new UsageError(errors, 'report');

  const client = createApiClient({ url, token });
  let text: string;
  try {
    const id = await resolveRun(client, parsed.positional[0]);
    const r = await gatherReport(client, id);
    text = format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : format === 'html' ? reportHtml(r) : reportMarkdown(r);
  } catch (err) {
    return clientFailure('report', err);
  }
  if (parsed.values.out) {
    writeFileSync(parsed.values.out, text);
    process.stderr.write(`trainpilot report: wrote ${parsed.values.out}\n`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
