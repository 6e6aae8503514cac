// One small time-series chart as SVG markup, for the live page (served to the browser as an ES
// module from dist/) and for anything that draws a run statically. Pure and DOM-free: it returns
// a string in which every piece of text is escaped, so the caller may insert it as markup.
// Line series are thinned to at most two points (min and max) per pixel column, so a spike
// stays visible however many steps a run has; step series (config values) hold until the next.

export type Point = readonly [number, number | null];

export interface ChartSeries {
  name: string;
  points: readonly Point[];
  /** A value holds until the next point (config values), drawn to the end of the x range. */
  step?: boolean;
  color?: string;
  dashed?: boolean;
}

export interface ChartMarker {
  x: number;
  /** Short text beside the line ("#3"). */
  label: string;
  /** Shown on hover (an SVG <title>). */
  title: string;
}

export interface ChartSpec {
  /** id of the chart, written as data-chart (tests and styles find a chart by it). */
  id: string;
  width: number;
  height: number;
  series: readonly ChartSeries[];
  markers?: readonly ChartMarker[];
  /** x range (unix seconds); by default the data's. */
  x?: readonly [number, number];
  /** Numbers on the y axis, formatted for people (tuner/format.ts). */
  yFormat: (v: number) => string;
  /** Times on the x axis; by default the clock time hh:mm:ss. */
  xFormat?: (t: number) => string;
  /** Lowest y shown, unless the data go below (0 by default; null: the data's minimum). */
  yFloor?: number | null;
  /** Said in the middle of an empty chart. */
  empty?: string;
}

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4b5563'];

/** Room for the legend on top, then the decision labels just above the plot. */
const PAD = { left: 64, right: 12, top: 34, bottom: 24 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Ticks at 1, 2 or 5 × 10^k covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // k × step, rounded to 12 digits: no 0.6000000000000001 from adding steps up.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)) || 0);
  return out;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
export function clockTime(t: number): string {
  const d = new Date(t * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Points of one series inside [x0, x1], at most a min and a max per pixel column. */
export function thin(points: readonly Point[], x0: number, x1: number, columns: number): Point[] {
  const inside = points.filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]) && p[0] >= x0 && p[0] <= x1);
  if (inside.length <= columns * 2) return inside.slice();
  const span = x1 - x0 || 1;
  const out: Point[] = [];
  let col = -1;
  let lo: readonly [number, number] | null = null;
  let hi: readonly [number, number] | null = null;
  const flush = () => {
    if (!lo || !hi) return;
    if (lo === hi) out.push(lo);
    else out.push(...(lo[0] <= hi[0] ? [lo, hi] : [hi, lo]));
  };
  for (const p of inside) {
    const c = Math.floor(((p[0] - x0) / span) * columns);
    if (c !== col) {
      flush();
      col = c;
      lo = hi = p;
    } else {
      if (p[1] < lo![1]) lo = p;
      if (p[1] > hi![1]) hi = p;
    }
  }
  flush();
  return out;
}

