#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: V8 sizes the young generation for this host's RAM (16 MB semi-spaces
// on 24 GB); 2 MB keeps the sidecar ~22 MB smaller at idle for a little more scavenging.
// Thin launcher: the CLI is compiled TypeScript under dist/ (built by `npm ci` via `prepare`).
import { main } from '../dist/server/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
