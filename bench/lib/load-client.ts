// The load generator of bench/load, in a process of its own (bench/lib/load.ts forks it), so the
// bench's own sampling and the sidecar never share its event loop. Open loop: each run's batches
// have intended send times fixed in advance (every 100 ms, runs spread evenly over the 100 ms, as
// independent training jobs would be), and a batch goes out at its time whatever earlier ones
// are doing. Each request records three times: intended, sent, answered. Latency is answered −
// intended, so a sidecar that stalls is charged for every request that should have gone out
// during the stall, not only for the one in flight (the "coordinated omission" a closed loop
// hides); send lag (sent − intended) says whether this process kept up. One keep-alive
// connection per run by default, as each training job has its own.
//   node dist/bench/lib/load-client.js URL OUT_FILE RATE SECONDS CONNECTIONS RUN_ID…
// Writes OUT_FILE (Float64 triples, ms since start: intended, sent, answered; answered is NaN for
// a failed request) and prints one JSON line of counts on stdout.
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, outFile, rateArg, secondsArg, connectionsArg, ...ids] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const base = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connectionsArg) });
const PERIOD_MS = 100; // the Python client sends what it holds every 100 ms
const perBatch = Math.max(1, Math.round((rate * PERIOD_MS) / 1000));
const batchesPerRun = Math.floor((seconds * 1000) / PERIOD_MS);
const total = batchesPerRun * ids.length;
/** [intended, sent, answered] per request, in the order of intended time. */
const times = new Float64Array(total * 3).fill(Number.NaN);
const nextStep = new Array<number>(ids.length).fill(0);
const paths = ids.map((id) => `/v1/runs/${id}/steps`);
const tsBase = Date.now() / 1000;
let sent = 0;
let acknowledged = 0;
let errors = 0;
let done = 0;

/** One batch's body, written as text (no objects per step): what the Python client sends. */
function body(run: number): string {
  let s = '{"steps":[';
  for (let i = 0; i < perBatch; i++) {
    const step = nextStep[run]++;
    if (i > 0) s += ',';
    s += `{"step":${step},"duration_s":0.01,"data_wait_s":0.002,"samples":32,"loss":${2 / (1 + step / 1000)},"ts":${tsBase + step / rate}}`;
  }
  return s + ']}';
}

function send(k: number, run: number, start: number): void {
  const payload = body(run);
  sent += perBatch;
  times[k * 3 + 1] = performance.now() - start;
  const fail = () => {
    errors++;
    finish();
  };
  const req = request(
    { host: base.hostname, port: base.port, path: paths[run], method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        if (res.statusCode === 202) {
          times[k * 3 + 2] = performance.now() - start;
          acknowledged += (JSON.parse(text) as { accepted: number }).accepted;
        } else errors++;
        finish();
      });
      res.on('error', fail);
    },
  );
  req.on('error', fail);
  req.end(payload);
}

function finish(): void {
  if (++done < total) return;
  agent.destroy();
  writeFileSync(outFile, new Uint8Array(times.buffer));
  process.stdout.write(JSON.stringify({ sent, acknowledged, errors, requests: total, perBatch }) + '\n');
}

// Request k is run k % R's batch number floor(k / R), intended at floor(k / R) × 100 ms + the run's
// offset; k grows with intended time, so one cursor walks the schedule.
const start = performance.now();
const offset = (run: number) => (run * PERIOD_MS) / ids.length;
for (let k = 0; k < total; k++) times[k * 3] = Math.floor(k / ids.length) * PERIOD_MS + offset(k % ids.length);
let cursor = 0;
const tick = () => {
  const now = performance.now() - start;
  while (cursor < total && times[cursor * 3] <= now) {
    send(cursor, cursor % ids.length, start);
    cursor++;
  }
  if (cursor < total) setTimeout(tick, Math.max(0, times[cursor * 3] - (performance.now() - start)));
};
tick();