export function chartSvg(spec: ChartSpec): string {
  const { width: w, height: h } = spec;
  const plotW = Math.max(10, w - PAD.left - PAD.right);
  const plotH = Math.max(10, h - PAD.top - PAD.bottom);
  const all = spec.series.flatMap((s) => s.points.filter((p) => p[1] !== null && Number.isFinite(p[1])));
  const xs = all.map((p) => p[0]).concat((spec.markers ?? []).map((m) => m.x));
  let [x0, x1] = spec.x ?? [Math.min(...xs), Math.max(...xs)];
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [0, 1];
  if (x1 <= x0) x1 = x0 + 1;
  const shown = spec.series.map((s) => ({ ...s, drawn: s.step ? stepPoints(s.points, x0, x1) : thin(s.points, x0, x1, plotW) }));
  const ys = shown.flatMap((s) => s.drawn.map((p) => p[1] as number));
  const floor = spec.yFloor === undefined ? 0 : spec.yFloor;
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (floor !== null) y0 = Math.min(y0, floor);
  if (y1 <= y0) y1 = y0 === 0 ? 1 : y0 + Math.abs(y0) * 0.1;
  y1 += (y1 - y0) * 0.05;
  const X = (t: number) => PAD.left + ((t - x0) / (x1 - x0)) * plotW;
  const Y = (v: number) => PAD.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const xFormat = spec.xFormat ?? clockTime;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeXml(spec.id)}" data-points="${ys.length}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img">`);
  for (const v of niceTicks(y0, y1)) {
    const y = num(Y(v));
    parts.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#6b7280">${escapeXml(spec.yFormat(v))}</text>`);
  }
  const xt = niceTimeTicks(x0, x1, Math.max(2, Math.floor(plotW / 110)));
  for (const t of xt) {
    parts.push(`<text x="${num(X(t))}" y="${h - 6}" text-anchor="middle" font-size="11" fill="#6b7280">${escapeXml(xFormat(t))}</text>`);
  }
  parts.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#9ca3af"/>`);
  for (const m of spec.markers ?? []) {
    if (m.x < x0 || m.x > x1) continue;
    const x = num(X(m.x));
    parts.push(`<g class="marker"><title>${escapeXml(m.title)}</title>`);
    // A wide invisible line under the dashed one, so the reason shows on hover without aiming.
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="transparent" stroke-width="9"/>`);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#f59e0b" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x}" y="${PAD.top - 4}" text-anchor="middle" font-size="10" fill="#b45309">${escapeXml(m.label)}</text></g>`);
  }
  shown.forEach((s, i) => {
    if (s.drawn.length === 0) return;
    const color = escapeXml(s.color ?? PALETTE[i % PALETTE.length]);
    const d = s.drawn.map((p, j) => `${j === 0 ? 'M' : 'L'}${num(X(p[0]))} ${num(Y(p[1] as number))}`).join('');
    parts.push(`<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''} stroke-linejoin="round"/>`);
    if (s.drawn.length === 1) parts.push(`<circle cx="${num(X(s.drawn[0][0]))}" cy="${num(Y(s.drawn[0][1] as number))}" r="2.5" fill="${color}"/>`);
  });
  let lx = PAD.left;
  shown.forEach((s, i) => {
    const color = escapeXml(s.color ?? PALETTE[i % PALETTE.length]);
    parts.push(`<rect x="${lx}" y="6" width="10" height="3" fill="${color}"/><text x="${lx + 14}" y="11" font-size="11" fill="#374151">${escapeXml(s.name)}</text>`);
    lx += 24 + s.name.length * 6.5;
  });
  if (ys.length === 0) {
    parts.push(`<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle" font-size="12" fill="#9ca3af">${escapeXml(spec.empty ?? 'no data yet')}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** A step series as drawable points: each value held until the next one and to the end. */
function stepPoints(points: readonly Point[], x0: number, x1: number): Point[] {
  const out: Point[] = [];
  let prev: number | null = null;
  for (const [t, v] of points) {
    if (v === null || !Number.isFinite(v)) continue;
    if (t > x1) break;
    if (t <= x0) { prev = v; continue; }
    if (prev !== null) {
      if (out.length === 0) out.push([x0, prev]);
      out.push([t, prev]);
    }
    out.push([t, v]);
    prev = v;
  }
  if (prev !== null) {
    if (out.length === 0) out.push([x0, prev]);
    out.push([x1, prev]);
  }
  return out;
}

/** Clock ticks at 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min or 1, 2, 6, 12 h. */
function niceTimeTicks(x0: number, x1: number, count: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  const raw = (x1 - x0) / count;
  const step = steps.find((s) => s >= raw) ?? 86400 * Math.ceil(raw / 86400);
  const out: number[] = [];
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) out.push(t);
  return out;
}
