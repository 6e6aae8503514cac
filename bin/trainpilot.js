#!/usr/bin/env -S node --max-semi-space-size=2 --interrupt-budget=4194304
// Thin launcher: the CLI is compiled TypeScript, bundled into dist/app/ (built by `npm ci` via
// `prepare`; scripts/bundle.mjs says why it is bundled).
//
// V8 flags for a process that idles beside a training job (budget, DESIGN §7: 80 MB resident):
// --max-semi-space-size=2: V8 sizes the young generation for the host's RAM (16 MB semi-spaces
//   on 24 GB); 2 MB keeps the sidecar ~22 MB smaller for more frequent, shorter scavenges
//   (1 MB saves 2 MB more but pushes the /metrics p99 towards its 5 ms budget).
// --interrupt-budget=4194304: a function is optimized by TurboFan after ~31× more bytecode
//   than V8's default (132 KB). Start-up code (module bodies, Ajv compiling every route's
//   schemas, the first nvidia-smi XML) runs once and is no longer optimized, which took ~8 MB
//   of compiler memory that malloc kept; ingest and /metrics renders still are, after a few
//   hundred requests.
// bench/ reads the flags from this line: in-process benchmarks run under them too.
import { main } from '../dist/app/main.js';

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
