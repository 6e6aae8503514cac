// The list of runs: name, state, samples/s, bottleneck; each links to its run's page.
import { api, el, poll } from '/page/api.js';
import { bottleneckWords, fmt, started } from '/page/words.js';

const body = document.querySelector('#runs tbody');

function row(r) {
  return el('tr', { 'data-run': r.id },
    el('td', {}, el('a', { href: `/runs/${encodeURIComponent(r.id)}` }, r.name), el('div', { class: 'muted small' }, r.id)),
    el('td', {}, el('span', { class: `state state-${r.state}` }, r.state)),
    el('td', { class: 'num' }, fmt.fmtNum(r.summary.samples_per_second)),
    el('td', { title: r.bottleneck?.kind ?? '' }, bottleneckWords(r.bottleneck?.kind)),
    el('td', { class: 'num' }, fmt.fmtNum(r.summary.steps)),
    el('td', { class: 'num' }, fmt.fmtNum(r.summary.decisions)),
    el('td', {}, started(r.created_at)),
  );
}

async function refresh() {
  const { runs } = await api('/v1/runs?limit=200');
  body.replaceChildren(...runs.map(row));
  document.getElementById('no-runs').hidden = runs.length > 0;
}

poll(refresh, 2000);
