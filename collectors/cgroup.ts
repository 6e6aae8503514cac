// What the cgroup readers share (cpu-budget.ts, memory-limit.ts): a file read that gives null when
// it is not there, and a cgroup's directories from itself up to its mount's root.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The cgroup and its ancestors up to the mount's root, innermost first. */
export function ancestors(mount: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  // A path outside our view ("/../x", another cgroup namespace) cannot be followed from here.
  if (parts.includes('..')) return [];
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(join(mount, ...parts.slice(0, i)));
  return out;
}
