// The `--query-gpu` and `--query-compute-apps` CSV sections of real captures
// (H100, H200, L40S, MIG, driver 610, Windows) through the CSV parsers, into golden
// JSON files (UPDATE_GOLDEN=1 rewrites them), with values checked against the files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QUERY_GPU_FIELDS, UnexpectedOutputError, parseComputeAppsCsv, parseQueryGpuCsv, parseQueryGpuLine } from './gpu-csv.js';

const FIXTURES = new URL('../test/fixtures/nvidia-smi/', import.meta.url);
const GOLDEN = new URL('../test/golden/nvidia-smi/', import.meta.url);
const MiB = 1024 * 1024;
const MASKED_UUID = 'GPU-00000000-0000-0000-0000-000000000000'; // the capture tool masks UUIDs

const CAPTURES = {
  h100: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt',
  h100mig: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h100-mig__590.48.01.txt',
  h200: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h200__590.48.01.txt',
  h200mig: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-h200-mig__590.48.01.txt',
  l40s: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-l40s__595.80.txt',
  rtx2080_610: 'nvidia_gpu_exporter-capture-linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt',
  windows_610: 'nvidia_gpu_exporter-capture-windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.txt',
} as const;

/** The output under a capture's `# <state> :: <title>` banner, up to the blank line that ends it. */
function section(file: string, state: 'idle' | 'load', title: string): string {
  const lines = readFileSync(new URL(file, FIXTURES), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(`# ${state} :: ${title}`));
  if (at < 0) throw new Error(`${file} has no "${state} :: ${title}" section`);
  const body = lines.slice(at + 3); // banner, "# $ command", "####"
  return body.slice(0, body.findIndex((l) => l.trim() === '')).join('\n');
}

function parseCapture(file: string) {
  const byUuid = new Map([[MASKED_UUID, 0]]);
  const out: Record<string, unknown> = {};
  for (const state of ['idle', 'load'] as const) {
    out[state] = {
      queryGpu: parseQueryGpuCsv(section(file, state, 'query-gpu'), 'header'),
      computeApps: parseComputeAppsCsv(section(file, state, 'query-compute-apps'), byUuid, 'header'),
    };
  }
  return out;
}

