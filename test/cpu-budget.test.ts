// The job's CPU budget, never the sidecar's: parsed from /proc/PID and cgroup fixtures (v1 and
// v2, nested quotas, a path from another cgroup namespace), then with real cgroups (v1 here,
// writable as root): a job limited to 1 core is budgeted 1 core; a real sidecar limited to half a
// core watching an unlimited job budgets the job's cores; a client's own report wins.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { affinityFromStatus, cgroupQuota, parseCpuList, parseProcCgroup, readProcessCpuBudget } from '../collectors/cpu-budget.js';
import { startCli } from './cli-helpers.js';
import { registerRun, testApp } from './helpers/app.js';
import { createTunerPorts } from '../server/runs/tuner-ports.js';

const V1 = '/sys/fs/cgroup/cpu';

function canUseCgroups(): boolean {
  try {
    const probe = join(V1, `tp-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}
const cgroups = canUseCgroups();
if (!cgroups && process.env.CI === 'true') throw new Error(`the CPU budget tests need a writable cgroup v1 cpu hierarchy at ${V1} (run as root)`);

const made: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  // A cgroup can be removed once its processes are gone; give the kernel a moment.
  const deadline = Date.now() + 5000;
  for (const dir of made.reverse()) {
    while (existsSync(dir)) {
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(V1, 'cgroup.procs'), pid);
        rmdirSync(dir);
      } catch {
        if (Date.now() > deadline) break;
      }
    }
  }
});

function cgroup(name: string, quotaUs: number, periodUs = 100000): string {
  const dir = join(V1, `tp-test-${process.pid}-${name}`);
  mkdirSync(dir);
  made.push(dir);
  writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  return dir;
}

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('parsing the budget of a process', () => {
  it('counts a cpulist and reads Cpus_allowed_list', () => {
    expect(parseCpuList('0-3,8,10-11')).toBe(7);
    expect(parseCpuList('5')).toBe(1);
    expect(parseCpuList('3-1')).toBeNull();
    expect(parseCpuList('')).toBeNull();
    expect(affinityFromStatus('Name:\tpython3\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\n')).toBe(8);
  });

  it('parses /proc/PID/cgroup on v1, v2 and hybrid hosts', () => {
    expect(parseProcCgroup('0::/kubepods.slice/pod1/cri-containerd-abc.scope\n')).toEqual({ v2: '/kubepods.slice/pod1/cri-containerd-abc.scope', v1Cpu: null });
    expect(parseProcCgroup('12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n')).toEqual({ v2: '/', v1Cpu: { controllers: 'cpu,cpuacct', path: '/docker/abc' } });
  });

  it('v2 fixture: the tightest cpu.max along the path counts (a pod limit caps its container)', () => {
    const root = mkdtempSync(join(tmpdir(), 'tp-cg2-'));
    try {
      mkdirSync(join(root, 'kubepods', 'pod1', 'ctr'), { recursive: true });
      writeFileSync(join(root, 'cpu.max'), 'max 100000\n');
      writeFileSync(join(root, 'kubepods', 'pod1', 'cpu.max'), '250000 100000\n');
      writeFileSync(join(root, 'kubepods', 'pod1', 'ctr', 'cpu.max'), 'max 100000\n');
      const proc = join(root, 'proc');
      mkdirSync(join(proc, '4242'), { recursive: true });
      writeFileSync(join(proc, '4242', 'status'), 'Name:\tpython\nCpus_allowed_list:\t0-15\n');
      writeFileSync(join(proc, '4242', 'cgroup'), '0::/kubepods/pod1/ctr\n');
      const b = readProcessCpuBudget(4242, { procRoot: proc, cgroupRoot: root })!;
      expect(b.cores).toBe(2.5);
      expect(b.source).toContain(join(root, 'kubepods', 'pod1', 'cpu.max'));
      expect(b.source).toContain('affinity 16 CPUs');
      // A path from another cgroup namespace cannot be followed from here: affinity only, said so.
      writeFileSync(join(proc, '4242', 'cgroup'), '0::/../other/ctr\n');
      expect(readProcessCpuBudget(4242, { procRoot: proc, cgroupRoot: root })).toMatchObject({ cores: 16, source: expect.stringContaining('no cgroup quota') });
      // Gone, or unreadable: no budget at all (the caller falls back), never the sidecar's own.
      expect(readProcessCpuBudget(999999, { procRoot: proc, cgroupRoot: root })).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('v1 fixture: cpu.cfs_quota_us over cpu.cfs_period_us under the cpu controller\'s mount', () => {
    const root = mkdtempSync(join(tmpdir(), 'tp-cg1-'));
    try {
      mkdirSync(join(root, 'cpu,cpuacct', 'docker', 'abc'), { recursive: true });
      writeFileSync(join(root, 'cpu,cpuacct', 'cpu.cfs_quota_us'), '-1\n');
      writeFileSync(join(root, 'cpu,cpuacct', 'cpu.cfs_period_us'), '100000\n');
      writeFileSync(join(root, 'cpu,cpuacct', 'docker', 'abc', 'cpu.cfs_quota_us'), '150000\n');
      writeFileSync(join(root, 'cpu,cpuacct', 'docker', 'abc', 'cpu.cfs_period_us'), '100000\n');
      const q = cgroupQuota(parseProcCgroup('3:cpu,cpuacct:/docker/abc\n'), root);
      expect(q?.cores).toBe(1.5);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!cgroups && process.env.CI !== 'true')('with real cgroups (v1)', () => {
  it('a job limited to 1 core by its own cgroup is budgeted 1 core', async () => {
    const dir = cgroup('job1', 100000);
    const job = sleeper();
    writeFileSync(join(dir, 'cgroup.procs'), String(job.pid));
    const b = readProcessCpuBudget(job.pid!)!;
    expect(b.cores).toBe(1);
    expect(b.source).toContain(join(dir, 'cpu.cfs_quota_us'));
    // The same through the sidecar's tuner ports, for a run that names the job's pid.
    const t = await testApp();
    try {
      const id = await registerRun(t.app, { name: 'limited', pid: job.pid, config: { batch_size: 8, learning_rate: 0.1, num_workers: 0, grad_accum_steps: 1 } });
      expect(createTunerPorts(t.runs).cpuBudget!(id)?.cores).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('a real sidecar limited to half a core watching an unlimited job budgets the job\'s cores, and a client report wins', async () => {
    const dir = cgroup('sidecar', 50000);
    const job = sleeper();
    const data = mkdtempSync(join(tmpdir(), 'tp-budget-'));
    const sidecar = startCli(['serve', '--port', '0', '--db', join(data, 'tp.db')]);
    children.push(sidecar.proc);
    try {
      writeFileSync(join(dir, 'cgroup.procs'), String(sidecar.proc.pid));
      const base = await servingUrl(sidecar);
      const post = async (path: string, body: unknown) => {
        const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(r.status, await r.clone().text()).toBeLessThan(300);
        return r.json() as Promise<{ id: string }>;
      };
      const cfg = { batch_size: 8, learning_rate: 0.1, num_workers: 0, grad_accum_steps: 1 };
      const watched = await post('/v1/runs', { name: 'unlimited', pid: job.pid, config: cfg });
      const reported = await post('/v1/runs', { name: 'reported', config: cfg, cpu_budget: { cores: 3, source: 'sched_getaffinity 3 CPUs' } });
      const evidenceOf = async (id: string) => {
        for (let i = 0; i < 100; i++) {
          const r = await (await fetch(`${base}/v1/runs/${id}`)).json() as { bottleneck: { evidence: Record<string, unknown> } | null };
          if (r.bottleneck?.evidence?.cpu_budget_cores != null) return r.bottleneck.evidence;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error(`no cpu_budget_cores in run ${id}'s evidence`);
      };
      const e1 = await evidenceOf(watched.id);
      expect(e1.cpu_budget_cores).toBe(affinityCount());
      expect(String(e1.cpu_budget_source)).toContain(`/proc/${job.pid}/status`);
      const e2 = await evidenceOf(reported.id);
      expect(e2.cpu_budget_cores).toBe(3);
      expect(String(e2.cpu_budget_source)).toMatch(/reported by the job/);
      // The sidecar itself was limited: its own budget (0.5) shows nowhere.
      expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8')).toContain(String(sidecar.proc.pid));
    } finally {
      sidecar.proc.kill('SIGTERM');
      await sidecar.done;
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);
});

/** CPUs in this test process's affinity mask: the unlimited job's, as it inherits ours. */
function affinityCount(): number {
  return affinityFromStatus(readFileSync('/proc/self/status', 'utf8')) ?? availableParallelism();
}

/** The URL the sidecar's start-up line names (it prints it on stderr, with the other log lines). */
async function servingUrl(p: ReturnType<typeof startCli>): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const m = /serving on (http:\/\/[^\s,]+)/.exec(p.stdout() + p.stderr());
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the sidecar never said where it serves\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
}
