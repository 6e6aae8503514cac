// readHostInventory on this machine's /proc, checked against what Node's os module gets
// from the kernel by other routes (sysinfo(2), uname(2)), and on prepared /proc trees.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readHostInventory } from './host.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function procTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'trainpilot-inventory-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('readHostInventory', () => {
  it('agrees with the kernel on this machine', async () => {
    const inv = await readHostInventory();
    expect(inv.cpuCores).toBe(cpus().length);
    expect(inv.memoryTotalBytes).toBe(totalmem()); // MemTotal × 1024 = sysinfo's totalram
    expect(inv.cpuModel).toBe(cpus()[0].model.trim());
    expect(inv.os).toContain(`(linux ${release()})`);
    expect(inv.os.length).toBeGreaterThan(`(linux ${release()})`.length); // a distribution named from os-release
    expect(inv.hostname).toBe(hostname());
  });

  it('falls back to the os module and the kernel alone when files say nothing', async () => {
    const procRoot = procTree({ cpuinfo: 'processor\t: 0\nCPU part\t: 0xd0c\n', meminfo: 'MemTotal:  1024 kB\n' });
    const inv = await readHostInventory({ procRoot, osReleasePaths: [join(procRoot, 'missing')] });
    expect(inv).toMatchObject({ cpuCores: 1, memoryTotalBytes: 1024 * 1024, os: `linux ${release()}` });
    expect(inv.cpuModel).toBe(cpus()[0]?.model.trim() || 'unknown');
  });

  it('reads os-release from the first path that exists', async () => {
    const procRoot = procTree({ cpuinfo: '', meminfo: 'MemTotal:  2048 kB\n', 'os-release': 'NAME="Ubuntu"\nVERSION_ID="24.04"\n' });
    const inv = await readHostInventory({ procRoot, osReleasePaths: [join(procRoot, 'nope'), join(procRoot, 'os-release')] });
    expect(inv.os).toBe(`Ubuntu 24.04 (linux ${release()})`);
    expect(inv.cpuCores).toBe(cpus().length); // no processor lines: Node's count
  });

  it('rejects, naming the file, when /proc/meminfo cannot be read', async () => {
    const procRoot = procTree({ cpuinfo: '' });
    await expect(readHostInventory({ procRoot })).rejects.toThrow(/meminfo/);
  });
});
