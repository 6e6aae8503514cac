// esbuild's options for trainpilot's bundles: the CLI's (scripts/bundle.mjs, which says why it
// is bundled) and bench/footprint's, which must load its parts as the CLI does.
// Node built-ins a dependency loads at start for a feature trainpilot never turns on are bundled
// as lazy stand-ins that load the real module on first use (docs/footprint.md):
//   node:http2, node:https  fastify/lib/server.js requires both at the top for its http2 and https
//                           options; loading them (nghttp2's set-up, tls) costs ~1.7 MB resident.
//   https                   prom-client's Pushgateway, which the sidecar does not use.

/** Built-ins made lazy, and the only dependency files whose imports of them are rewritten. */
const LAZY_BUILTINS = {
  'node:http2': ['node_modules/fastify/lib/server.js'],
  'node:https': ['node_modules/fastify/lib/server.js'],
  https: ['node_modules/prom-client/lib/pushgateway.js'],
};

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:http2|node:https|https)$/ }, (args) =>
      LAZY_BUILTINS[args.path]?.some((f) => args.importer.endsWith(f)) ? { path: args.path, namespace: 'lazy-builtin' } : undefined);
    // A CommonJS module whose exports load the built-in when a property is first read.
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let m; const load = () => (m ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load(), ownKeys: () => Reflect.ownKeys(load()), getOwnPropertyDescriptor: (_, k) => Object.getOwnPropertyDescriptor(load(), k) });`,
    }));
  },
};

/** The options for entry points (name → file under root) bundled into outdir. */
export function bundleOptions(root, entryPoints, outdir) {
  return {
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    external: ['better-sqlite3', '@fastify/swagger-ui'],
    // CommonJS dependencies call require() and read __dirname; an ES module has neither.
    banner: {
      js: [
        "import { createRequire as __tpCreateRequire } from 'node:module';",
        "import { dirname as __tpDirname } from 'node:path';",
        "import { fileURLToPath as __tpFileURLToPath } from 'node:url';",
        'const require = __tpCreateRequire(import.meta.url);',
        'const __filename = __tpFileURLToPath(import.meta.url);',
        'const __dirname = __tpDirname(__filename);',
      ].join('\n'),
    },
    plugins: [lazyBuiltins],
    logLevel: 'warning',
  };
}
