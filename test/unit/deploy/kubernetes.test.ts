import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/supervisor/index.js';
import { parseDuration } from '../../../src/config/index.js';

/**
 * The Kubernetes manifests against the Kubernetes OpenAPI schemas (kubernetes-models), plus a
 * strict pass those schemas do not make: every field must be one the API knows, as
 * `kubectl --validate=strict` would insist. Then the properties the gateway depends on.
 */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const manifests = join(repo, 'deploy/kubernetes');

type Obj = Record<string, unknown>;

const MODELS: Record<string, { model: new (data: never) => { validate(): void }; module: string }> = {
  Namespace: { model: Namespace, module: 'kubernetes-models/v1/Namespace' },
  ConfigMap: { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap' },
  Service: { model: Service, module: 'kubernetes-models/v1/Service' },
  Deployment: { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment' },
  PodDisruptionBudget: {
    model: PodDisruptionBudget,
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
  },
};

// --- strict field check, from the type declarations kubernetes-models generates from the same schemas

interface Shape {
  readonly fields: ReadonlyMap<string, string>;
  readonly imports: ReadonlyMap<string, string>;
}

const modelsFile = fileURLToPath(import.meta.resolve('kubernetes-models/v1/Pod'));
const nodeModules = modelsFile.slice(0, modelsFile.lastIndexOf('/node_modules/') + '/node_modules'.length);
const shapes = new Map<string, Shape | null>();

function declarationOf(spec: string, from: string): string {
  if (spec.startsWith('.')) return join(dirname(from), `${spec}.d.ts`);
  for (const base of [nodeModules, join(nodeModules, 'kubernetes-models/node_modules')]) {
    const path = join(base, `${spec}.d.ts`);
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find the declaration of ${spec}`);
}

/** The fields of the interface a .d.ts declares (null for type aliases such as IntOrString). */
function shapeOf(path: string): Shape | null {
  const cached = shapes.get(path);
  if (cached !== undefined) return cached;
  const text = readFileSync(path, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ ([\w, ]+) \} from "([^"]+)";$/gm)) {
    for (const name of m[1]!.split(', ')) {
      if (!m[2]!.startsWith('@kubernetes-models/base')) imports.set(name, declarationOf(m[2]!, path));
    }
  }
  const body = /^export interface \w+(?: extends \w+)? \{\n([\s\S]*?)^\}/m.exec(text);
  const shape =
    body === null
      ? null
      : {
          imports,
          fields: new Map(
            [...body[1]!.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/;$/, '')]),
          ),
        };
  shapes.set(path, shape);
  return shape;
}

function strictFields(value: unknown, declaration: string, where: string, errors: string[]): void {
  const shape = shapeOf(declaration);
  if (shape === null || typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value as Obj)) {
    const type = shape.fields.get(key);
    if (type === undefined) {
      errors.push(`${where}.${key}: not a field of ${declaration.split('/').slice(-2).join('/')}`);
      continue;
    }
    const ref = /^(?:Array<)?(I\w+)>?$/.exec(type)?.[1];
    const next = ref === undefined ? undefined : shape.imports.get(ref);
    if (next === undefined) continue;
    if (Array.isArray(child))
      child.forEach((item, i) => strictFields(item, next, `${where}.${key}[${i}]`, errors));
    else strictFields(child, next, `${where}.${key}`, errors);
  }
}

function validate(doc: Obj, where: string): string[] {
  const kind = String(doc.kind);
  const entry = MODELS[kind];
  if (entry === undefined) return [`${where}: no schema for kind ${kind}`];
  const errors: string[] = [];
  try {
    new entry.model(doc as never).validate();
  } catch (error) {
    errors.push(`${where}: ${(error as Error).message}`);
  }
  strictFields(
    doc,
    fileURLToPath(import.meta.resolve(entry.module)).replace(/\.m?js$/, '.d.ts'),
    where,
    errors,
  );
  return errors;
}

// --- the manifests

const docs: { file: string; doc: Obj }[] = [];
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-k8s-'));
  for (const file of (await readdir(manifests)).filter((f) => f.endsWith('.yaml')).sort()) {
    if (file === 'kustomization.yaml') continue;
    for (const d of parseAllDocuments(await readFile(join(manifests, file), 'utf8'))) {
      assert.deepEqual(d.errors, [], file);
      docs.push({ file, doc: d.toJS() as Obj });
    }
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function only(kind: string): Obj {
  const found = docs.filter((d) => d.doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!.doc;
}

function get(obj: unknown, ...path: (string | number)[]): unknown {
  let value = obj;
  for (const key of path) value = (value as Record<string | number, unknown> | undefined)?.[key];
  return value;
}

describe('deploy/kubernetes', () => {
  test('every manifest validates against the Kubernetes schemas, with no unknown field', () => {
    assert.deepEqual(docs.map((d) => d.doc.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'Namespace',
      'PodDisruptionBudget',
      'Service',
    ]);
    const errors = docs.flatMap(({ file, doc }) => validate(doc, file));
    assert.deepEqual(errors, []);
  });

  test('the validation catches a misspelt field and a wrong type', () => {
    const deployment = structuredClone(only('Deployment'));
    const container = get(deployment, 'spec', 'template', 'spec', 'containers', 0) as Obj;
    container.readinesProbe = container.readinessProbe;
    (get(container, 'ports', 0) as Obj).containerPort = 'x';
    const errors = validate(deployment, 'broken').join('\n');
    assert.match(errors, /containers\[0\]\.readinesProbe: not a field of v1\/Container\.d\.ts/);
    assert.match(errors, /containerPort must be integer/);
  });

  test('kustomization.yaml lists every manifest', async () => {
    const kustomization = parse(await readFile(join(manifests, 'kustomization.yaml'), 'utf8')) as Obj;
    assert.deepEqual(
      [...(kustomization.resources as string[])].sort(),
      [...new Set(docs.map((d) => d.file))].sort(),
    );
  });

  test('the ConfigMap holds a valid gateway configuration that matches the pod', async () => {
    const text = get(only('ConfigMap'), 'data', 'airlock.yaml') as string;
    const path = join(dir, 'airlock.yaml');
    await writeFile(path, text);
    const file = (await loadConfig({ configFile: path })).config.file;
    const container = get(only('Deployment'), 'spec', 'template', 'spec', 'containers', 0) as Obj;
    const ports = new Map(
      (container.ports as Obj[]).map((p) => [p.name as string, p.containerPort as number]),
    );
    assert.equal(file.admin.listen?.port, ports.get('admin'), 'probes reach admin.listen');
    assert.equal(file.admin.listen?.host, '0.0.0.0', 'the kubelet probes the pod address');
    assert.deepEqual(
      file.listeners.map((l) => l.port),
      [ports.get('proxy')],
    );
    assert.equal(file.log.file, null, 'access log on stdout: the root filesystem is read-only');
    assert.equal(file.pidFile, null);
    // The pod gets SIGTERM after the preStop pause and must be allowed to drain before it is killed.
    const pause = Number((get(container, 'lifecycle', 'preStop', 'exec', 'command', 1) as string) ?? 0);
    const grace = get(
      only('Deployment'),
      'spec',
      'template',
      'spec',
      'terminationGracePeriodSeconds',
    ) as number;
    assert.ok(pause > 0, 'a preStop pause');
    assert.ok(grace > pause + file.timeouts.drain / 1000, `grace ${grace} s > pause ${pause} s + drain`);
    assert.equal(parseDuration('30s'), file.timeouts.drain);
  });

  test('Deployment: several replicas, readiness on /readyz, liveness on /healthz, a drain on stop', () => {
    const deployment = only('Deployment');
    assert.ok((get(deployment, 'spec', 'replicas') as number) >= 2);
    assert.equal(get(deployment, 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable'), 0);
    const container = get(deployment, 'spec', 'template', 'spec', 'containers', 0) as Obj;
    assert.deepEqual(get(container, 'readinessProbe', 'httpGet'), { path: '/readyz', port: 'admin' });
    assert.deepEqual(get(container, 'livenessProbe', 'httpGet'), { path: '/healthz', port: 'admin' });
    assert.deepEqual(get(container, 'lifecycle', 'preStop', 'exec', 'command'), ['sleep', '10']);
    const config = (get(container, 'args') as string[]).join(' ');
    assert.equal(config, 'serve --config /etc/airlock/airlock.yaml');
    const mount = (container.volumeMounts as Obj[]).find((m) => m.name === 'config');
    assert.equal(mount?.mountPath, '/etc/airlock');
    const volume = (get(deployment, 'spec', 'template', 'spec', 'volumes') as Obj[]).find(
      (v) => v.name === 'config',
    );
    assert.equal(get(volume, 'configMap', 'name'), get(only('ConfigMap'), 'metadata', 'name'));
  });

  test('Deployment: non-root, read-only root filesystem, no capabilities (restricted Pod Security)', () => {
    const pod = get(only('Deployment'), 'spec', 'template', 'spec') as Obj;
    assert.equal(get(pod, 'securityContext', 'runAsNonRoot'), true);
    assert.ok((get(pod, 'securityContext', 'runAsUser') as number) > 0);
    assert.equal(get(pod, 'securityContext', 'seccompProfile', 'type'), 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    const security = get(pod, 'containers', 0, 'securityContext') as Obj;
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.deepEqual(get(security, 'capabilities', 'drop'), ['ALL']);
    assert.equal(
      get(only('Namespace'), 'metadata', 'labels', 'pod-security.kubernetes.io/enforce'),
      'restricted',
    );
  });

  test('Service: externalTrafficPolicy Local keeps client addresses for the ACL; it selects the pods', () => {
    const service = only('Service');
    assert.equal(get(service, 'spec', 'externalTrafficPolicy'), 'Local');
    assert.equal(get(service, 'spec', 'type'), 'LoadBalancer');
    const labels = get(only('Deployment'), 'spec', 'template', 'metadata', 'labels') as Obj;
    for (const [k, v] of Object.entries(get(service, 'spec', 'selector') as Obj)) assert.equal(labels[k], v);
    assert.equal(get(service, 'spec', 'ports', 0, 'targetPort'), 'proxy');
  });

  test('PodDisruptionBudget: one gateway at a time, selecting the pods', () => {
    const pdb = only('PodDisruptionBudget');
    assert.equal(get(pdb, 'spec', 'maxUnavailable'), 1);
    assert.deepEqual(
      get(pdb, 'spec', 'selector', 'matchLabels'),
      get(only('Deployment'), 'spec', 'selector', 'matchLabels'),
    );
  });

  test('every object is in the airlock namespace', () => {
    for (const { file, doc } of docs) {
      if (doc.kind === 'Namespace') continue;
      assert.equal(get(doc, 'metadata', 'namespace'), 'airlock', file);
    }
  });
});
