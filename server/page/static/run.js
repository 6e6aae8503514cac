// One run, live: summary, bottleneck with its evidence, charts, and the decisions as a timeline.
// Polls the JSON API each second: new steps by after_step, new process samples by time, the
// config history, the decisions, and the host's GPUs (kept here: the API has their latest only).
import { api, el, poll } from '/page/api.js';
import { bottleneckWords, change, clock, configWords, evidence, fmt, outcomeWords, started, tidy } from '/page/words.js';
import { chartSvg } from '/page/lib/server/page/chart.js';
import { appendAfter, cpuCores, stepFigures } from '/page/lib/server/page/shape.js';

const id = decodeURIComponent(location.pathname.split('/').pop());
/** Rank-0 steps kept in the page (the oldest are dropped beyond this). */
const MAX_STEPS = 200_000;
const MAX_SAMPLES = 20_000;
const STEP_PAGE = 10_000;

const s = { run: null, steps: [], afterStep: -1, cpu: [], rss: [], config: {}, decisions: [], gpus: new Map(), hostTs: 0 };
const q = (p) => `/v1/runs/${encodeURIComponent(id)}${p}`;
const pick = (o, camel) => o?.[camel] ?? o?.[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] ?? null;
function trim(a, n) {
  if (a.length > n) a.splice(0, a.length - n);
}

async function loadSteps() {
  for (;;) {
    const page = await api(q(`/steps?after_step=${s.afterStep}&limit=${STEP_PAGE}`));
    for (const r of page.steps) if (r.rank === 0) s.steps.push(r);
    if (page.steps.length) s.afterStep = page.steps[page.steps.length - 1].step;
    if (page.next_after_step === null) break;
    s.afterStep = page.next_after_step;
  }
  trim(s.steps, MAX_STEPS);
}

async function loadSeries(metric, into) {
  const from = into.length ? into[into.length - 1][0] : 0;
  const r = await api(q(`/series?metric=${metric}&from=${from}`));
  appendAfter(into, r.points);
  trim(into, MAX_SAMPLES);
}

async function loadGpus() {
  const h = await api('/v1/host');
  if (!h.ts || h.ts <= s.hostTs || !Array.isArray(h.gpus)) return;
  s.hostTs = h.ts;
  const mine = (h.processes ?? []).find((p) => pick(p, 'runId') === id);
  const held = pick(mine, 'gpuMemoryBytes') ?? {};
  for (const g of h.gpus) {
    const index = String(g.index);
    if (!s.gpus.has(index)) s.gpus.set(index, { name: g.name, util: [], used: [], mine: [] });
    const e = s.gpus.get(index);
    e.util.push([h.ts, pick(g, 'utilizationRatio')]);
    e.used.push([h.ts, pick(g, 'memoryUsedBytes')]);
    e.mine.push([h.ts, held[index] ?? null]);
    for (const a of [e.util, e.used, e.mine]) trim(a, MAX_SAMPLES);
  }
}

async function refresh() {
  s.run = await api(q(''));
  await Promise.all([
    loadSteps(),
    loadSeries('process_cpu_seconds_total', s.cpu),
    loadSeries('process_resident_memory_bytes', s.rss),
    ...['batch_size', 'num_workers', 'learning_rate'].map(async (m) => (s.config[m] = (await api(q(`/series?metric=${m}`))).points)),
    api(q('/decisions')).then((r) => (s.decisions = r.decisions)),
    loadGpus(),
  ]);
  draw();
}

function draw() {
  const r = s.run;
  document.title = `${r.name} — trainpilot`;
  document.getElementById('run-name').textContent = r.name;
  const st = document.getElementById('run-state');
  st.textContent = r.state;
  st.className = `state state-${r.state}`;
  document.getElementById('run-meta').textContent = [
    r.id, r.pid ? `pid ${r.pid}` : 'no process given', `tuning: ${r.tune?.mode ?? '—'}`,
    `started ${started(r.created_at)}`, r.ended_at ? `ended ${started(r.ended_at)} after ${fmt.fmtSeconds(r.ended_at - r.created_at)}` : null,
  ].filter(Boolean).join(' · ');
  drawSummary(r);
  drawBottleneck(r);
  drawCharts(r);
  drawDecisions(r);
}

