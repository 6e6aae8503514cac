// The image, built and run for real: a private dockerd, a locally made base image, the
// project's Dockerfile unmodified, then health, metrics, non-root, persistence and a clean stop;
// then the pod of deploy/kubernetes/pod-sidecar.yaml as containers: zero-code in a trainer image
// (Debian's python3-torch, nothing of trainpilot) that shares the sidecar's namespaces and hook.
// Slow (minutes on a cold cache). Needs root, Debian's docker.io and debootstrap: fails in CI
// without them, skips elsewhere.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLineV8Flags } from '../cli/v8-settings.js';
import { BASE_IMAGE, DEBOOTSTRAP, ensureBaseImage } from './docker/base-image.js';
import { DOCKER, DOCKERD, startEngine, type Engine } from './docker/engine.js';
import { waitUntil } from './helpers/wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The build context: the repository, or another checkout of it (TRAINPILOT_DOCKER_CONTEXT). */
const CONTEXT = process.env.TRAINPILOT_DOCKER_CONTEXT ?? ROOT;
/** Outside the repo: the engine's data root holds whole file trees that test globbing must not see. */
const CACHE = process.env.TRAINPILOT_DOCKER_CACHE ?? '/var/tmp/trainpilot-docker';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGE = 'trainpilot:e2e';
const VOLUME = 'trainpilot-e2e-data';
const NAMES = ['trainpilot-e2e-1', 'trainpilot-e2e-2', 'trainpilot-e2e-defaults', 'trainpilot-pod-sidecar', 'trainpilot-pod-trainer', 'trainpilot-pod-trainer-2'];
/** The pod of deploy/kubernetes/pod-sidecar.yaml, as containers: the trainer's image and the hook's volume. */
const TRAINER_IMAGE = 'trainpilot-trainer:e2e';
const POD_VOLUMES = ['trainpilot-pod-hook', 'trainpilot-pod-data'];
const TOKEN = 'e2e-token-0123456789abcdef';
const TOKEN_IN_CONTAINER = '/run/secrets/trainpilot-token';

const missing = [DOCKERD, DOCKER, DEBOOTSTRAP].filter((p) => !existsSync(p));
if (process.getuid?.() !== 0) missing.push('root (dockerd and debootstrap need uid 0)');
const inCi = process.env.CI === 'true';

const log = (line: string) => process.stdout.write(`[docker] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** fetch with a deadline: a connection the port proxy accepts before the server listens can hang. */
const http = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });

/** The three slowest steps of a plain-progress BuildKit log ("#7 [build 2/7] RUN …", "#7 DONE 11.3s"). */
function slowestSteps(buildLog: string): string {
  const names = new Map([...buildLog.matchAll(/^#(\d+) (\[.*)$/gm)].map((m) => [m[1], m[2].slice(0, 60)]));
  return [...buildLog.matchAll(/^#(\d+) DONE (\d+\.\d+)s$/gm)]
    .map((m) => ({ name: names.get(m[1]) ?? `#${m[1]}`, s: Number(m[2]) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, 3)
    .map((x) => `${x.s.toFixed(1)} s ${x.name}`)
    .join('; ');
}

