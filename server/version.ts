import { readFileSync } from 'node:fs';

/** package.json's version, read once (dist/server/version.js and server/version.ts are both two levels down). */
export const VERSION: string = (() => {
  for (const p of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(p, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next candidate
    }
  }
  return 'unknown';
})();