function card(label, value, key) {
  return el('div', { class: 'card', 'data-card': key }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value));
}

function drawSummary(r) {
  const m = r.summary;
  document.getElementById('summary').replaceChildren(...[
    card('samples/s (recent steps)', fmt.fmtRate(m.samples_per_second), 'samples_per_second'),
    card('step time p50', fmt.fmtSeconds(m.step_duration_seconds_p50), 'step_time'),
    card('data wait', fmt.fmtPercent(m.data_wait_ratio), 'data_wait'),
    card('loss', fmt.fmtNum(m.last_loss), 'loss'),
    card('steps', fmt.fmtNum(m.steps), 'steps'),
    card('config', configWords(r.config), 'config'),
    // The start config's own samples/s (before the first change) against the current config's own.
    m.since_start ? card('vs the start config', `${fmt.fmtTimes(m.since_start.ratio)} (${fmt.fmtNum(m.since_start.start_samples_per_second)} → ${fmt.fmtRate(m.since_start.samples_per_second)})`, 'since_start') : null,
    // DESIGN §11: only a run with GPUs attributed has an energy figure (a CPU job shows no card).
    m.energy_joules === null || m.energy_joules === undefined ? null
      : card(`energy per sample (GPU${m.energy_gpus?.length > 1 ? 's' : ''} ${(m.energy_gpus ?? []).join(', ')})`,
        m.joules_per_sample === null ? '—' : `${fmt.fmtNum(m.joules_per_sample)} J`, 'joules_per_sample'),
  ].filter(Boolean));
}

function drawBottleneck(r) {
  document.getElementById('bottleneck').textContent = bottleneckWords(r.bottleneck?.kind);
  document.getElementById('evidence').replaceChildren(...evidence(r.bottleneck?.evidence).flatMap((i) => [el('dt', {}, i.label), el('dd', { 'data-key': i.key }, i.text)]));
  const advice = r.advice ?? [];
  document.getElementById('advice').replaceChildren(...(advice.length ? [
    el('h3', {}, 'Advice'),
    el('ul', {}, advice.map((a) => el('li', {}, el('strong', {}, tidy(a.title)), ' — ', tidy(a.why)))),
  ] : []));
}

const CHARTS = [
  { id: 'samples_per_second', title: 'Samples/s', y: fmt.fmtNum, series: (f) => [{ name: 'samples/s', points: f.samplesPerSecond }] },
  { id: 'step_time', title: 'Step time', y: fmt.fmtSeconds, series: (f) => [{ name: 'p50', points: f.stepP50 }, { name: 'p90', points: f.stepP90, dashed: true }] },
  { id: 'data_wait', title: 'Data wait (share of step time)', y: fmt.fmtPercent, series: (f) => [{ name: 'data wait', points: f.dataWait }] },
  { id: 'loss', title: 'Loss', y: fmt.fmtNum, floor: null, series: (f) => [{ name: 'loss', points: f.loss }] },
  { id: 'batch_size', title: 'Batch size', y: fmt.fmtNum, small: true, series: () => [{ name: 'batch size', points: s.config.batch_size ?? [], step: true }] },
  { id: 'num_workers', title: 'Data-loader workers', y: fmt.fmtNum, small: true, series: () => [{ name: 'workers', points: s.config.num_workers ?? [], step: true }] },
  { id: 'learning_rate', title: 'Learning rate', y: fmt.fmtNum, small: true, series: () => [{ name: 'learning rate', points: s.config.learning_rate ?? [], step: true }] },
  { id: 'process_cpu', title: 'CPU of the process tree (cores)', y: fmt.fmtNum, series: () => [{ name: 'cores', points: cpuCores(s.cpu) }] },
  { id: 'process_memory', title: 'Memory of the process tree (resident)', y: fmt.fmtBytes, series: () => [{ name: 'RSS', points: s.rss }] },
  { id: 'gpu_utilization', title: 'GPU utilisation', y: fmt.fmtPercent, gpu: true, series: () => [...s.gpus].map(([i, g]) => ({ name: `GPU ${i}`, points: g.util })) },
  { id: 'gpu_memory', title: 'GPU memory used (dashed: this run\u2019s processes)', y: fmt.fmtBytes, gpu: true,
    series: () => [...s.gpus].flatMap(([i, g]) => [{ name: `GPU ${i}`, points: g.used }, { name: `GPU ${i} run`, points: g.mine, dashed: true }]) },
];

