// deploy/kubernetes/: every manifest against the Kubernetes schemas (kubernetes-models' validators),
// strict field names (as `kubectl apply --validate=strict`, through TypeScript's excess-property
// check on the models' types), the PodMonitor CRD's shape, and the wiring between the files, the
// image and the CLI: ports, probes, labels, the non-root user, the TRAINPILOT_* variables.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { LabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Pod, type IPod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { envName } from '../cli/flags.js';
import { copyHook } from '../cli/hook-path.js';
import { SERVE_FLAGS } from '../cli/serve-options.js';
import { commandLineV8Flags } from '../cli/v8-settings.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'deploy/kubernetes');

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: any };
interface Loaded { file: string; doc: Doc }

function load(): Loaded[] {
  const out: Loaded[] = [];
  for (const file of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'), { uniqueKeys: true })) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      if (d.contents !== null) out.push({ file, doc: d.toJS() as Doc });
    }
  }
  return out;
}

/** The built-in kinds the manifests may use: their schema validator and their TypeScript type. */
const BUILTIN: Record<string, { validate: (d: Doc) => void; type: string; from: string }> = {
  'v1/Pod': { validate: (d) => new Pod(d as IPod).validate(), type: 'IPod', from: 'kubernetes-models/v1/Pod' },
  'apps/v1/DaemonSet': { validate: (d) => new DaemonSet(d as IDaemonSet).validate(), type: 'IDaemonSet', from: 'kubernetes-models/apps/v1/DaemonSet' },
};
const key = (d: Doc) => `${d.apiVersion}/${d.kind}`;

/**
 * Unknown fields, which the JSON schemas let through: each document type-checked as an object
 * literal of its model's type, in a file that exists only in memory. Returns the errors.
 */
function unknownFields(docs: Loaded[]): string[] {
  const file = join(ROOT, 'test', '__kubernetes_fields__.ts');
  const source = docs
    .map(({ doc }, i) => `import type { ${BUILTIN[key(doc)].type} as T${i} } from '${BUILTIN[key(doc)].from}';\nexport const d${i}: T${i} = ${JSON.stringify(doc, null, 1)};\n`)
    .join('');
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, source, lang) : getSourceFile.call(host, f, lang, ...rest));
  host.fileExists = (f) => f === file || fileExists.call(host, f);
  host.readFile = (f) => (f === file ? source : readFile.call(host, f));
  return ts.getPreEmitDiagnostics(ts.createProgram([file], options, host)).map((d) => {
    const at = d.file && d.start !== undefined ? /^export const d(\d+)/m.exec(source.slice(0, d.start).split('\n').reverse().find((l) => l.startsWith('export const')) ?? '') : null;
    const where = at ? docs[Number(at[1])].file : '?';
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** Prometheus duration, as the PodMonitor CRD's pattern (monitoring.coreos.com/v1 Duration). */
const DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
const seconds = (d: string) =>
  [...d.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)].reduce((s, [, n, u]) => s + Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[u]!, 0);
const ENDPOINT_FIELDS = new Set(['port', 'portNumber', 'targetPort', 'path', 'scheme', 'params', 'interval', 'scrapeTimeout', 'honorLabels', 'honorTimestamps', 'relabelings', 'metricRelabelings', 'followRedirects', 'enableHttp2', 'filterRunning', 'proxyUrl', 'tlsConfig', 'authorization', 'basicAuth', 'bearerTokenSecret', 'oauth2']);

/** What is wrong with a PodMonitor (a CRD: no generated validator here). */
function podMonitorProblems(d: Doc): string[] {
  const p: string[] = [];
  try { new ObjectMeta(d.metadata).validate(); } catch (e) { p.push(`metadata: ${(e as Error).message}`); }
  if (!d.metadata?.name || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(d.metadata.name)) p.push('metadata.name: not a DNS-1123 name');
  const spec = d.spec ?? {};
  for (const k of Object.keys(spec)) if (!['selector', 'podMetricsEndpoints', 'namespaceSelector', 'jobLabel', 'podTargetLabels', 'sampleLimit', 'targetLimit'].includes(k)) p.push(`spec.${k}: unknown field`);
  try { new LabelSelector(spec.selector).validate(); } catch (e) { p.push(`spec.selector: ${(e as Error).message}`); }
  if (!spec.selector?.matchLabels && !spec.selector?.matchExpressions) p.push('spec.selector: empty (would select every pod)');
  const eps: any[] = Array.isArray(spec.podMetricsEndpoints) ? spec.podMetricsEndpoints : [];
  if (!eps.length) p.push('spec.podMetricsEndpoints: none');
  eps.forEach((ep, i) => {
    const at = `spec.podMetricsEndpoints[${i}]`;
    for (const k of Object.keys(ep)) if (!ENDPOINT_FIELDS.has(k)) p.push(`${at}.${k}: unknown field`);
    if (typeof ep.port !== 'string' || !ep.port) p.push(`${at}.port: not a port name`);
    if (ep.path !== undefined && !String(ep.path).startsWith('/')) p.push(`${at}.path: not absolute`);
    if (ep.scheme !== undefined && !['http', 'https'].includes(ep.scheme)) p.push(`${at}.scheme: not http or https`);
    for (const f of ['interval', 'scrapeTimeout']) if (ep[f] !== undefined && !DURATION.test(ep[f])) p.push(`${at}.${f}: not a duration`);
    if (ep.interval && ep.scrapeTimeout && seconds(ep.scrapeTimeout) > seconds(ep.interval)) p.push(`${at}.scrapeTimeout: longer than interval`);
    for (const r of ep.relabelings ?? []) {
      if (!(r.sourceLabels ?? []).every((l: string) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l))) p.push(`${at}.relabelings: bad source label`);
      if (r.targetLabel !== undefined && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(r.targetLabel)) p.push(`${at}.relabelings: bad target label`);
    }
  });
  return p;
}

