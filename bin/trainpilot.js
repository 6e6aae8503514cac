#!/usr/bin/env node
// trainpilot's launcher. The CLI is compiled TypeScript, bundled into dist/app/ (built by `npm ci`
// through `prepare`; scripts/bundle.mjs says why it is bundled). Before loading it, this applies
// the V8 settings that work at run time. Every V8 setting, why it is there and what it measured
// is in cli/v8-settings.ts (compiled to dist/cli/v8-settings.js); those V8 reads only when it
// starts go on node's command line where the Node version is pinned: the Dockerfile's
// ENTRYPOINT and deploy/kubernetes/.
import { applyRunTimeV8Settings } from '../dist/cli/v8-settings.js';

applyRunTimeV8Settings();
const { main } = await import('../dist/app/main.js');

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
