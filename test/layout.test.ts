// The layout's direction of dependencies (DESIGN §2, STYLE.md): cli/ sits above the core and the
// core never imports it; the store is persistence only and knows nothing of the server or the
// tuner; the tuner and the collectors are below both; domain/ (the records every layer shares)
// is at the bottom and imports nothing of ours. Read from the sources' import statements.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Top-level folders a source file imports from (relative imports only, including import()). */
function importedFolders(file: string, text = readFileSync(join(root, file), 'utf8')): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(root, resolve(root, dirname(file), m[1]));
    found.add(target.split('/')[0]);
  }
  return found;
}

const RULES: Array<[string, string[]]> = [
  ['server', ['cli']],
  ['store', ['cli', 'server', 'tuner']],
  ['tuner', ['cli', 'server', 'store']],
  ['collectors', ['cli', 'server', 'store', 'tuner', 'domain']],
  ['domain', ['cli', 'server', 'store', 'tuner', 'collectors']],
];


describe('layout', () => {
  for (const [folder, forbidden] of RULES) {
    it(`${folder}/ imports nothing from ${forbidden.join(', ')}`, () => {
      const files = sources(folder);
      expect(files.length).toBeGreaterThan(0);
      const bad = files.flatMap((f) => [...importedFolders(f)].filter((d) => forbidden.includes(d)).map((d) => `${f} → ${d}/`));
      expect(bad).toEqual([]);
    });
  }

  it('sees an import that breaks the rule (the check can fail)', () => {
    expect([...importedFolders('cli/serve.ts')]).toContain('server');
    // A store/ file that took its record types from the tuner again would be caught.
    const storeRule = RULES.find(([f]) => f === 'store')![1];
    const text = "import type { StepPoint } from '../domain/steps.js';\nimport type { Window } from '../tuner/window.js';\n";
    expect([...importedFolders('store/steps.ts', text)].filter((d) => storeRule.includes(d))).toEqual(['tuner']);
  });
});
