/**
 * The Helm chart, checked by a real helm (lint --strict, template) over several
 * value sets; every rendered manifest validated against the Kubernetes schemas
 * (kubernetes-models), and the properties operators rely on asserted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, helm, helmVersion, render, type Manifest } from './helm';

type Json = Record<string, unknown>;

const COMPONENTS = {
  catalog: { service: 'catalog', port: 3000 },
  ingestor: { service: 'ingestor', port: 3001 },
  threddsProxy: { service: 'thredds-proxy', port: 3002 },
  scratchQuota: { service: 'scratch-quota', port: 3003 },
} as const;
type ComponentKey = keyof typeof COMPONENTS;

/** The URL paths of the brief and the service that answers each. */
const BRIEF_ROUTES: Record<string, ComponentKey> = {
  '/api': 'catalog',
  '/esg-search': 'catalog',
  '/ingest': 'ingestor',
  '/red': 'ingestor',
  '/thredds': 'threddsProxy',
  '/scratch': 'scratchQuota',
};

const only = (key: ComponentKey) => ({
  components: Object.fromEntries(Object.keys(COMPONENTS).map((k) => [k, { enabled: k === key }])),
});

const VALUE_SETS: Record<string, Json> = {
  defaults: {},
  'catalog alone': only('catalog'),
  'ingestor alone': only('ingestor'),
  'thredds-proxy alone': only('threddsProxy'),
  'scratch-quota alone': only('scratchQuota'),
  'everything on': {
    publicUrl: 'https://climcat.example.org',
    s3: {
      endpoint: 'http://minio:9000',
      publicEndpoint: 'https://s3.example.org',
      bucket: 'climcat-archive',
      accessKey: 'AKIAEXAMPLE',
      secretKey: 'secret-example-0123456789',
    },
    secrets: { adminApiKey: 'admin-key-0123456789abcdef', ingestWebhookToken: 'webhook-token-0123456789' },
    storage: {
      archive: { existingClaim: 'cmip5-archive' },
      derived: { enabled: true },
      scratch: { existingClaim: 'scratch-lustre' },
    },
    components: {
      catalog: { autoscaling: { enabled: true } },
      scratchQuota: { replicas: 2, pdb: { enabled: true } },
    },
    ingress: { className: 'nginx', host: 'climcat.example.org', tls: { enabled: true } },
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    networkPolicy: { enabled: true, extraFrom: [{ namespaceSelector: { matchLabels: { name: 'jhub' } } }] },
    env: { THREDDS_BIN_LIMIT: '1GB' },
  },
  'existing secret': { secrets: { existingSecret: 'climcat-prod' } },
  'ingress off': { ingress: { enabled: false }, purge: { enabled: false } },
};

let validators: Map<string, (m: Manifest) => void>;

/** kubernetes-models classes by apiVersion/kind; each `.validate()` checks the Kubernetes OpenAPI schema. */
async function loadValidators(): Promise<Map<string, (m: Manifest) => void>> {
  const map = new Map<string, (m: Manifest) => void>();
  const core: Record<string, string> = {
    'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
    'v1/Secret': 'kubernetes-models/v1/Secret',
    'v1/Service': 'kubernetes-models/v1/Service',
    'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
    'v1/PersistentVolumeClaim': 'kubernetes-models/v1/PersistentVolumeClaim',
    'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
    'batch/v1/CronJob': 'kubernetes-models/batch/v1/CronJob',
    'batch/v1/Job': 'kubernetes-models/batch/v1/Job',
    'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
    'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    'networking.k8s.io/v1/Ingress': 'kubernetes-models/networking.k8s.io/v1/Ingress',
    'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  };
  for (const [key, path] of Object.entries(core)) {
    const kind = key.split('/').pop()!;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Model = (require(path) as Record<string, new (data: unknown) => { validate(): void }>)[kind]!;
    map.set(key, (m) => new Model(m).validate());
  }
  // The Prometheus Operator models are ESM-only: jest loads them with import().
  const monitoring =
    (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1')) as Record<
      string,
      new (data: unknown) => { validate(): void }
    >;
  map.set('monitoring.coreos.com/v1/ServiceMonitor', (m) => new monitoring.ServiceMonitor!(m).validate());
  return map;
}

const key = (m: Manifest) => `${m.apiVersion}/${m.kind}`;
const ofKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
const byName = (ms: Manifest[], kind: string, name: string) => {
  const found = ms.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} in: ${ms.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
};
const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Json | undefined)?.[k], o);

