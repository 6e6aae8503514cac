import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, type ExecOptions, type ExecResult } from './exec.js';

/**
 * Debian's docker.io package. The client is named by path: another `docker`
 * earlier on PATH may lack BuildKit's `--secret`.
 */
export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER = '/usr/bin/docker';

export interface Engine {
  /** Run the docker client against this engine. */
  docker(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Environment that points a docker client at this engine (DOCKER_HOST, BuildKit on). */
  readonly env: NodeJS.ProcessEnv;
  /** Stop the engine (SIGTERM, then SIGKILL) and remove its runtime directory. */
  stop(): Promise<void>;
}

export interface EngineOptions {
  /** Persistent data root (images, build cache, volumes); kept between runs. */
  dataRoot: string;
  /** How long to wait for the engine to answer. */
  startTimeoutMs?: number;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Start a private dockerd: its own data root, exec root, pid file and unix
 * socket, so it neither needs nor disturbs a system daemon. The runtime
 * directory lives under the system temp dir because unix socket paths are
 * limited to about 100 bytes.
 */
export async function startEngine(opts: EngineOptions): Promise<Engine> {
  await mkdir(opts.dataRoot, { recursive: true });
  const runDir = await mkdtemp(join(tmpdir(), 'tp-dockerd-'));
  const socket = join(runDir, 'docker.sock');
  const logPath = join(runDir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    DOCKERD,
    [
      '--data-root', opts.dataRoot,
      '--exec-root', join(runDir, 'exec'),
      // In the data root, not the run dir: a second daemon on the same data
      // root (a run left behind) then refuses to start instead of corrupting it.
      '--pidfile', join(opts.dataRoot, 'dockerd.pid'),
      '--host', `unix://${socket}`,
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);

  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: '1' };
  const docker = (args: readonly string[], o: ExecOptions = {}) => exec(DOCKER, args, { ...o, env: o.env ?? env });
  const logTail = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-3000) : '');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await exited(child, 30_000))) {
        child.kill('SIGKILL');
        await exited(child, 5_000);
      }
    }
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = logTail();
      await stop();
      throw new Error(`dockerd exited at start (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 });
      return { docker, env, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        const log = logTail();
        await stop();
        throw new Error(`dockerd did not answer in time: ${(err as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
