// Everything `trainpilot dashboards --out DIR` writes: the two dashboards as
// Grafana JSON and the provisioning files. The same files are checked in under
// dashboards/grafana/ (a test keeps them equal to what this generates).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { nodeDashboard } from './node.js';
import { dashboardProvisioning, datasourceProvisioning } from './provisioning.js';
import { runDashboard } from './run.js';

export interface GeneratedFile {
  /** Relative to the output folder, '/'-separated. */
  path: string;
  content: string;
}

export function dashboards(): Dashboard[] {
  return [nodeDashboard(), runDashboard()];
}

/** The files, in a fixed order, with fixed content: the same on every call. */
export function generateDashboardFiles(): GeneratedFile[] {
  return [
    ...dashboards().map((d) => ({ path: `${d.uid}.json`, content: `${JSON.stringify(d, null, 2)}\n` })),
    { path: 'provisioning/datasources/trainpilot.yaml', content: datasourceProvisioning() },
    { path: 'provisioning/dashboards/trainpilot.yaml', content: dashboardProvisioning() },
  ];
}

/** Writes the files under `outDir` (created if missing) and returns the paths written. */
export async function writeDashboards(outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const file of generateDashboardFiles()) {
    const path = join(outDir, ...file.path.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.content);
    written.push(path);
  }
  return written;
}