interface PodSpecLike {
  securityContext?: Json;
  containers: (Json & { name: string })[];
  volumes?: Json[];
}

/** Every pod template in the render, with where it came from. */
function podSpecs(ms: Manifest[]): { owner: string; spec: PodSpecLike; probes: boolean }[] {
  return [
    ...ofKind(ms, 'Deployment').map((m) => ({
      owner: `Deployment/${m.metadata.name}`,
      spec: get(m, 'spec.template.spec') as PodSpecLike,
      probes: true,
    })),
    // A Job's container runs to completion: probes make no sense there.
    ...ofKind(ms, 'CronJob').map((m) => ({
      owner: `CronJob/${m.metadata.name}`,
      spec: get(m, 'spec.jobTemplate.spec.template.spec') as PodSpecLike,
      probes: false,
    })),
    ...ofKind(ms, 'Job').map((m) => ({
      owner: `Job/${m.metadata.name}`,
      spec: get(m, 'spec.template.spec') as PodSpecLike,
      probes: false,
    })),
  ];
}

beforeAll(async () => {
  validators = await loadValidators();
});

test('the helm binary is the real helm 3', () => {
  expect(helmVersion()).toMatch(/^v3\.\d+\.\d+/);
});

describe.each(Object.entries(VALUE_SETS))('values: %s', (_name, values) => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = render(values);
  });

  test('helm lint --strict passes', () => {
    const out = helm(['lint', '--strict', CHART_DIR], values);
    expect(`${out.stdout}${out.stderr}`).toContain('0 chart(s) failed');
    expect(out.status).toBe(0);
  });

  test('every manifest validates against its Kubernetes schema', () => {
    expect(manifests.length).toBeGreaterThan(3);
    for (const m of manifests) {
      const validate = validators.get(key(m));
      if (!validate)
        throw new Error(`no schema for ${key(m)} (${m.metadata.name}): add it to the validators`);
      expect(() => validate(m)).not.toThrow();
    }
  });

  test('every container has probes, limits and a non-root, read-only, capability-free security context', () => {
    const pods = podSpecs(manifests);
    expect(pods.length).toBeGreaterThan(0);
    for (const { owner, spec, probes } of pods) {
      expect([owner, get(spec, 'securityContext.runAsNonRoot')]).toEqual([owner, true]);
      for (const c of spec.containers) {
        const where = `${owner} container ${c.name}`;
        if (probes) {
          expect([where, get(c, 'livenessProbe.httpGet.path')]).toEqual([where, '/health/live']);
          expect([where, get(c, 'readinessProbe.httpGet.path')]).toEqual([where, '/health/ready']);
        }
        expect([where, typeof get(c, 'resources.limits.cpu')]).toEqual([where, 'string']);
        expect([where, typeof get(c, 'resources.limits.memory')]).toEqual([where, 'string']);
        expect([where, typeof get(c, 'resources.requests.memory')]).toEqual([where, 'string']);
        expect([where, get(c, 'securityContext.runAsNonRoot')]).toEqual([where, true]);
        expect([where, get(c, 'securityContext.readOnlyRootFilesystem')]).toEqual([where, true]);
        expect([where, get(c, 'securityContext.allowPrivilegeEscalation')]).toEqual([where, false]);
        expect([where, get(c, 'securityContext.capabilities.drop')]).toEqual([where, ['ALL']]);
      }
    }
  });

  test('each Service, PDB and HPA points at pods the chart runs', () => {
    const deployments = ofKind(manifests, 'Deployment');
    const podLabels = deployments.map(
      (d) => get(d, 'spec.template.metadata.labels') as Record<string, string>,
    );
    const matches = (selector: Record<string, string>) =>
      podLabels.some((labels) => Object.entries(selector).every(([k, v]) => labels[k] === v));
    for (const s of ofKind(manifests, 'Service'))
      expect([s.metadata.name, matches(get(s, 'spec.selector') as never)]).toEqual([s.metadata.name, true]);
    for (const p of ofKind(manifests, 'PodDisruptionBudget'))
      expect([p.metadata.name, matches(get(p, 'spec.selector.matchLabels') as never)]).toEqual([
        p.metadata.name,
        true,
      ]);
    for (const h of ofKind(manifests, 'HorizontalPodAutoscaler')) {
      const target = get(h, 'spec.scaleTargetRef.name');
      expect(deployments.map((d) => d.metadata.name)).toContain(target);
      // The HPA owns the replica count; a fixed one would fight it on every upgrade.
      expect(get(byName(manifests, 'Deployment', target as string), 'spec.replicas')).toBeUndefined();
    }
  });

  test('the Ingress routes each brief path to the service that serves it', () => {
    const enabled = (k: ComponentKey) => (get(values, `components.${k}.enabled`) ?? true) !== false;
    const ingress = ofKind(manifests, 'Ingress');
    if (get(values, 'ingress.enabled') === false) {
      expect(ingress).toHaveLength(0);
      return;
    }
    expect(ingress).toHaveLength(1);
    const paths = (get(ingress[0], 'spec.rules') as Json[]).flatMap((r) => get(r, 'http.paths') as Json[]);
    const routed = Object.fromEntries(
      paths.map((p) => [
        p.path as string,
        [get(p, 'backend.service.name'), get(p, 'backend.service.port.number')],
      ]),
    );
    const expected = Object.fromEntries(
      Object.entries(BRIEF_ROUTES)
        .filter(([, k]) => enabled(k))
        .map(([path, k]) => [path, [`rel-climcat-${COMPONENTS[k].service}`, COMPONENTS[k].port]]),
    );
    expect(routed).toEqual(expected);
    for (const p of paths) expect(p.pathType).toBe('Prefix');
    // Each backend is a Service whose pods run that service's entry point on that port.
    for (const [path, [service, port]] of Object.entries(routed) as [string, [string, number]][]) {
      const svc = byName(manifests, 'Service', service);
      expect([path, get(svc, 'spec.ports.0.port')]).toEqual([path, port]);
      const deployment = byName(manifests, 'Deployment', service);
      const container = (get(deployment, 'spec.template.spec.containers') as Json[])[0]!;
      const entry = COMPONENTS[BRIEF_ROUTES[path]!].service;
      expect([path, container.args]).toEqual([path, ['node', `dist/apps/${entry}/src/main.js`]]);
      expect([path, get(container, 'ports.0.containerPort')]).toEqual([path, port]);
    }
  });

  test('configuration comes from the ConfigMap and the (chart or existing) Secret, with known variable names', () => {
    const existing = get(values, 'secrets.existingSecret') as string | undefined;
    const secretName = existing ?? 'rel-climcat';
    expect(ofKind(manifests, 'Secret').map((s) => s.metadata.name)).toEqual(existing ? [] : ['rel-climcat']);
    const known = new Set(
      readFileSync(join(CHART_DIR, '..', '..', '.env.example'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
        .filter((k): k is string => !!k),
    );
    const configMap = ofKind(manifests, 'ConfigMap')[0]!;
    const secretKeys = existing ? [] : Object.keys(get(ofKind(manifests, 'Secret')[0], 'stringData') as Json);
    for (const name of [...Object.keys(configMap.data as Json), ...secretKeys])
      expect([name, known.has(name)]).toEqual([name, true]);
    for (const d of ofKind(manifests, 'Deployment')) {
      const envFrom = get(d, 'spec.template.spec.containers.0.envFrom') as Json[];
      expect(envFrom).toEqual([
        { configMapRef: { name: 'rel-climcat' } },
        { secretRef: { name: secretName } },
      ]);
    }
    for (const c of ofKind(manifests, 'CronJob')) {
      const env = get(c, 'spec.jobTemplate.spec.template.spec.containers.0.env') as Json[];
      expect(env.find((e) => e.name === 'ADMIN_API_KEY')).toEqual({
        name: 'ADMIN_API_KEY',
        valueFrom: { secretKeyRef: { name: secretName, key: 'ADMIN_API_KEY' } },
      });
    }
  });

  test('the archive is mounted read-only everywhere; scratch only where quotas are enforced', () => {
    for (const d of ofKind(manifests, 'Deployment')) {
      const mounts = get(d, 'spec.template.spec.containers.0.volumeMounts') as Json[];
      const archive = mounts.find((m) => m.name === 'archive');
      expect([d.metadata.name, archive?.readOnly]).toEqual([d.metadata.name, true]);
      const scratch = mounts.find((m) => m.name === 'scratch');
      expect([d.metadata.name, !!scratch]).toEqual([
        d.metadata.name,
        d.metadata.name.endsWith('scratch-quota'),
      ]);
      const claims = (get(d, 'spec.template.spec.volumes') as Json[]).filter((v) => v.persistentVolumeClaim);
      expect(
        get(
          claims.find((v) => v.name === 'archive'),
          'persistentVolumeClaim.readOnly',
        ),
      ).toBe(true);
    }
  });
});

