// Exposure: loopback by default, the token never logged, no CORS unless asked, no shell anywhere.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../bench/lib/sidecar-process.js';
import { SERVE_FLAGS } from '../cli/serve-options.js';
import { GOOD_RUN, testApp } from './helpers/app.js';

const TOKEN = 'f3a9c1e7d5b24680aceg1357bdf92468';

describe('exposure', () => {
  it('binds to 127.0.0.1 unless told otherwise', () => {
    expect(SERVE_FLAGS.find((f) => f.name === 'host')?.default).toBe('127.0.0.1');
  });

  it('never writes the token to the log, even at debug level', async () => {
    const lines: string[] = [];
    const t = await testApp({ token: TOKEN, logger: { level: 'trace', stream: { write: (m: string) => lines.push(m) } } });
    await t.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}` }, payload: GOOD_RUN });
    await t.app.inject({ url: '/v1/runs', headers: { authorization: `Bearer ${TOKEN}x` } });
    await t.app.inject({ url: '/v1/runs', headers: { authorization: 'Bearer wrong' } });
    await t.close();
    expect(lines.length).toBeGreaterThanOrEqual(3); // one line per request at debug
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('sends no CORS headers and has no preflight route', async () => {
    const t = await testApp();
    const res = await t.app.inject({ url: '/v1/runs', headers: { origin: 'https://evil.example' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await t.app.inject({ method: 'OPTIONS', url: '/v1/runs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(pre.statusCode).toBe(404);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    await t.close();
  });

  it('starts no child process through a shell anywhere in the product', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        if (['node_modules', 'dist', '.git', 'test', '.tmp'].includes(name)) continue;
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|js|mjs|py)$/.test(name) && !name.endsWith('.test.ts')) {
          const src = readFileSync(p, 'utf8');
          const bad = [/child_process['"]\)?\.exec\(/, /\bexecSync\(/, /\bexec\(\s*['"`]/, /shell:\s*true/, /os\.system\(/, /shell\s*=\s*True/, /subprocess\.(call|run|Popen)\(\s*['"]/];
          for (const re of bad) if (re.test(src)) offenders.push(`${relative(REPO_ROOT, p)} ${re}`);
        }
      }
    };
    walk(REPO_ROOT);
    expect(offenders).toEqual([]);
  });
});