describe('the --query-gpu / --query-compute-apps CSV of real captures', () => {
  it.each(Object.values(CAPTURES))('%s matches its golden JSON (UPDATE_GOLDEN=1 rewrites)', (file) => {
    const actual = JSON.stringify(parseCapture(file), null, 2) + '\n';
    const golden = new URL(file.replace(/\.txt$/, '.csv.json'), GOLDEN);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(golden, actual);
    }
    expect(existsSync(golden), `${golden.pathname} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
    expect(actual).toBe(readFileSync(golden, 'utf8'));
  });

  it('H100 under load: values as printed', () => {
    // "… 81559 MiB, 479 MiB, 19818 MiB, 61263 MiB, Default, 9.0, 100 %, 11 %, … 59, 26, 54, …, 631.95 W, … 700.00 W, … 1980 MHz, 1980 MHz …"
    const [gpu] = parseQueryGpuCsv(section(CAPTURES.h100, 'load', 'query-gpu'), 'header');
    expect(gpu).toEqual({
      index: 0,
      uuid: MASKED_UUID,
      name: 'NVIDIA H100 80GB HBM3',
      utilizationRatio: 1,
      memoryUtilizationRatio: 0.11,
      memoryUsedBytes: 19818 * MiB,
      memoryTotalBytes: 81559 * MiB,
      powerDrawWatts: 631.95,
      powerLimitWatts: 700,
      temperatureCelsius: 59,
      smClockHertz: 1.98e9,
      clockEventReasons: [], // 0x0000000000000000
    });
  });

  it('H200 and L40S under load', () => {
    const [h200] = parseQueryGpuCsv(section(CAPTURES.h200, 'load', 'query-gpu'), 'header');
    expect(h200.name).toBe('NVIDIA H200');
    expect(h200.memoryTotalBytes! / MiB).toBeGreaterThan(140_000);
    const [l40s] = parseQueryGpuCsv(section(CAPTURES.l40s, 'load', 'query-gpu'), 'header');
    expect(l40s.name).toBe('NVIDIA L40S');
    expect(l40s.powerDrawWatts).toBeGreaterThan(0);
  });

  it('compute processes: MiB to bytes, the GPU found by UUID, [N/A] memory on Windows', () => {
    const byUuid = new Map([[MASKED_UUID, 0]]);
    const h100 = parseComputeAppsCsv(section(CAPTURES.h100, 'load', 'query-compute-apps'), byUuid, 'header');
    expect(h100).toEqual([
      { gpuIndex: 0, gpuUuid: MASKED_UUID, pid: 11327, processName: '/root/tools/memhog', usedMemoryBytes: 2566 * MiB },
      { gpuIndex: 0, gpuUuid: MASKED_UUID, pid: 11328, processName: '/root/tools/memhog', usedMemoryBytes: 1542 * MiB },
      { gpuIndex: 0, gpuUuid: MASKED_UUID, pid: 11345, processName: './gpu_burn', usedMemoryBytes: 15690 * MiB },
    ]);
    const win = parseComputeAppsCsv(section(CAPTURES.windows_610, 'load', 'query-compute-apps'), new Map(), 'header');
    expect(win.length).toBeGreaterThan(5);
    expect(win.every((p) => p.usedMemoryBytes === null && p.gpuIndex === -1)).toBe(true);
    expect(win[0].processName).toBe('C:\\Windows\\System32\\dwm.exe');
  });

  it('MIG captures: utilisation not reported', () => {
    for (const file of [CAPTURES.h100mig, CAPTURES.h200mig]) {
      const [gpu] = parseQueryGpuCsv(section(file, 'load', 'query-gpu'), 'header');
      expect(gpu.utilizationRatio).toBeNull();
      expect(gpu.memoryUsedBytes).toBeGreaterThan(0);
    }
  });
});

describe('our own stream lines (--format=csv,noheader,nounits)', () => {
  const line = (cells: string[]) => cells.join(', ');

  it('parses a line in QUERY_GPU_FIELDS order', () => {
    const r = parseQueryGpuLine(line(['3', 'GPU-3181eb56-505c-8214-ba05-c132f68f89b8', '23', '12', '32099', '32510', '198.41', '250.00', '61', '1432', '0x0000000000000004', 'Tesla V100S-PCIE-32GB']));
    expect(r).toEqual({
      index: 3, uuid: 'GPU-3181eb56-505c-8214-ba05-c132f68f89b8', name: 'Tesla V100S-PCIE-32GB',
      utilizationRatio: 0.23, memoryUtilizationRatio: 0.12, memoryUsedBytes: 32099 * MiB, memoryTotalBytes: 32510 * MiB,
      powerDrawWatts: 198.41, powerLimitWatts: 250, temperatureCelsius: 61, smClockHertz: 1.432e9, clockEventReasons: ['sw_power_cap'],
    });
  });

  it('turns every not-a-value form into null', () => {
    const r = parseQueryGpuLine(line(['0', 'GPU-x', '[N/A]', '[Not Supported]', '[Requested functionality has been deprecated]', '[Function Not Found]', '[Unknown Error]', 'N/A', '[GPU is lost]', '[N/A]', '[N/A]', 'A GPU, with a comma']));
    expect(r).toMatchObject({ index: 0, name: 'A GPU, with a comma', utilizationRatio: null, memoryUtilizationRatio: null, memoryUsedBytes: null, memoryTotalBytes: null, powerDrawWatts: null, powerLimitWatts: null, temperatureCelsius: null, smClockHertz: null, clockEventReasons: [] });
  });

  it.each([
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    '@@@@@@',
    'x, y, z, 1, 2, 3, 4, 5, 6, 7, 8, 9',
    `${'1, '.repeat(QUERY_GPU_FIELDS.length - 2)}1`,
  ])('rejects %j', (text) => {
    expect(() => parseQueryGpuLine(text)).toThrow(UnexpectedOutputError);
  });
});