describe('specific renders', () => {
  test('defaults: climcat migrate runs as a post-install/pre-upgrade hook Job and pods only verify the indexes', () => {
    const ms = render();
    const job = byName(ms, 'Job', 'rel-climcat-migrate');
    expect(get(job, 'metadata.annotations')).toMatchObject({ 'helm.sh/hook': 'post-install,pre-upgrade' });
    const container = get(job, 'spec.template.spec.containers.0') as Json;
    expect(container.args).toEqual(['node', 'dist/apps/ingestor/src/migrate.js']);
    expect(container.envFrom).toEqual([
      { configMapRef: { name: 'rel-climcat' } },
      { secretRef: { name: 'rel-climcat' } },
    ]);
    expect(get(ofKind(ms, 'ConfigMap')[0], 'data.MONGODB_MIGRATE')).toBe('verify');

    const without = render({ migrations: { job: false } });
    expect(ofKind(without, 'Job')).toHaveLength(0);
    expect(get(ofKind(without, 'ConfigMap')[0], 'data.MONGODB_MIGRATE')).toBe('auto');
  });

  test('defaults: HPAs for thredds-proxy and ingestor, a purge CronJob calling scratch-quota, PVCs kept on uninstall', () => {
    const ms = render();
    expect(
      ofKind(ms, 'HorizontalPodAutoscaler')
        .map((h) => h.metadata.name)
        .sort(),
    ).toEqual(['rel-climcat-ingestor', 'rel-climcat-thredds-proxy']);
    const cron = byName(ms, 'CronJob', 'rel-climcat-purge');
    expect(get(cron, 'spec.concurrencyPolicy')).toBe('Forbid');
    const env = get(cron, 'spec.jobTemplate.spec.template.spec.containers.0.env') as Json[];
    expect(env.find((e) => e.name === 'PURGE_URL')?.value).toBe(
      'http://rel-climcat-scratch-quota:3003/scratch/v1/purge/runs',
    );
    expect(get(ofKind(ms, 'ConfigMap')[0], 'data.SCRATCH_PURGE_INTERVAL')).toBe('0');
    // Promotions land on the derived claim, never on the pod's emptyDir.
    expect(get(ofKind(ms, 'ConfigMap')[0], 'data.DERIVED_ROOT')).toBe('/data/derived');
    for (const pvc of ofKind(ms, 'PersistentVolumeClaim'))
      expect(pvc.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    // No ServiceMonitor or NetworkPolicy unless asked for.
    expect(ofKind(ms, 'ServiceMonitor')).toHaveLength(0);
    expect(ofKind(ms, 'NetworkPolicy')).toHaveLength(0);
  });

  test('existing claims are used as they are, and nothing is created for them', () => {
    const ms = render(VALUE_SETS['everything on']);
    expect(ofKind(ms, 'PersistentVolumeClaim').map((p) => p.metadata.name)).toEqual(['rel-climcat-derived']);
    const quota = byName(ms, 'Deployment', 'rel-climcat-scratch-quota');
    const volumes = get(quota, 'spec.template.spec.volumes') as Json[];
    expect(
      get(
        volumes.find((v) => v.name === 'scratch'),
        'persistentVolumeClaim.claimName',
      ),
    ).toBe('scratch-lustre');
    expect(
      get(
        volumes.find((v) => v.name === 'archive'),
        'persistentVolumeClaim.claimName',
      ),
    ).toBe('cmip5-archive');
    // Promotions write the derived area; the other services only read it.
    const derivedMount = (name: string) =>
      (get(byName(ms, 'Deployment', name), 'spec.template.spec.containers.0.volumeMounts') as Json[]).find(
        (m) => m.name === 'derived',
      );
    expect(derivedMount('rel-climcat-scratch-quota')?.readOnly).toBe(false);
    expect(derivedMount('rel-climcat-thredds-proxy')?.readOnly).toBe(true);
  });

  test('the public URL and the S3 settings reach the services; secrets stay out of the ConfigMap', () => {
    const ms = render(VALUE_SETS['everything on']);
    const data = ofKind(ms, 'ConfigMap')[0]!.data as Json;
    expect(data).toMatchObject({
      PUBLIC_URL: 'https://climcat.example.org',
      S3_ENDPOINT: 'http://minio:9000',
      S3_PUBLIC_ENDPOINT: 'https://s3.example.org',
      S3_BUCKET: 'climcat-archive',
      THREDDS_BIN_LIMIT: '1GB',
    });
    const text = JSON.stringify(data);
    for (const secret of [
      'secret-example-0123456789',
      'admin-key-0123456789abcdef',
      'webhook-token',
      'mongodb://',
    ])
      expect(text).not.toContain(secret);
    const stringData = get(ofKind(ms, 'Secret')[0], 'stringData') as Json;
    expect(stringData).toMatchObject({
      ADMIN_API_KEY: 'admin-key-0123456789abcdef',
      S3_SECRET_KEY: 'secret-example-0123456789',
      INGEST_WEBHOOK_TOKEN: 'webhook-token-0123456789',
    });
    const tls = get(ofKind(ms, 'Ingress')[0], 'spec.tls') as Json[];
    expect(tls).toEqual([{ hosts: ['climcat.example.org'], secretName: 'rel-climcat-tls' }]);
  });

  test('without an admin key given, a strong one is generated (kept across upgrades through lookup)', () => {
    const a = get(ofKind(render(), 'Secret')[0], 'stringData.ADMIN_API_KEY') as string;
    expect(a).toMatch(/^[A-Za-z0-9]{40}$/);
  });

  test('NetworkPolicy admits the ingress controller, the release and the extra peers on the service port only', () => {
    const ms = render(VALUE_SETS['everything on']);
    const policies = ofKind(ms, 'NetworkPolicy');
    expect(policies).toHaveLength(4);
    const thredds = byName(ms, 'NetworkPolicy', 'rel-climcat-thredds-proxy');
    expect(get(thredds, 'spec.ingress.0.ports')).toEqual([{ port: 3002, protocol: 'TCP' }]);
    expect((get(thredds, 'spec.ingress.0.from') as Json[]).length).toBe(3);
  });

  test('the ServiceMonitor scrapes /metrics on every component service', () => {
    const ms = render(VALUE_SETS['everything on']);
    const monitor = ofKind(ms, 'ServiceMonitor')[0]!;
    expect(get(monitor, 'spec.endpoints.0')).toMatchObject({ port: 'http', path: '/metrics' });
    const selector = get(monitor, 'spec.selector.matchLabels') as Record<string, string>;
    for (const s of ofKind(ms, 'Service'))
      for (const [k, v] of Object.entries(selector)) expect(s.metadata.labels?.[k]).toBe(v);
    expect(monitor.metadata.labels?.release).toBe('prometheus');
  });

  test('every .Values path a template reads exists in values.yaml', () => {
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Json;
    const dir = join(CHART_DIR, 'templates');
    const missing: string[] = [];
    let seen = 0;
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        seen++;
        const path = match[1]!.slice(1);
        if (get(values, path) === undefined) missing.push(`${file}: .Values.${path}`);
      }
    }
    expect(seen).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  test('the values schema covers every key of values.yaml and is strict about unknown keys', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Json;
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Json;
    const uncovered: string[] = [];
    const walk = (v: unknown, s: Json | undefined, path: string) => {
      if (!s) return void uncovered.push(path);
      if (v && typeof v === 'object' && !Array.isArray(v) && s.properties)
        for (const [k, child] of Object.entries(v))
          walk(child, (s.properties as Json)[k] as Json | undefined, `${path}.${k}`);
    };
    walk(values, schema, '');
    expect(uncovered).toEqual([]);
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('bad values are refused at install, naming the value', () => {
  test.each([
    [
      'a negative replica count',
      { components: { catalog: { replicas: -1 } } },
      'components.catalog.replicas',
    ],
    ['an unknown service', { components: { zarrProxy: { enabled: true } } }, 'zarrProxy'],
    ['an unknown top-level key', { replicas: 3 }, 'replicas'],
    ['a pull policy Kubernetes does not know', { image: { pullPolicy: 'Sometimes' } }, 'image.pullPolicy'],
    ['a MongoDB URI that is not one', { mongodb: { uri: 'http://mongo:27017' } }, 'mongodb.uri'],
    ['an admin key shorter than 16 characters', { secrets: { adminApiKey: 'short' } }, 'secrets.adminApiKey'],
    ['a purge schedule that is not cron', { purge: { schedule: 'nightly' } }, 'purge.schedule'],
    ['a root user', { podSecurityContext: { runAsNonRoot: false } }, 'podSecurityContext.runAsNonRoot'],
    [
      'a relative mount path',
      { storage: { scratch: { mountPath: 'scratch' } } },
      'storage.scratch.mountPath',
    ],
    [
      'a memory limit that is not a quantity',
      { components: { threddsProxy: { resources: { limits: { cpu: '1', memory: 'lots' } } } } },
      'components.threddsProxy.resources.limits.memory',
    ],
  ])('%s', (_what, values, path) => {
    const out = helm(['template', 'rel', CHART_DIR], values);
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain(path);
  });

  test('an HPA whose minimum exceeds its maximum', () => {
    const out = helm(['template', 'rel', CHART_DIR], {
      components: { threddsProxy: { autoscaling: { minReplicas: 5, maxReplicas: 2 } } },
    });
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain(
      'components.threddsProxy.autoscaling.minReplicas (5) exceeds maxReplicas (2)',
    );
  });

  test('a PDB that would block every eviction of a one-replica component', () => {
    const out = helm(['template', 'rel', CHART_DIR], {
      components: { scratchQuota: { replicas: 1, pdb: { enabled: true, minAvailable: 1 } } },
    });
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain('components.scratchQuota.pdb.minAvailable (1) must be below replicas (1)');
  });
});
