// `npm run build`, second step: bundles the compiled CLI (dist/cli/main.js, from tsc)
// with its dependencies into dist/app/, minified, one chunk per command loaded on demand.
//
// Why: the sidecar's resident memory (budget, DESIGN §7: 70 MB; docs/footprint.md). Node keeps every loaded
// module's source text in the V8 heap for lazy compilation; ~60 modules of fastify, ajv,
// typebox, prom-client and fast-xml-parser came to ~7 MB of strings, and one module record,
// wrapper and scope each. Bundled and minified, `trainpilot serve` starts in ~0.35 s less
// CPU and peaks ~15 MB lower (bench/overhead). Names are kept, so stack traces stay readable;
// source maps sit beside the chunks (node --enable-source-maps maps frames to dist/ files).
//
// Left out of the bundle, loaded from node_modules as before:
//   better-sqlite3       a native addon, found through `bindings` next to its package.json
//   @fastify/swagger-ui  serves the UI's files from its own package directory; loaded only by the
//                        docs app, on the first /docs request (server/routes/docs.ts)
import { build } from 'esbuild';
import { bundleOptions } from './bundle-options.mjs';
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/app');
rmSync(outdir, { recursive: true, force: true });

await build(bundleOptions(root, { main: 'dist/cli/main.js' }, outdir));

// The live page's static files (server/routes/page.ts serves them from dist/, so the npm package
// and the image, which ship dist/, carry them).
rmSync(join(root, 'dist/page'), { recursive: true, force: true });
cpSync(join(root, 'server/page/static'), join(root, 'dist/page'), { recursive: true });
