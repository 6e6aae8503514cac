// `npm run bench -- NAME…` runs the named benchmarks (all when none is named), each in its own
// process so one's memory and JIT state don't colour the next, under the V8 flags the sidecar
// runs under once started (cli/v8-settings.ts), so in-process figures are what a long-running
// `trainpilot serve` gets.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { steadyStateV8Flags } from '../cli/v8-settings.js';

const here = dirname(fileURLToPath(import.meta.url));
// The Python benchmarks, run by /usr/bin/python3 from the source tree: bench/client.py measures the
// client on the training thread (torch optional), bench/hook.py the zero-code hook (needs torch),
// bench/exchange.py the multi-node summaries in the job's collective (needs torch).
const PYTHON_BENCHES = ['client', 'exchange', 'hook'];
// footprint-stages.js is not a benchmark of its own: bench/footprint bundles and runs it.
const NOT_BENCHES = ['run.js', 'footprint-stages.js'];
const available = [...readdirSync(here).filter((f) => f.endsWith('.js') && !NOT_BENCHES.includes(f)).map((f) => f.slice(0, -3)), ...PYTHON_BENCHES].sort();
const pythonBench = (name: string) => join(here, '..', '..', 'bench', `${name}.py`);
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : available) {
  const file = join(here, `${name}.js`);
  const python = PYTHON_BENCHES.includes(name);
  if (!python && !existsSync(file)) continue;
  console.log(`\n=== bench/${name}`);
  const r = python
    ? spawnSync('/usr/bin/python3', [pythonBench(name)], { stdio: 'inherit' })
    : spawnSync(process.execPath, [...steadyStateV8Flags(), '--expose-gc', file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
