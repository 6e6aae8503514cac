#!/bin/sh
':' //; case "$(node -p 'process.versions.v8.split(".")[0]')" in 1[01]) tier=--interrupt-budget=4194304 ;; *) tier=--invocation-count-for-turbofan=96000 ;; esac; exec node --max-semi-space-size=2 "$tier" "$0" "$@"
// The line above is shell, and a no-op string plus a comment to JavaScript: run as a program,
// /bin/sh picks the V8 flags this Node knows and replaces itself with node (exec: no process
// stays behind). Run as `node bin/trainpilot.js`, the same tier-up is set below at run time,
// which measures ~3 MB worse than on the command line (Node's own code is loaded by then).
//
// Thin launcher: the CLI is compiled TypeScript, bundled into dist/app/ (built by `npm ci` via
// `prepare`; scripts/bundle.mjs says why it is bundled).
//
// V8 settings for a process that idles beside a training job (budget, DESIGN §7: 80 MB resident):
// --max-semi-space-size=2: V8 sizes the young generation for the host's RAM (16 MB semi-spaces
//   on 24 GB); 2 MB keeps the sidecar ~22 MB smaller for more frequent, shorter scavenges
//   (1 MB gained nothing measurable at the peak and pushed the /metrics p99 towards 5 ms).
// A later TurboFan tier-up, ~32× V8's default: start-up code (module bodies, Ajv compiling
//   every route's schemas, the first nvidia-smi XML) runs once and is no longer optimized,
//   which took ~6 MB of compiler memory that malloc kept; ingest and /metrics renders still
//   are, after a few hundred requests. V8 renamed the setting in 12 (Node 22), and Node
//   refuses a V8 flag it does not know, hence the choice above.
import { setFlagsFromString } from 'node:v8';

const v8Major = Number(process.versions.v8.split('.')[0]);
setFlagsFromString(v8Major >= 12 ? '--invocation-count-for-turbofan=96000' : '--interrupt-budget=4194304');
const { main } = await import('../dist/app/main.js');

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
