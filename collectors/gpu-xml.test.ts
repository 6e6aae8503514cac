// Every `nvidia-smi -q -x` fixture through the parser into a golden JSON file
// (UPDATE_GOLDEN=1 rewrites them; review the diff), plus values checked by hand against the files.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from './gpu-xml.js';

const FIXTURES = new URL('../test/fixtures/nvidia-smi/', import.meta.url);
const GOLDEN = new URL('../test/golden/nvidia-smi/', import.meta.url);
const xmlFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.xml')).sort();
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const MiB = 1024 * 1024;

describe('parseNvidiaSmiXml', () => {
  it('has the fixtures it expects', () => {
    expect(xmlFiles.length).toBe(15);
  });

  it.each(xmlFiles)('%s matches its golden JSON (UPDATE_GOLDEN=1 rewrites)', (name) => {
    const actual = JSON.stringify(parseNvidiaSmiXml(fixture(name)), null, 2) + '\n';
    const golden = new URL(name.replace(/\.xml$/, '.json'), GOLDEN);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(golden, actual);
    }
    expect(existsSync(golden), `${golden.pathname} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
    expect(actual).toBe(readFileSync(golden, 'utf8'));
  });

  it('reads the 8-GPU training host (datakit-gtx-8card.xml)', () => {
    const { inventory, readings } = parseNvidiaSmiXml(fixture('datakit-gtx-8card.xml'));
    expect(inventory.driverVersion).toBe('460.73.01');
    expect(inventory.cudaVersion).toBe('11.2');
    expect(readings.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const g0 = readings[0];
    expect(g0).toMatchObject({
      uuid: 'GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e',
      name: 'Tesla V100S-PCIE-32GB',
      utilizationRatio: 0.97, // <gpu_util>97 %</gpu_util>
      memoryUtilizationRatio: 0.52,
      memoryTotalBytes: 32510 * MiB, // <total>32510 MiB</total> = 34089205760 bytes
      memoryUsedBytes: 31689 * MiB,
      powerDrawWatts: 232.8,
      powerLimitWatts: 250,
      temperatureCelsius: 66,
      smClockHertz: 1.41e9,
      clockEventReasons: [],
    });
    expect(g0.memoryTotalBytes).toBe(34_089_205_760);
    // GPUs 3 and 6 were power-capped when the capture was taken.
    expect(readings.filter((r) => r.clockEventReasons.includes('sw_power_cap')).map((r) => r.index)).toEqual([3, 6]);
    // One training process (pid 37305) on all eight GPUs.
    expect(inventory.processes).toHaveLength(8);
    expect(new Set(inventory.processes.map((p) => p.pid))).toEqual(new Set([37305]));
    expect(inventory.processes[0]).toEqual({
      gpuIndex: 0, gpuUuid: g0.uuid, pid: 37305, processName: 'python', usedMemoryBytes: 31683 * MiB,
    });
    expect(inventory.gpus.every((g) => !g.migMode && g.migDevices.length === 0)).toBe(true);
  });

  it('reads MIG devices (telegraf-a100-sxm4-v12.xml)', () => {
    const { inventory, readings } = parseNvidiaSmiXml(fixture('telegraf-a100-sxm4-v12.xml'));
    const gpu = inventory.gpus[0];
    expect(gpu.migMode).toBe(true);
    expect(gpu.migDevices).toHaveLength(4);
    expect(gpu.migDevices[0]).toEqual({ index: 0, gpuInstanceId: 3, computeInstanceId: 0, memoryTotalBytes: 19968 * MiB });
    expect(readings[0].utilizationRatio).toBeNull(); // N/A under MIG
    expect(readings[0].memoryTotalBytes).toBe(81920 * MiB);
    expect(inventory.processes).toEqual([]); // <processes />
  });

  it('reads the v13 schema: average/instant power, clock-event reasons, processes (telegraf-rtx-4000-sff-ada-v13.xml)', () => {
    const { inventory, readings } = parseNvidiaSmiXml(fixture('telegraf-rtx-4000-sff-ada-v13.xml'));
    expect(readings[0]).toMatchObject({ powerDrawWatts: 8.81, powerLimitWatts: 70, clockEventReasons: ['gpu_idle'], memoryUsedBytes: 3534 * MiB });
    expect(inventory.cudaVersion).toBe('13.2');
    expect(inventory.processes).toHaveLength(4);
  });

  it('reads a file with no DOCTYPE and an unnamed product (telegraf-gtx-1660-ti.xml)', () => {
    const { inventory, readings } = parseNvidiaSmiXml(fixture('telegraf-gtx-1660-ti.xml'));
    expect(inventory.driverVersion).toBe('418.43');
    expect(readings[0].name).toBe('Graphics Device');
  });

  it('reads a file with no <?xml?> header (datakit-gtx-1050-1.xml) and a trimmed one (telegraf-gtx-1070-ti.xml)', () => {
    expect(parseNvidiaSmiXml(fixture('datakit-gtx-1050-1.xml')).inventory.processes).toHaveLength(2);
    const trimmed = parseNvidiaSmiXml(fixture('telegraf-gtx-1070-ti.xml'));
    expect(trimmed.inventory.driverVersion).toBeNull();
    expect(trimmed.readings[0].powerDrawWatts).toBeNull(); // <power_draw>N/A</power_draw>
  });

  it('keeps the version of a driver that marks it deprecated', () => {
    const xml = fixture('telegraf-rtx-3080-v13.xml').replace(
      /<driver_version>[^<]*</,
      '<driver_version>610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]<',
    );
    expect(parseNvidiaSmiXml(xml).inventory.driverVersion).toBe('610.57.04');
  });

  it('throws on garbage, truncated output and foreign XML', () => {
    expect(() => parseNvidiaSmiXml('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toThrow(/malformed XML/);
    expect(() => parseNvidiaSmiXml(fixture('datakit-gtx-8card.xml').slice(0, 5000))).toThrow(/malformed XML/);
    expect(() => parseNvidiaSmiXml('<html><body>hi</body></html>')).toThrow(/no.*nvidia_smi_log|without an <nvidia_smi_log>/);
  });
});
