/**
 * The JupyterHub deployment examples in docs/jupyterhub load in Debian's JupyterHub 3.0
 * (its own config loader and Service traits), and what they give climcat is valid climcat config.
 * The z2jh values are checked structurally (no chart or cluster here).
 */
import { loadConfig } from '@climcat/platform';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const DOCS = join(__dirname, '../../docs/jupyterhub');
// Debian's interpreter, the one its jupyterhub package is installed for (PATH may name another).
const PYTHON = '/usr/bin/python3';

const LOAD_HUB_CONFIG = `
import json, sys
from jupyterhub.app import JupyterHub
from jupyterhub.services.service import Service

app = JupyterHub()
app.load_config_file(sys.argv[1])
spawner = app.config.Spawner
print(json.dumps({
    'serviceTraits': sorted(Service.class_trait_names()),
    'services': app.services,
    'load_roles': app.load_roles,
    'authenticator_class': str(app.authenticator_class),
    'spawner_class': str(app.spawner_class),
    'environment': {k: (v if isinstance(v, str) else 'callable') for k, v in spawner.environment.items()},
    'pre_spawn_hook': callable(spawner.pre_spawn_hook),
}))
`;

const ROLE_KEYS = ['name', 'description', 'scopes', 'users', 'groups', 'services'];

function python(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(PYTHON, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

beforeAll(() => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/install-system-deps.sh`);
});

describe('docs/jupyterhub/jupyterhub_config.py (VM with system users)', () => {
  let hub: {
    serviceTraits: string[];
    services: Record<string, unknown>[];
    load_roles: { name: string; scopes: string[] }[];
    authenticator_class: string;
    spawner_class: string;
    environment: Record<string, string>;
    pre_spawn_hook: boolean;
  };

  beforeAll(() => {
    const out = python(['-c', LOAD_HUB_CONFIG, join(DOCS, 'jupyterhub_config.py')], {
      CLIMCAT_HUB_TOKEN: 'f'.repeat(64),
      CLIMCAT_ADMIN_API_KEY: 'admin-key-0123456789abcdef',
      CLIMCAT_SESSION_SECRET: 's'.repeat(48),
    });
    hub = JSON.parse(out) as typeof hub;
  });

  it('loads in JupyterHub 3.0 with system users and a climcat service the hub starts', () => {
    // The hub resolved the names to its classes.
    expect(hub.authenticator_class).toBe("<class 'jupyterhub.auth.PAMAuthenticator'>");
    expect(hub.spawner_class).toBe("<class 'jupyterhub.spawner.LocalProcessSpawner'>");
    expect(hub.services).toHaveLength(1);
    const service = hub.services[0] ?? {};
    expect(service).toMatchObject({ name: 'climcat', api_token: 'f'.repeat(64), user: 'climcat' });
    // Every key is a JupyterHub Service trait: a typo would be silently ignored by the hub.
    for (const key of Object.keys(service)) expect(hub.serviceTraits).toContain(key);
  });

  it('grants users and their notebook servers access:services!service=climcat', () => {
    const roles = Object.fromEntries(hub.load_roles.map((r) => [r.name, r]));
    expect(roles.user?.scopes).toContain('access:services!service=climcat');
    expect(roles.server?.scopes).toEqual(
      expect.arrayContaining([
        'users:activity!user',
        'access:servers!user',
        'access:services!service=climcat',
      ]),
    );
    for (const role of hub.load_roles) for (const key of Object.keys(role)) expect(ROLE_KEYS).toContain(key);
  });

  it('gives notebooks CLIMCAT_URL and their scratch, and creates the scratch before spawning', () => {
    expect(hub.environment).toMatchObject({
      CLIMCAT_URL: 'https://hub.example.org/services/climcat',
      CLIMCAT_DATA: '/data',
      CLIMCAT_SCRATCH: 'callable',
    });
    expect(hub.pre_spawn_hook).toBe(true);
  });

  it("gives climcat a valid configuration with what the hub adds, roots lining up with the notebooks' paths", () => {
    const environment = (hub.services[0]?.environment ?? {}) as Record<string, string>;
    const config = loadConfig('standalone', {
      ...environment,
      // What JupyterHub passes to a service it starts.
      JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api',
      JUPYTERHUB_API_TOKEN: 'f'.repeat(64),
      JUPYTERHUB_SERVICE_NAME: 'climcat',
      JUPYTERHUB_SERVICE_PREFIX: '/services/climcat/',
    });
    expect(config.jupyterhub).toMatchObject({
      serviceName: 'climcat',
      servicePrefix: '/services/climcat/',
      groupPrefix: 'climcat-',
      session: { generated: false },
    });
    expect(config.publicUrl).toBe('https://hub.example.org/services/climcat');
    expect(config.roots).toEqual(
      expect.arrayContaining([
        { name: 'data', kind: 'posix', dir: '/data' },
        { name: 'scratch', kind: 'posix', dir: '/scratch' },
      ]),
    );
  });
});

describe('docs/jupyterhub/z2jh-values.yaml (zero-to-jupyterhub 2.x)', () => {
  let values: any;

  beforeAll(() => {
    const out = python([
      '-c',
      'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
      join(DOCS, 'z2jh-values.yaml'),
    ]);
    values = JSON.parse(out);
  });

  it('registers climcat as a hub service with a token and OAuth without a confirmation page', () => {
    expect(values.hub.services.climcat).toMatchObject({
      url: expect.stringMatching(/^http:\/\/climcat\./),
      apiToken: expect.any(String),
      oauth_no_confirm: true,
    });
  });

  it('grants the access scope through hub.loadRoles to users and notebook servers', () => {
    expect(values.hub.loadRoles.user.scopes).toContain('access:services!service=climcat');
    expect(values.hub.loadRoles.server.scopes).toContain('access:services!service=climcat');
  });

  it('mounts the archive read-only and only the user’s scratch, as lists (z2jh 2.x)', () => {
    const { extraVolumes, extraVolumeMounts } = values.singleuser.storage;
    expect(Array.isArray(extraVolumes)).toBe(true);
    expect(Array.isArray(extraVolumeMounts)).toBe(true);
    const volumes = new Set((extraVolumes as { name: string }[]).map((v) => v.name));
    for (const mount of extraVolumeMounts as { name: string }[]) expect(volumes.has(mount.name)).toBe(true);
    const byPath = Object.fromEntries(
      (extraVolumeMounts as { mountPath: string; readOnly?: boolean }[]).map((m) => [m.mountPath, m]),
    );
    for (const path of ['/data/cmip5', '/data/cordex', '/data/derived'])
      expect(byPath[path]).toMatchObject({ name: 'climate-archive', readOnly: true });
    expect(byPath['/scratch/{username}']).toMatchObject({ name: 'climate-scratch', subPath: '{username}' });
    expect(byPath['/scratch/{username}']?.readOnly).toBeUndefined();
    const archive = (extraVolumes as { name: string; persistentVolumeClaim?: { readOnly?: boolean } }[]).find(
      (v) => v.name === 'climate-archive',
    );
    expect(archive?.persistentVolumeClaim?.readOnly).toBe(true);
  });

  it('tells notebooks where climcat is', () => {
    expect(values.singleuser.extraEnv.CLIMCAT_URL).toMatch(/^https:\/\/.+\/services\/climcat$/);
  });
});
