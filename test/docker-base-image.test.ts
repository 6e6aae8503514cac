// The base-image maker's one pure part: which Debian mirrors an apt configuration names.
// Fixtures are this kind of machine's real files (deb822 with a third-party source beside it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAptMirrors } from './docker/base-image.js';

const fixture = (name: string) => readFileSync(new URL(`./docker/fixtures/${name}`, import.meta.url), 'utf8');

describe('parseAptMirrors', () => {
  it('reads deb822 sources and ignores a third-party repository', () => {
    expect(parseAptMirrors([fixture('nodesource.sources'), fixture('debian.sources')])).toEqual({
      main: 'http://deb.debian.org/debian',
      security: 'http://deb.debian.org/debian-security',
    });
  });

  it('reads one-line sources, with options and a trailing slash', () => {
    const list = [
      '# a comment: deb http://example.invalid/debian bookworm main',
      'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://mirror.example.org/debian/ bookworm main contrib',
      'deb http://security.example.org/debian-security bookworm-security main',
    ].join('\n');
    expect(parseAptMirrors([list])).toEqual({ main: 'http://mirror.example.org/debian', security: 'http://security.example.org/debian-security' });
  });

  it('derives the security mirror when none is named, and gives up without a bookworm source', () => {
    expect(parseAptMirrors(['deb http://m.example.org/debian bookworm main\n'])?.security).toBe('http://m.example.org/debian-security');
    expect(parseAptMirrors(['Types: deb-src\nURIs: http://m.example.org/debian\nSuites: bookworm\n'])).toBeUndefined();
    expect(parseAptMirrors([''])).toBeUndefined();
  });
});