describe.skipIf(missing.length > 0 && !inCi)('Docker image', () => {
  let engine: Engine | undefined;
  let secrets = '';

  const docker = (args: string[], timeoutMs = 120_000) => {
    if (!engine) throw new Error('no docker engine');
    return engine.docker(args, { timeoutMs }).then((r) => r.stdout.trim());
  };

  /** Start a container from the image on the shared volume; resolve with its published ports. */
  async function runContainer(name: string): Promise<{ api: string; metrics: string }> {
    await docker([
      'run', '--detach', '--name', name,
      '--publish', '127.0.0.1::9477', '--publish', '127.0.0.1::9478',
      // As the Kubernetes manifests run it: read-only root, no capabilities, no privilege gain.
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--volume', `${VOLUME}:/data`,
      '--volume', `${join(secrets, 'token')}:${TOKEN_IN_CONTAINER}:ro`,
      // Publishing the API itself needs a non-loopback host, which needs the token.
      '--env', 'TRAINPILOT_HOST=0.0.0.0',
      '--env', `TRAINPILOT_TOKEN_FILE=${TOKEN_IN_CONTAINER}`,
      // The image's HEALTHCHECK command, run often enough to see it pass here.
      '--health-interval', '2s', '--health-start-period', '2s',
      IMAGE,
    ]);
    const port = async (p: number) => `http://${await docker(['port', name, `${p}/tcp`])}`.split('\n')[0];
    const urls = { api: await port(9477), metrics: await port(9478) };
    await waitFor(`${name} /healthz`, 60_000, async () => (await http(`${urls.api}/healthz`)).ok).catch(async (err: Error) => {
      const logs = await engine!.docker(['logs', '--tail', '30', name]).catch((e: Error) => ({ stdout: '', stderr: e.message }));
      throw new Error(`${err.message}\ncontainer log:\n${logs.stdout}${logs.stderr}`);
    });
    return urls;
  }

  const waitFor = (what: string, ms: number, probe: () => Promise<boolean>): Promise<true> =>
    waitUntil(what, async () => (await probe()) || undefined, { timeoutMs: ms, intervalMs: 250 });

  /** `docker stop` (with a grace period above the 10 s being checked); resolve with its duration and exit code. */
  async function stopContainer(name: string): Promise<{ ms: number; exitCode: number; oomKilled: string }> {
    const t0 = performance.now();
    await docker(['stop', '--time', '30', name], 60_000);
    const ms = performance.now() - t0;
    const [exitCode, oomKilled] = (await docker(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', name])).split(' ');
    log(`docker stop ${name}: ${(ms / 1000).toFixed(2)} s, exit ${exitCode}`);
    return { ms, exitCode: Number(exitCode), oomKilled };
  }

  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    if (missing.length) throw new Error(`the Docker end-to-end test needs: ${missing.join(', ')} (.ci/run installs docker.io and debootstrap)`);
    engine = await startEngine({ dataRoot: join(CACHE, 'engine') });
    for (const name of NAMES) await docker(['rm', '--force', name]).catch(() => undefined);
    for (const v of [VOLUME, ...POD_VOLUMES]) await docker(['volume', 'rm', '--force', v]).catch(() => undefined);
    await ensureBaseImage(engine, CACHE, log);

    const args = ['build', '--progress', 'plain', '--tag', IMAGE];
    if (existsSync(CA_BUNDLE)) args.push('--secret', `id=ca,src=${CA_BUNDLE}`);
    if (process.env.TRAINPILOT_DOCKER_NO_CACHE === '1') args.push('--no-cache');
    const t0 = performance.now();
    const build = await engine.docker([...args, CONTEXT], { timeoutMs: 40 * 60_000 });
    const buildS = (performance.now() - t0) / 1000;
    await writeFile(join(CACHE, 'build.log'), build.stderr);
    log(`slowest build steps: ${slowestSteps(build.stderr)}`);
    const size = async (image: string) => (Number(await docker(['image', 'inspect', '--format', '{{.Size}}', image])) / 1e6).toFixed(1);
    log(`docker build: ${buildS.toFixed(1)} s; image ${IMAGE}: ${await size(IMAGE)} MB (base ${BASE_IMAGE}: ${await size(BASE_IMAGE)} MB)`);

    secrets = await mkdtemp(join(tmpdir(), 'tp-secrets-'));
    // Readable by the image's non-root user through the bind mount.
    await writeFile(join(secrets, 'token'), `${TOKEN}\n`, { mode: 0o444 });
  }, 45 * 60_000);

  afterAll(async () => {
    if (engine) {
      for (const name of NAMES) await docker(['rm', '--force', name]).catch(() => undefined);
      for (const v of [VOLUME, ...POD_VOLUMES]) await docker(['volume', 'rm', '--force', v]).catch(() => undefined);
      // Superseded builds of the image and old build cache; the base image and recent cache stay for the next run.
      await docker(['image', 'prune', '--force']).catch(() => undefined);
      await docker(['builder', 'prune', '--force', '--keep-storage', '3gb']).catch(() => undefined);
      await engine.stop();
    }
    if (secrets) await rm(secrets, { recursive: true, force: true });
  }, 120_000);

  it('is configured as a non-root sidecar with a health check and a /data volume', async () => {
    const config = JSON.parse(await docker(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
      User: string; Entrypoint: string[]; Cmd: string[]; Volumes: Record<string, unknown>;
      ExposedPorts: Record<string, unknown>; Healthcheck?: { Test: string[] };
    };
    expect(config.User).toBe('10001:10001');
    // node's command-line V8 flags for the V8 the image's Node has (cli/v8-settings.ts), then the launcher.
    const v8Major = Number((await docker(['run', '--rm', '--entrypoint', 'node', IMAGE, '-p', 'process.versions.v8'])).split('.')[0]);
    expect(config.Entrypoint).toEqual(['node', ...commandLineV8Flags(v8Major), '/app/bin/trainpilot.js']);
    expect(config.Cmd[0]).toBe('serve');
    // The launcher on PATH (for `docker exec … trainpilot status`) runs through its own shebang.
    expect(await docker(['run', '--rm', '--entrypoint', 'trainpilot', IMAGE, '--version'])).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(config.Volumes)).toEqual(['/data']);
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['9477/tcp', '9478/tcp']);
    expect(config.Healthcheck?.Test[0]).toBe('CMD');
  });

  it('by default serves /metrics and /healthz to the outside and keeps the API on loopback', async () => {
    const name = NAMES[2];
    await docker(['run', '--detach', '--name', name, '--publish', '127.0.0.1::9477', '--publish', '127.0.0.1::9478', IMAGE]);
    const port = async (p: number) => `http://${(await docker(['port', name, `${p}/tcp`])).split('\n')[0]}`;
    const metrics = await port(9478);
    await waitFor(`${name} /healthz`, 60_000, async () => (await http(`${metrics}/healthz`)).ok);
    expect(await (await http(`${metrics}/metrics`)).text()).toMatch(/^trainpilot_\w+/m);
    // Nothing listens on the container's own address for the API: the published port leads nowhere.
    await expect(http(`${await port(9477)}/healthz`)).rejects.toThrow();
    expect((await stopContainer(name)).exitCode).toBe(0);
    await docker(['rm', '--volumes', name]);
  }, 2 * 60_000);

  it('serves, runs as non-root, keeps a run across containers on one volume, and stops cleanly', async () => {
    const first = await runContainer(NAMES[0]);

    const health = await http(`${first.api}/healthz`);
    expect(health.status).toBe(200);
    // The metrics listener answers without a token; the API's /metrics only with one.
    const open = await http(`${first.metrics}/metrics`);
    expect(open.status).toBe(200);
    expect(await open.text()).toMatch(/^trainpilot_\w+/m);
    expect((await http(`${first.api}/metrics`)).status).toBe(401);
    expect((await http(`${first.api}/metrics`, { headers: auth })).status).toBe(200);
    expect((await http(`${first.metrics}/v1/runs`)).status).toBe(404);

    // The serving process itself, seen from the host: its real, effective, saved and fs uids.
    const pid = await docker(['inspect', '--format', '{{.State.Pid}}', NAMES[0]]);
    const uids = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1].trim().split(/\s+/);
    expect(uids).toEqual(['10001', '10001', '10001', '10001']);

    await waitFor('HEALTHCHECK healthy', 60_000, async () =>
      (await docker(['inspect', '--format', '{{.State.Health.Status}}', NAMES[0]])) === 'healthy');

    const registered = await http(`${first.api}/v1/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'docker-e2e', config: { batch_size: 32, learning_rate: 0.001, num_workers: 2 } }),
    });
    expect(registered.status).toBe(201);
    const run = (await registered.json()) as { id: string };
    // Timestamps of now: retention (7 d) drops older ones when the store opens.
    const t0 = Date.now() / 1000 - 10;
    const steps = [1, 2, 3].map((step) => ({ step, duration_s: 0.1 * step, data_wait_s: 0.01, samples: 32, loss: 2 / step, ts: t0 + step }));
    const posted = await http(`${first.api}/v1/runs/${run.id}/steps`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ steps }),
    });
    expect(posted.status).toBe(202);

    const stop1 = await stopContainer(NAMES[0]);
    expect(stop1.exitCode).toBe(0);
    expect(stop1.oomKilled).toBe('false');
    // The issue's explicit bound: SIGTERM ends it well before docker's SIGKILL.
    expect(stop1.ms).toBeLessThan(10_000);
    // It stopped through its own SIGTERM handler, not by being killed.
    const logs = await engine!.docker(['logs', NAMES[0]]);
    expect(logs.stderr).toMatch(/SIGTERM, shutting down/);

    // A new container, the same volume: the run and its steps are still there.
    const second = await runContainer(NAMES[1]);
    const page = (await (await http(`${second.api}/v1/runs/${run.id}/steps`, { headers: auth })).json()) as {
      steps: { step: number; duration_s: number; samples: number }[];
    };
    expect(page.steps.map((s) => [s.step, s.duration_s, s.samples])).toEqual(steps.map((s) => [s.step, s.duration_s, s.samples]));
    const again = (await (await http(`${second.api}/v1/runs/${run.id}`, { headers: auth })).json()) as { name: string };
    expect(again.name).toBe('docker-e2e');

    const stop2 = await stopContainer(NAMES[1]);
    expect(stop2.exitCode).toBe(0);
    expect(stop2.ms).toBeLessThan(10_000);
  }, 5 * 60_000);

  // deploy/kubernetes/pod-sidecar.yaml, as containers (issue 25): the hook copied into a volume by
  // the init step, the sidecar, and a trainer image with nothing of trainpilot in it (Debian's
  // python3-torch on the same locally made bookworm base) running an unmodified script, sharing
  // the sidecar's loopback and process namespace and the hook volume read-only.
  it('zero-code in a pod: an unmodified script in a trainer without trainpilot reports every step, takes new workers at an epoch start and ends its run', async () => {
    const [SIDECAR, TRAINER] = [NAMES[3], NAMES[4]];
    const [HOOK_VOLUME, DATA_VOLUME] = POD_VOLUMES;
    const context = await mkdtemp(join(tmpdir(), 'tp-trainer-'));
    try {
      await copyFile(join(ROOT, 'test/fixtures/zero-code/loop.py'), join(context, 'train.py'));
      await writeFile(join(context, 'Dockerfile'), [
        `FROM ${BASE_IMAGE}`,
        'RUN apt-get update && apt-get install -y --no-install-recommends python3-torch && rm -rf /var/lib/apt/lists/*',
        'COPY train.py /workspace/train.py',
        'CMD ["python3", "/workspace/train.py"]',
        '',
      ].join('\n'));
      const t0 = performance.now();
      await engine!.docker(['build', '--progress', 'plain', '--tag', TRAINER_IMAGE, context], { timeoutMs: 40 * 60_000 });
      log(`trainer image (python3-torch): built in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `${(Number(await docker(['image', 'inspect', '--format', '{{.Size}}', TRAINER_IMAGE])) / 1e6).toFixed(1)} MB`);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
    // Nothing of trainpilot in the trainer's image.
    expect(await docker(['run', '--rm', TRAINER_IMAGE, 'python3', '-c',
      'import importlib.util as u; print(u.find_spec("trainpilot"), u.find_spec("torch") is not None)'])).toBe('None True');

    const t1 = performance.now();
    const hardened = ['--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
    // The emptyDir, group-writable for uid 10001 as the pod's fsGroup makes it, filled by the init step.
    await docker(['run', '--rm', '--user', '0:0', '--entrypoint', 'chown', '--volume', `${HOOK_VOLUME}:/trainpilot-hook`, IMAGE, '10001:10001', '/trainpilot-hook']);
    const printed = await docker(['run', '--rm', ...hardened, '--volume', `${HOOK_VOLUME}:/trainpilot-hook`, IMAGE, 'hook-path', '--copy-to', '/trainpilot-hook']);
    expect(printed).toBe('/trainpilot-hook/hook');
    // The sidecar holds the pod's namespaces here (a pod's pause container does in Kubernetes).
    await docker(['run', '--detach', '--name', SIDECAR, ...hardened, '--volume', `${DATA_VOLUME}:/data`, IMAGE]);
    const inPod = async <T>(method: string, path: string, body?: unknown): Promise<T> => JSON.parse(await docker(['exec', SIDECAR, 'node', '-e',
      "fetch('http://127.0.0.1:9477'+process.argv[1],{method:process.argv[2],headers:{'content-type':'application/json'},body:process.argv[3]||undefined})" +
      ".then(async r=>{const t=await r.text();if(!r.ok){console.error(r.status,t);process.exit(1)}process.stdout.write(t)},e=>{console.error(e.message);process.exit(1)})",
      path, method, body === undefined ? '' : JSON.stringify(body)])) as T;
    await waitFor('the sidecar answers in the pod', 60_000, () => inPod('GET', '/healthz').then(() => true, () => false));

    const trainer = (name: string, args: string[]) => docker(['run', '--detach', '--name', name,
      '--network', `container:${SIDECAR}`, '--pid', `container:${SIDECAR}`,
      '--volume', `${HOOK_VOLUME}:/trainpilot-hook:ro`,
      '--env', 'PYTHONPATH=/trainpilot-hook/hook', '--env', 'TRAINPILOT_URL=http://127.0.0.1:9477', '--env', 'TRAINPILOT_TUNE=off',
      TRAINER_IMAGE, 'python3', '/workspace/train.py', ...args]);
    type Run = { id: string; name: string; pid: number; state: string; config: Record<string, number> | null; config_version: number };
    const samples = 160;
    const batch = 8;
    await trainer(TRAINER, ['--epochs', '8', '--samples', String(samples), '--batch-size', String(batch), '--transform-ms', '1', '--device-ms', '4']);
    // The version the tuner would push (tune off: the tuner's own moves depend on the machine's load).
    let run: Run | undefined;
    await waitFor('the trainer registers its run', 120_000, async () => {
      run = (await inPod<{ runs: Run[] }>('GET', '/v1/runs')).runs[0];
      return !!run && run.config_version >= 1;
    });
    const pushed = await inPod<{ config_version: number }>('PUT', `/v1/runs/${run!.id}/config`, { config: { ...run!.config, num_workers: 1 }, reason: 'pod e2e' });
    const exitCode = Number(await docker(['wait', TRAINER], 5 * 60_000));
    const out = await engine!.docker(['logs', TRAINER]);
    expect(exitCode, out.stderr).toBe(0);

    type Step = { step: number; duration_s: number; data_wait_s: number; samples: number; config_version: number | null };
    type Ev = { kind: string; step: number | null; data: Record<string, any> };
    const lines = out.stdout.trimEnd().split('\n');
    const result = JSON.parse(lines.find((l) => l.startsWith('result: '))!.slice(8)) as { steps: number; wait_ratio: number };
    const workers = lines.map((l) => /^epoch \d+: workers (\d+)/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
    const runs = (await inPod<{ runs: Run[] }>('GET', '/v1/runs')).runs;
    const steps = (await inPod<{ steps: Step[] }>('GET', `/v1/runs/${run!.id}/steps?limit=10000`)).steps;
    const events = (await inPod<{ events: Ev[] }>('GET', `/v1/runs/${run!.id}/events?limit=10000`)).events;
    const ack = events.find((e) => e.kind === 'config_applied' && e.data.version === pushed.config_version);
    const end = events.find((e) => e.kind === 'finished' || e.kind === 'failed');
    const wait = steps.reduce((a, x) => a + x.data_wait_s, 0) / steps.reduce((a, x) => a + x.duration_s, 0);
    log(`pod: ${steps.length} steps stored, ${result.steps} counted by the script; data wait ${wait.toFixed(3)} stored, ` +
      `${result.wait_ratio.toFixed(3)} by the script; workers by epoch ${workers.join(',')}; v${pushed.config_version} applied at step ${ack?.step}; ` +
      `end ${end?.kind} exit ${end?.data.exit_code}; trainer exit ${exitCode}`);
    expect(runs.map((r) => r.name)).toEqual(['train.py']);
    expect(runs[0].pid).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^(epoch \d+: workers \d+, [\d.]+ samples\/s, wait [\d.]+|result: \{.*\})$/);
    expect(steps.length).toBe(result.steps);
    expect(steps.every((x) => x.samples === batch)).toBe(true);
    expect(Math.abs(wait - result.wait_ratio)).toBeLessThanOrEqual(0.1 * result.wait_ratio);
    expect(ack, JSON.stringify(events.map((e) => e.kind))).toBeDefined();
    expect(ack!.step! % (samples / batch)).toBe(0);
    expect(workers).toEqual(workers.map((_, i) => (i < ack!.step! / (samples / batch) ? 0 : 1)));
    expect([end?.kind, end?.data.exit_code]).toEqual(['finished', 0]);
    expect((await inPod<Run>('GET', `/v1/runs/${run!.id}`)).state).toBe('finished');

    // A second job in the same pod that exits 3: its own run, failed with that code.
    const second = NAMES[5];
    await trainer(second, ['--epochs', '1', '--samples', '64', '--batch-size', '8', '--transform-ms', '0', '--exit', '3']);
    expect(Number(await docker(['wait', second], 5 * 60_000))).toBe(3);
    await docker(['rm', second]);
    const failed = (await inPod<{ runs: Run[] }>('GET', '/v1/runs')).runs[0];
    const ends = (await inPod<{ events: Ev[] }>('GET', `/v1/runs/${failed.id}/events?limit=10000`)).events.filter((e) => e.kind === 'failed' || e.kind === 'finished');
    expect(ends.map((e) => [e.kind, e.data.exit_code])).toEqual([['failed', 3]]);
    log(`pod: two jobs, runs ${runs[0].id} finished 0 and ${failed.id} failed 3, in ${((performance.now() - t1) / 1000).toFixed(1)} s (image build excluded)`);

    expect((await stopContainer(SIDECAR)).exitCode).toBe(0);
  }, 45 * 60_000);
});
