// `trainpilot report RUN`: one run with its config history, decisions, advice and throughput,
// as markdown (default), json or a self-contained html page; to stdout or --out FILE.
import { writeFileSync } from 'node:fs';
import { createApiClient, resolveRun } from './api-client.js';
import { commandHelp, openCommand, type CommandSpec } from './command.js';
import { gatherReport } from './report-data.js';
import { reportHtml } from './report-html.js';
import { reportMarkdown } from './report-markdown.js';

const SPEC: CommandSpec = {
  name: 'report',
  usage: `Usage: trainpilot report RUN [flags]

A report of one run (its id, or its name for the newest run of that name): config history,
decisions with their reasons, evidence, before/after configs and outcomes, advice, and
samples/s of the starting config before any change against the final config's (the first and
the last quarter of its steps when the config never changed).`,
  flags: [
    { name: 'format', default: 'markdown', help: 'markdown, json or html' },
    { name: 'out', default: null, help: 'write the report to this file instead of stdout' },
  ],
  positional: { one: 'RUN', missing: 'which run? give its id or name' },
  client: true,
};

export const REPORT_HELP = commandHelp(SPEC);

const FORMATS = ['markdown', 'json', 'html'] as const;

export async function report(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = openCommand(SPEC, argv, env);
  if (!parsed) return 0;
  const format = parsed.values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) parsed.errors.push(`--format: ${JSON.stringify(format)} is not one of ${FORMATS.join(', ')}`);
  parsed.done();

  const client = createApiClient({ url: parsed.url, token: parsed.token });
  const r = await gatherReport(client, await resolveRun(client, parsed.positional[0]));
  const text = format === 'json' ? `${JSON.stringify(r, null, 2)}\n` : format === 'html' ? reportHtml(r) : reportMarkdown(r);
  if (parsed.values.out) {
    writeFileSync(parsed.values.out, text);
    process.stderr.write(`trainpilot report: wrote ${parsed.values.out}\n`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
