// nvidia-smi's value forms, turned into base units. Pure.
//
// Seen in real output (../test/fixtures/nvidia-smi/SOURCES.md):
//   XML: "97 %", "32510 MiB", "232.80 W", "66 C", "1410 MHz", "N/A",
//        "Requested functionality has been deprecated" (v13 power_state);
//   CSV (--format=csv): "[N/A]", "[Requested functionality has been deprecated]",
//        "[Function Not Found]", "0x00000000000001FF", "81559 MiB", "631.95 W";
//   CSV (nounits): the same numbers without their unit;
//   -q text of driver 610: "610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]".
// `[Not Supported]` is documented by --help-query-gpu as a possible value.
// Anything that is not a number (with an optional unit) is "not reported": null.

export interface Quantity { value: number; unit: string | null }

const NUMBER_WITH_UNIT = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z%]+)?$/;

/** "232.80 W" → {232.8, "W"}; "[N/A]", "N/A", "[Not Supported]", "" … → null. */
export function parseQuantity(text: string | undefined | null): Quantity | null {
  if (text === undefined || text === null) return null;
  const m = NUMBER_WITH_UNIT.exec(String(text).trim());
  if (!m) return null;
  return { value: Number(m[1]), unit: m[2] ?? null };
}

/** Bytes per unit for the memory units nvidia-smi prints (binary, as its MiB says). */
const BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 };

function scaled(text: string | undefined | null, defaultUnit: string, factors: Record<string, number>): number | null {
  const q = parseQuantity(text);
  if (!q) return null;
  const factor = factors[q.unit ?? defaultUnit];
  return factor === undefined ? null : q.value * factor;
}

export function toBytes(text: string | undefined | null, defaultUnit = 'MiB'): number | null {
  return scaled(text, defaultUnit, BYTES);
}

/** "97 %" → 0.97 */
export function toRatio(text: string | undefined | null): number | null {
  const percent = scaled(text, '%', { '%': 1 });
  return percent === null ? null : percent / 100; // divide, so 47 % is 0.47 and not 0.47000000000000003
}

/** "1410 MHz" → 1.41e9 */
export function toHertz(text: string | undefined | null, defaultUnit = 'MHz'): number | null {
  return scaled(text, defaultUnit, { Hz: 1, KHz: 1e3, kHz: 1e3, MHz: 1e6, GHz: 1e9 });
}

export function toWatts(text: string | undefined | null): number | null {
  return scaled(text, 'W', { W: 1, mW: 1e-3 });
}

export function toCelsius(text: string | undefined | null): number | null {
  return scaled(text, 'C', { C: 1 });
}

const NOT_REPORTED = new Set(['N/A', 'Not Supported', 'Unknown Error', 'Requested functionality has been deprecated']);

/** A plain string value, or null for the not-reported forms ("N/A", "[N/A]", "[Not Supported]", …). */
export function toText(text: string | undefined | null): string | null {
  if (text === undefined || text === null) return null;
  const t = String(text).trim();
  if (t === '' || NOT_REPORTED.has(t) || /^\[.*\]$/.test(t)) return null;
  return t;
}

/** "610.57.04 [Deprecated; will be removed …]" → "610.57.04"; "N/A" → null. */
export function toVersion(text: string | undefined | null): string | null {
  const t = toText(text);
  if (t === null) return null;
  return t.replace(/\s*\[[^\]]*\]\s*$/, '').trim() || null;
}

/**
 * NVML clock-event (formerly "throttle") reason bits, nvml.h
 * `nvmlClocksEventReason*` / `nvmlClocksThrottleReason*`. The names are the
 * XML tag suffixes (`clocks_event_reason_<name>`), so CSV and XML agree.
 */
export const CLOCK_EVENT_REASON_BITS: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'gpu_idle'],
  [0x2, 'applications_clocks_setting'],
  [0x4, 'sw_power_cap'],
  [0x8, 'hw_slowdown'],
  [0x10, 'sync_boost'],
  [0x20, 'sw_thermal_slowdown'],
  [0x40, 'hw_thermal_slowdown'],
  [0x80, 'hw_power_brake_slowdown'],
  [0x100, 'display_clocks_setting'],
];

/** "0x0000000000000024" → ["sw_power_cap", "sw_thermal_slowdown"]; not reported → []. */
export function decodeClockEventReasons(text: string | undefined | null): string[] {
  const t = toText(text);
  if (t === null || !/^0x[0-9a-f]+$/i.test(t)) return [];
  // The mask is 64-bit; every known bit is in the low 32, so BigInt is not needed for them.
  const low = Number(BigInt(t) & 0xffffffffn);
  return CLOCK_EVENT_REASON_BITS.filter(([bit]) => (low & bit) !== 0).map(([, name]) => name);
}