function drawCharts(r) {
  const f = stepFigures(s.steps);
  const markers = s.decisions.map((d) => ({ x: d.ts, label: `#${d.id}`, title: `#${d.id} ${change(d)}: ${tidy(d.reason)}` }));
  // From the run's start (or its first data: a job's clock may be a little behind the sidecar's) to its newest.
  const first = [r.created_at, s.steps[0]?.ts, s.cpu[0]?.[0]].filter((t) => typeof t === 'number');
  const last = [r.created_at, r.ended_at, s.steps.at(-1)?.ts, s.cpu.at(-1)?.[0], s.hostTs || null, ...s.decisions.map((d) => d.ts)].filter((t) => typeof t === 'number');
  const x = [Math.min(...first), Math.max(...last)];
  const host = document.getElementById('charts');
  for (const c of CHARTS) {
    if (c.gpu && s.gpus.size === 0) continue;
    let fig = host.querySelector(`figure[data-figure="${c.id}"]`);
    if (!fig) {
      const caption = el('figcaption', {}, c.title, c.id === 'samples_per_second' || c.id === 'step_time' || c.id === 'data_wait' || c.id === 'loss' ? el('small', { class: 'window' }) : null);
      fig = el('figure', { 'data-figure': c.id, class: c.small ? 'small' : '' }, caption, el('div', { class: 'plot' }));
      host.append(fig);
    }
    const win = fig.querySelector('small.window');
    if (win) win.textContent = ` over ${f.window}-step windows`;
    const plot = fig.querySelector('.plot');
    const width = Math.max(280, Math.floor(plot.clientWidth || 480));
    // chartSvg escapes every text it writes (names, reasons), so its markup may be inserted.
    plot.innerHTML = chartSvg({ id: c.id, width, height: c.small ? 130 : 190, series: c.series(f), markers, x, yFormat: (v) => (v === 0 ? '0' : c.y(v)), yFloor: c.floor, xFormat: clockShort });
  }
}

const clockShort = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function drawDecisions(r) {
  const list = document.getElementById('decisions');
  document.getElementById('no-decisions').hidden = s.decisions.length > 0;
  const offset = (t) => (typeof fmt.fmtOffset === 'function' ? fmt.fmtOffset(t - r.created_at) : `+${fmt.fmtSeconds(t - r.created_at)}`);
  const items = [...s.decisions].sort((a, b) => b.id - a.id).map((d) => el('li', { 'data-decision': d.id, class: d.recommend_only ? 'advised' : '' },
    el('div', { class: 'when' }, `#${d.id} · ${clock(d.ts)} (${offset(d.ts)})${d.step !== null ? ` · step ${fmt.fmtNum(d.step)}` : ''}`),
    el('div', { class: 'what' }, el('strong', {}, change(d)), d.recommend_only ? el('span', { class: 'badge' }, 'recommended, not applied') : null),
    el('p', { class: 'reason' }, tidy(d.reason)),
    el('div', { class: 'outcome', 'data-status': d.outcome?.status ?? 'pending' }, outcomeWords(d, r.state !== 'running')),
    el('details', {}, el('summary', {}, 'evidence'), el('dl', { class: 'evidence' }, evidence(d.evidence).flatMap((i) => [el('dt', {}, i.label), el('dd', {}, i.text)]))),
  ));
  list.replaceChildren(...items);
}

poll(refresh, 1000);