const docs = load();
const byKind = (kind: string) => docs.filter((l) => l.doc.kind === kind);
const podSpecs = (): { file: string; labels: Record<string, string>; spec: IPodSpec }[] => [
  ...byKind('Pod').map(({ file, doc }) => ({ file, labels: doc.metadata?.labels ?? {}, spec: doc.spec as IPodSpec })),
  ...byKind('DaemonSet').map(({ file, doc }) => ({ file, labels: doc.spec.template.metadata?.labels ?? {}, spec: doc.spec.template.spec as IPodSpec })),
];
const trainpilotIn = (spec: IPodSpec): IContainer => {
  const c = [...(spec.initContainers ?? []), ...spec.containers].find((x) => x.name === 'trainpilot');
  if (!c) throw new Error('no container named trainpilot');
  return c;
};
const envOf = (c: IContainer) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** The V8 major version each Node release line ships; the Dockerfile pins the line (ARG NODE_IMAGE). */
const V8_OF_NODE: Record<number, number> = { 20: 11, 22: 12, 24: 13 };

describe('deploy/kubernetes', () => {
  it('holds a Pod with the sidecar, a DaemonSet and a PodMonitor, and nothing unrecognised', () => {
    expect(docs.map((l) => l.doc.kind).sort()).toEqual(['DaemonSet', 'Pod', 'PodMonitor']);
    for (const { file, doc } of docs) {
      if (doc.kind !== 'PodMonitor') expect(BUILTIN[key(doc)], `${file}: ${key(doc)}`).toBeDefined();
    }
  });

  it('passes the Kubernetes schemas', () => {
    for (const { file, doc } of docs.filter((l) => BUILTIN[key(l.doc)])) {
      expect(() => BUILTIN[key(doc)].validate(doc), file).not.toThrow();
    }
  });

  it('uses no unknown field (and the check catches one)', () => {
    const builtins = docs.filter((l) => BUILTIN[key(l.doc)]);
    expect(unknownFields(builtins)).toEqual([]);
    const typo = structuredClone(builtins[0]);
    (typo.doc.spec as Record<string, unknown>).shareProcesNamespace = true;
    expect(unknownFields([typo]).join('\n')).toMatch(/shareProcesNamespace/);
  }, 60_000);

  it('has a well-formed PodMonitor (and the check catches a bad one)', () => {
    const [monitor] = byKind('PodMonitor');
    expect(monitor.doc.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(podMonitorProblems(monitor.doc)).toEqual([]);
    const bad = structuredClone(monitor.doc);
    bad.spec.podMetricsEndpoints[0].interval = '15 seconds';
    bad.spec.podMetricsEndpoints[0].prot = 'metrics';
    expect(podMonitorProblems(bad)).toEqual(expect.arrayContaining([expect.stringMatching(/interval: not a duration/), expect.stringMatching(/prot: unknown field/)]));
  });

  it('has the PodMonitor select every trainpilot pod on its metrics port', () => {
    const ep = byKind('PodMonitor')[0].doc.spec;
    for (const { file, labels, spec } of podSpecs()) {
      for (const [k, v] of Object.entries(ep.selector.matchLabels as Record<string, string>)) expect(labels[k], `${file}: label ${k}`).toBe(v);
      const port = trainpilotIn(spec).ports?.find((p) => p.name === ep.podMetricsEndpoints[0].port);
      expect(port, `${file}: port ${ep.podMetricsEndpoints[0].port}`).toBeDefined();
      expect(envOf(trainpilotIn(spec)).TRAINPILOT_METRICS_LISTEN).toBe(`0.0.0.0:${port!.containerPort}`);
    }
  });

  it('runs trainpilot as the image\'s non-root user with only trainpilot\'s own settings', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(user).not.toBeNull();
    const known = new Set([...SERVE_FLAGS.map((f) => envName(f.name)), 'TRAINPILOT_TOKEN']);
    for (const { file, spec } of podSpecs()) {
      const c = trainpilotIn(spec);
      const sc = c.securityContext ?? {};
      expect([sc.runAsNonRoot, sc.runAsUser, sc.runAsGroup, sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem], file).toEqual([true, Number(user![1]), Number(user![2]), false, true]);
      expect(sc.capabilities?.drop, file).toEqual(['ALL']);
      const env = envOf(c);
      for (const name of Object.keys(env).filter((n) => n.startsWith('TRAINPILOT_'))) expect(known, `${file}: ${name}`).toContain(name);
      // The API stays on loopback: no token needed, nothing exposed but /metrics and /healthz.
      expect(env.TRAINPILOT_HOST, file).toBe('127.0.0.1');
      // The store sits on a mounted volume (the root filesystem is read-only).
      const mount = c.volumeMounts?.find((m) => m.mountPath === posix.dirname(env.TRAINPILOT_DB));
      expect(mount, `${file}: mount for ${env.TRAINPILOT_DB}`).toBeDefined();
      expect(spec.volumes?.map((v) => v.name), file).toContain(mount!.name);
      for (const probe of [c.startupProbe, c.livenessProbe]) {
        expect(probe?.httpGet?.path, file).toBe('/healthz');
        expect(c.ports?.map((p) => p.name), file).toContain(probe?.httpGet?.port);
      }
      expect(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, file).toBeTruthy();
      expect(c.args, file).toEqual(['serve']);
    }
  });

  it("starts node with the V8 flags for the image's Node, as the Dockerfile's ENTRYPOINT does", () => {
    const nodeMajor = Number(/^ARG NODE_IMAGE=node:(\d+)/m.exec(dockerfile)?.[1]);
    expect(V8_OF_NODE[nodeMajor], `Node ${nodeMajor}: add its V8 major to V8_OF_NODE`).toBeDefined();
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? 'null') as string[] | null;
    expect(entrypoint).toEqual(['node', ...commandLineV8Flags(V8_OF_NODE[nodeMajor]), '/app/bin/trainpilot.js']);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/bin \.\/bin$/m);
    for (const { file, spec } of podSpecs()) expect(trainpilotIn(spec).command, file).toEqual(entrypoint);
  });

  it('pairs the trainer with a native sidecar that shares its processes, loopback and GPU view', () => {
    const { file, spec } = podSpecs().find((p) => p.file === 'pod-sidecar.yaml')!;
    expect(spec.shareProcessNamespace).toBe(true);
    const sidecar = trainpilotIn(spec);
    expect(spec.initContainers).toContain(sidecar);
    expect(sidecar.restartPolicy).toBe('Always');
    const trainer = spec.containers.find((c) => c.name === 'trainer')!;
    const port = envOf(sidecar).TRAINPILOT_PORT ?? /TRAINPILOT_PORT=(\d+)/.exec(dockerfile)?.[1];
    expect(envOf(trainer).TRAINPILOT_URL).toBe(`http://127.0.0.1:${port}`);
    expect(trainer.resources?.limits?.['nvidia.com/gpu'], file).toBeGreaterThan(0);
    expect(trainer.resources?.requests?.cpu && trainer.resources.requests.memory && trainer.resources.limits?.memory).toBeTruthy();
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      for (const m of c.volumeMounts ?? []) expect(spec.volumes?.map((v) => v.name), `${c.name}: ${m.name}`).toContain(m.name);
    }
  });

  it('shares the zero-code hook with the trainer: an emptyDir the hook-path init step fills, read-only, first on PYTHONPATH', () => {
    const { file, spec } = podSpecs().find((p) => p.file === 'pod-sidecar.yaml')!;
    const inits = spec.initContainers ?? [];
    const fill = inits.find((c) => c.args?.[0] === 'hook-path');
    expect(fill, `${file}: an init container running trainpilot hook-path`).toBeDefined();
    const sidecar = trainpilotIn(spec);
    // A one-off init step (no restartPolicy: it completes before the sidecar and the trainer start),
    // from the sidecar's image, with the sidecar's command and non-root settings.
    expect(fill!.restartPolicy).toBeUndefined();
    expect(inits.indexOf(fill!)).toBeLessThan(inits.indexOf(sidecar));
    expect([fill!.image, fill!.command, fill!.securityContext]).toEqual([sidecar.image, sidecar.command, sidecar.securityContext]);
    const to = fill!.args![fill!.args!.indexOf('--copy-to') + 1];
    const mount = fill!.volumeMounts?.find((m) => m.mountPath === to);
    expect(mount, `${file}: --copy-to ${to} is a mounted volume`).toBeDefined();
    expect(spec.volumes?.find((v) => v.name === mount!.name)?.emptyDir, `${file}: ${mount!.name} is an emptyDir`).toBeDefined();
    // The trainer: the script as it is (no trainpilot command, no RUN_ID), the hook mounted read-only
    // and first on PYTHONPATH where --copy-to put it (cli/hook-path.ts: DIR/hook), the sidecar's URL.
    const trainer = spec.containers.find((c) => c.name === 'trainer')!;
    const at = trainer.volumeMounts?.find((m) => m.name === mount!.name);
    expect(at?.readOnly).toBe(true);
    const env = envOf(trainer);
    const tmp = mkdtempSync(join(tmpdir(), 'trainpilot-hook-copy-'));
    try {
      const printed = copyHook(tmp); // what the init step prints, under the trainer's mount
      expect(existsSync(join(printed, 'sitecustomize.py'))).toBe(true);
      expect(env.PYTHONPATH.split(':')[0]).toBe(posix.join(at!.mountPath, relative(tmp, printed)));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    expect(env.TRAINPILOT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.TRAINPILOT_RUN_ID).toBeUndefined();
    expect(trainer.command?.join(' ')).not.toMatch(/trainpilot/);
  });

  it('runs the DaemonSet once per GPU node with the host\'s processes in view', () => {
    const [{ doc }] = byKind('DaemonSet');
    const spec = doc.spec.template.spec as IPodSpec;
    expect(spec.hostPID).toBe(true);
    for (const [k, v] of Object.entries(doc.spec.selector.matchLabels as Record<string, string>)) expect(doc.spec.template.metadata.labels[k]).toBe(v);
    expect(spec.tolerations?.some((t) => t.key === 'nvidia.com/gpu')).toBe(true);
    expect(trainpilotIn(spec).resources?.requests?.['nvidia.com/gpu']).toBeUndefined();
  });
});
