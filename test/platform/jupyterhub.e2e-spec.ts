/**
 * climcat as a service of a real JupyterHub 3 (Debian's jupyterhub, DummyAuthenticator):
 * hub tokens, group mapping, the access:services scope, revocation within the cache
 * time, hub OAuth for browsers through the hub's proxy, and a hub that hangs or is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, datasetBody, startApp, tempDir, type RunningApp } from '../harness/app';
import { freePort, which } from '../harness/servers';

jest.setTimeout(90_000);

const SERVICE_TOKEN = randomBytes(16).toString('hex');
const HUB_ADMIN_TOKEN = randomBytes(16).toString('hex');
const CACHE_TTL_MS = 2_000;
const HUB_TIMEOUT_MS = 1_000;

let dir: string;
let running: RunningApp;
let hub: ChildProcess | undefined;
let hubExited: Promise<void>;
let hubApi: string;
/** The hub's public side (its proxy): the hub's pages and /services/climcat/. */
let proxy: string;

interface Problem {
  status: number;
  title: string;
  detail: string;
}

async function hubAdmin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${hubApi}${path}`, {
    method,
    headers: { Authorization: `token ${HUB_ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`hub ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function hubToken(user: string, scopes?: string[]): Promise<{ id: string; token: string }> {
  const reply = await hubAdmin('POST', `/users/${user}/tokens`, {
    note: 'climcat e2e',
    ...(scopes ? { scopes } : {}),
  });
  return { id: reply.id as string, token: reply.token as string };
}

async function call(
  path: string,
  headers: Record<string, string> = {},
  init: { method?: string; body?: unknown; base?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${init.base ?? running.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    redirect: 'manual',
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML or empty
  }
  return { status: res.status, body, headers: res.headers };
}

const token = (t: string) => ({ Authorization: `token ${t}` });
const bearerOf = (t: string) => ({ Authorization: `Bearer ${t}` });

async function visibleIds(headers: Record<string, string>): Promise<string[]> {
  const res = await call('/api/v1/datasets?limit=100', headers);
  expect(res.status).toBe(200);
  return (res.body.items as { id: string }[]).map((d) => d.id).sort();
}

/** A minimal cookie jar: name → value and path, sent where the path matches. */
class Jar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1).replace(/^"|"$/g, '');
      const path = attributes.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const gone = attributes.some((a) => /^max-age=0$/i.test(a)) || value === '';
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, { value: pair.slice(eq + 1), path });
    }
  }

  header(path: string): string {
    return [...this.cookies]
      .filter(([, c]) => path.startsWith(c.path) || `${path}/` === c.path)
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }
}

/** GET through the proxy with the jar's cookies, not following redirects. */
async function browse(jar: Jar, url: string, init: RequestInit = {}): Promise<Response> {
  const target = new URL(url, proxy);
  const res = await fetch(target, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers as Record<string, string>), Cookie: jar.header(target.pathname) },
  });
  jar.take(res.headers);
  return res;
}

function hubConfig(ports: { proxy: number; proxyApi: number; hub: number }): string {
  const py = (s: string) => JSON.stringify(s);
  return `
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = ${ports.proxy}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${ports.hub}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${ports.proxyApi}'
c.ConfigurableHTTPProxy.pid_file = ${py(join(dir, 'proxy.pid'))}
c.JupyterHub.pid_file = ${py(join(dir, 'hub.pid'))}
c.JupyterHub.db_url = ${py(`sqlite:///${join(dir, 'hub.sqlite')}`)}
c.JupyterHub.cookie_secret_file = ${py(join(dir, 'cookie_secret'))}
c.JupyterHub.services = [
    {'name': 'e2e-admin', 'api_token': ${py(HUB_ADMIN_TOKEN)}},
    {
        'name': 'climcat',
        'url': ${py(running.url)},
        'api_token': ${py(SERVICE_TOKEN)},
        'oauth_no_confirm': True,
    },
]
c.JupyterHub.load_roles = [
    {
        'name': 'e2e-admin',
        'scopes': ['admin:users', 'admin:groups', 'admin:servers', 'tokens'],
        'services': ['e2e-admin'],
    },
    {'name': 'climcat-users', 'scopes': ['access:services!service=climcat'], 'groups': ['climcat-users']},
    # As the README says: a notebook server's own token gets climcat's scope through the server role.
    {
        'name': 'server',
        'scopes': ['users:activity!user', 'access:servers!user', 'access:services!service=climcat'],
    },
]
# A stand-in for jupyterhub-singleuser (Debian has no jupyter_server here), started the way the hub
# starts notebook servers, with the hub's environment for them plus CLIMCAT_URL.
c.JupyterHub.spawner_class = 'simple'
c.SimpleLocalProcessSpawner.home_dir_template = ${py(join(dir, 'home', '{username}'))}
c.Spawner.cmd = ['python3', ${py(join(dir, 'notebook.py'))}]
c.Spawner.environment = {'CLIMCAT_URL': ${py(running.url)}}
c.Spawner.start_timeout = 30
c.Spawner.http_timeout = 30
`;
}

/**
 * What a notebook does first, with the environment the hub gives it: ask climcat who it is
 * with its own $JUPYTERHUB_API_TOKEN. Then it answers HTTP so the hub sees it as started.
 */
const NOTEBOOK = `
import json, os, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse

with open('pid', 'w') as f:
    f.write(str(os.getpid()))
request = urllib.request.Request(
    os.environ['CLIMCAT_URL'] + '/api/v1/auth/whoami',
    headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']},
)
try:
    with urllib.request.urlopen(request, timeout=20) as r:
        result = {'status': r.status, 'body': json.load(r)}
except urllib.error.HTTPError as e:
    result = {'status': e.code, 'body': json.load(e)}
with open('whoami.json.tmp', 'w') as f:
    json.dump(result, f)
os.rename('whoami.json.tmp', 'whoami.json')


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):
        pass


bind = urlparse(os.environ['JUPYTERHUB_SERVICE_URL'])
HTTPServer((bind.hostname, bind.port), Handler).serve_forever()
`;

function hubLog(): string {
  const file = join(dir, 'hub.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-30).join('\n') : '(no log)';
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what} not ready within ${timeoutMs} ms; hub log:\n${hubLog()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the hub (its own process group) and its proxy (its own session, named by its pid file). */
async function stopHub(): Promise<void> {
  const proxyPidFile = join(dir, 'proxy.pid');
  const proxyPid = existsSync(proxyPidFile) ? Number(readFileSync(proxyPidFile, 'utf8').trim()) : NaN;
  if (hub?.pid !== undefined && hub.exitCode === null && hub.signalCode === null) {
    const group = -hub.pid;
    process.kill(group, 'SIGCONT');
    process.kill(group, 'SIGTERM');
    const timer = setTimeout(() => {
      if (hub?.pid !== undefined && alive(hub.pid)) process.kill(group, 'SIGKILL');
    }, 5_000);
    await hubExited;
    clearTimeout(timer);
  }
  // The hub stops its proxy and notebook servers when it exits cleanly; after a SIGKILL they are still ours to end.
  if (Number.isInteger(proxyPid) && proxyPid > 0 && alive(proxyPid)) process.kill(proxyPid, 'SIGTERM');
  const notebookPidFile = join(dir, 'home', 'alice', 'pid');
  const notebookPid = existsSync(notebookPidFile) ? Number(readFileSync(notebookPidFile, 'utf8')) : NaN;
  if (Number.isInteger(notebookPid) && notebookPid > 0 && alive(notebookPid))
    process.kill(notebookPid, 'SIGTERM');
}

beforeAll(async () => {
  const binary = which('jupyterhub');
  // Not a skip: the hub is a declared system dependency (scripts/install-system-deps.sh).
  if (!binary) throw new Error('jupyterhub is not installed: run scripts/install-system-deps.sh');
  dir = tempDir('climcat-hub-');
  const ports = { proxy: await freePort(), proxyApi: await freePort(), hub: await freePort() };
  hubApi = `http://127.0.0.1:${ports.hub}/hub/api`;
  proxy = `http://127.0.0.1:${ports.proxy}`;
  running = await startApp({
    env: {
      JUPYTERHUB_API_URL: hubApi,
      JUPYTERHUB_API_TOKEN: SERVICE_TOKEN,
      JUPYTERHUB_CACHE_TTL: `${CACHE_TTL_MS}ms`,
      JUPYTERHUB_TIMEOUT: `${HUB_TIMEOUT_MS}ms`,
      // Hub groups cc-<x> are catalog groups <x>; "ops" is mapped; any other hub group gives nothing.
      JUPYTERHUB_GROUP_PREFIX: 'cc-',
      JUPYTERHUB_GROUP_MAP: 'ops=climate-ops',
    },
  });
  writeFileSync(join(dir, 'jupyterhub_config.py'), hubConfig(ports));
  writeFileSync(join(dir, 'notebook.py'), NOTEBOOK);
  const log = openSync(join(dir, 'hub.log'), 'a');
  hub = spawn(binary, ['-f', join(dir, 'jupyterhub_config.py')], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', log, log],
    // Debian's configurable-http-proxy finds its modules only through NODE_PATH.
    env: { ...process.env, NODE_PATH: '/usr/share/nodejs' },
  });
  const child = hub;
  hubExited = new Promise((resolve) => child.once('exit', () => resolve()));
  await waitFor('JupyterHub API', 40_000, async () => (await fetch(`${hubApi}/`)).ok);
  await waitFor('proxy route to climcat', 20_000, async () => {
    return (await fetch(`${proxy}/services/climcat/health/live`)).ok;
  });

  for (const user of ['alice', 'bob', 'carol']) await hubAdmin('POST', `/users/${user}`);
  const groups: Record<string, string[]> = {
    'climcat-users': ['alice', 'bob'],
    'cc-cordex': ['alice'],
    ops: ['alice'],
    unrelated: ['alice', 'carol'],
  };
  for (const [group, users] of Object.entries(groups)) {
    // climcat-users exists already: load_roles created it.
    if (group !== 'climcat-users') await hubAdmin('POST', `/groups/${group}`);
    await hubAdmin('POST', `/groups/${group}/users`, { users });
  }

  const seeds: [string, { public: boolean; ownerGroup: string; accessGroups: string[] }][] = [
    ['hub-public.v1', { public: true, ownerGroup: 'esgf', accessGroups: [] }],
    ['hub-cordex.v1', { public: false, ownerGroup: 'cordex', accessGroups: [] }],
    ['hub-ops.v1', { public: false, ownerGroup: 'esgf', accessGroups: ['climate-ops'] }],
    ['hub-unrelated.v1', { public: false, ownerGroup: 'unrelated', accessGroups: [] }],
    ['hub-members.v1', { public: false, ownerGroup: 'climcat-users', accessGroups: ['cc-cordex'] }],
  ];
  for (const [id, access] of seeds) {
    const res = await call('/api/v1/datasets', ADMIN, {
      method: 'POST',
      body: datasetBody({ id, kind: 'derived', access }),
    });
    if (res.status !== 201) throw new Error(`seeding ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}, 90_000);

afterAll(async () => {
  if (dir) await stopHub();
  await running?.close();
});

describe('hub tokens', () => {
  it('maps a hub user to the principal and hub groups to catalog groups', async () => {
    const { token: t } = await hubToken('alice');
    const me = await call('/api/v1/auth/whoami', token(t));
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      via: 'jupyterhub',
      subject: 'hub:alice',
      user: 'alice',
      roles: ['reader'],
      groups: expect.arrayContaining(['cordex', 'climate-ops']),
    });
    expect(me.body.groups).toHaveLength(2);
  });

  it("shows a hub user's token exactly their groups' datasets, with token or Bearer", async () => {
    const { token: t } = await hubToken('alice');
    const mine = ['hub-cordex.v1', 'hub-ops.v1', 'hub-public.v1'];
    expect((await visibleIds(token(t))).filter((id) => id.startsWith('hub-'))).toEqual(mine);
    expect((await visibleIds(bearerOf(t))).filter((id) => id.startsWith('hub-'))).toEqual(mine);
    const hidden = await call('/api/v1/datasets/hub-unrelated.v1', token(t));
    expect(hidden.status).toBe(404);
  });

  it('gives a hub user without mapped groups only public data (no groups never widen access)', async () => {
    const { token: t } = await hubToken('bob');
    const me = await call('/api/v1/auth/whoami', token(t));
    expect(me.body).toMatchObject({ via: 'jupyterhub', user: 'bob', groups: [] });
    expect((await visibleIds(token(t))).filter((id) => id.startsWith('hub-'))).toEqual(['hub-public.v1']);
  });

  it('refuses a token whose user lacks access:services!service=climcat with a 403 problem', async () => {
    const { token: t } = await hubToken('carol');
    const res = await call('/api/v1/datasets', token(t));
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((res.body as Problem).detail).toContain('access:services!service=climcat');
  });

  it('refuses a token issued with scopes that leave out access to climcat', async () => {
    const { token: t } = await hubToken('alice', ['read:users:name!user=alice']);
    const res = await call('/api/v1/auth/whoami', token(t));
    expect(res.status).toBe(403);
    expect((res.body as Problem).detail).toContain('lacks the scope');
  });

  it('refuses a token the hub does not know with 401', async () => {
    const res = await call('/api/v1/auth/whoami', token('0123456789abcdef0123456789abcdef'));
    expect(res.status).toBe(401);
    expect((res.body as Problem).detail).toContain('JupyterHub does not accept this token');
  });

  it('still accepts climcat API keys and the admin key next to hub tokens', async () => {
    expect((await call('/api/v1/auth/whoami', ADMIN)).body).toMatchObject({ via: 'api-key' });
  });

  it('stops accepting a revoked token once the cache time has passed', async () => {
    const { id, token: t } = await hubToken('alice');
    const started = Date.now();
    expect((await call('/api/v1/auth/whoami', token(t))).status).toBe(200);
    const cachedAt = Date.now();
    await hubAdmin('DELETE', `/users/alice/tokens/${id}`);
    const soon = await call('/api/v1/auth/whoami', token(t));
    // Within the cache time the cached identity answers (when this runs fast enough to tell).
    if (Date.now() < started + CACHE_TTL_MS) expect(soon.status).toBe(200);
    const wait = cachedAt + CACHE_TTL_MS + 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const later = await call('/api/v1/auth/whoami', token(t));
    expect(later.status).toBe(401);
  });

  it('serves the same routes through the hub proxy at /services/climcat/', async () => {
    const { token: t } = await hubToken('alice');
    const me = await call('/services/climcat/api/v1/auth/whoami', token(t), { base: proxy });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ via: 'jupyterhub', user: 'alice' });
    // The API docs page names its assets relative to itself, so it works under the prefix too.
    const page = await call('/services/climcat/api/docs', {}, { base: proxy });
    expect(page.status).toBe(200);
    const css = /href="([^"]*swagger-ui\.css)"/.exec(String(page.body))?.[1];
    expect(css).toBeDefined();
    const asset = await fetch(new URL(css ?? '', `${proxy}/services/climcat/api/docs`));
    expect(asset.status).toBe(200);
  });
});

describe('a notebook server of the hub', () => {
  it('reaches climcat with its own $JUPYTERHUB_API_TOKEN and no other setup', async () => {
    await hubAdmin('POST', '/users/alice/server');
    const result = join(dir, 'home', 'alice', 'whoami.json');
    await waitFor("alice's notebook server", 40_000, async () => existsSync(result));
    const { status, body } = JSON.parse(readFileSync(result, 'utf8')) as {
      status: number;
      body: { via: string; user: string; groups: string[] };
    };
    expect(status).toBe(200);
    expect({ ...body, groups: [...body.groups].sort() }).toMatchObject({
      via: 'jupyterhub',
      user: 'alice',
      groups: ['climate-ops', 'cordex'],
    });
    await waitFor('server ready', 30_000, async () => {
      const user = await hubAdmin('GET', '/users/alice');
      return user.servers?.['']?.ready === true;
    });
    await hubAdmin('DELETE', '/users/alice/server');
  });
});

describe('hub OAuth for browsers', () => {
  async function login(
    user: string,
    jar: Jar,
    next = '/services/climcat/api/v1/auth/whoami',
  ): Promise<Response> {
    const start = await browse(jar, `/services/climcat/oauth_login?next=${encodeURIComponent(next)}`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location') ?? '', proxy);
    expect(authorize.pathname).toBe('/hub/api/oauth2/authorize');
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: 'service-climcat',
      redirect_uri: '/services/climcat/oauth_callback',
      response_type: 'code',
    });
    // The dummy authenticator takes any password; the hub then continues to the authorize page.
    const hubLogin = await browse(
      jar,
      `/hub/login?next=${encodeURIComponent(authorize.pathname + authorize.search)}`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: user, password: 'any' }).toString(),
      },
    );
    expect(hubLogin.status).toBe(302);
    const granted = await browse(jar, hubLogin.headers.get('location') ?? '');
    return granted;
  }

  it('logs a hub user in and the session cookie authenticates API calls', async () => {
    const jar = new Jar();
    const granted = await login('alice', jar);
    expect(granted.status).toBe(302);
    const callback = new URL(granted.headers.get('location') ?? '', proxy);
    expect(callback.pathname).toBe('/services/climcat/oauth_callback');
    expect(callback.searchParams.get('code')).toBeTruthy();

    const done = await browse(jar, callback.pathname + callback.search);
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/services/climcat/api/v1/auth/whoami');
    const session = done.headers.getSetCookie().find((c) => c.startsWith('climcat-session='));
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Path=\/services\/climcat\//);
    expect(jar.get('climcat-csrf')).toBeTruthy();

    const me = await browse(jar, '/services/climcat/api/v1/auth/whoami');
    expect(me.status).toBe(200);
    const identity = (await me.json()) as { via: string; user: string; groups: string[] };
    expect({ ...identity, groups: [...identity.groups].sort() }).toMatchObject({
      via: 'jupyterhub',
      user: 'alice',
      groups: ['climate-ops', 'cordex'],
    });
    const list = await browse(jar, '/services/climcat/api/v1/datasets?limit=100');
    const ids = ((await list.json()) as { items: { id: string }[] }).items
      .map((d) => d.id)
      .filter((id) => id.startsWith('hub-'));
    expect(ids.sort()).toEqual(['hub-cordex.v1', 'hub-ops.v1', 'hub-public.v1']);

    // A change made with the cookie needs the CSRF token; API-token callers are unaffected.
    const patch = (headers: Record<string, string>) =>
      browse(jar, '/services/climcat/api/v1/datasets/hub-cordex.v1', {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ title: 'changed in a browser' }),
      });
    const refused = await patch({});
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Problem).detail).toContain('x-csrf-token');
    expect((await patch({ 'X-CSRF-Token': 'not-the-token' })).status).toBe(403);
    const accepted = await patch({ 'X-CSRF-Token': jar.get('climcat-csrf') ?? '' });
    expect(accepted.status).toBe(200);
    const { token: t } = await hubToken('alice');
    const viaToken = await call('/api/v1/datasets/hub-cordex.v1', token(t), {
      method: 'PATCH',
      body: { title: 'changed with a token' },
    });
    expect(viaToken.status).toBe(200);

    const out = await browse(jar, '/services/climcat/oauth_logout');
    expect(out.status).toBe(200);
    expect(jar.get('climcat-session')).toBeUndefined();
    const anonymous = await browse(jar, '/services/climcat/api/v1/auth/whoami');
    expect(await anonymous.json()).toMatchObject({ via: 'anonymous' });
  });

  it('refuses a callback whose state does not match the browser’s login', async () => {
    const jar = new Jar();
    const granted = await login('alice', jar);
    const callback = new URL(granted.headers.get('location') ?? '', proxy);
    callback.searchParams.set('state', 'forged');
    const res = await browse(jar, callback.pathname + callback.search);
    expect(res.status).toBe(403);
    expect(((await res.json()) as Problem).detail).toContain('OAuth state does not match');
    expect(jar.get('climcat-session')).toBeUndefined();
  });

  it('refuses a forged session cookie (treated as no session)', async () => {
    const res = await call('/api/v1/auth/whoami', { Cookie: 'climcat-session=eyJhbGciOiJkaXIifQ..x.y.z' });
    expect(res.body).toMatchObject({ via: 'anonymous' });
  });
});

describe('a hub that hangs or is down', () => {
  it('answers 503 with Retry-After within the timeout when the hub does not answer', async () => {
    const { token: t } = await hubToken('alice');
    const pid = hub?.pid;
    if (pid === undefined) throw new Error('hub not running');
    process.kill(-pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const res = await call('/api/v1/auth/whoami', token(t));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect((res.body as Problem).detail).toContain(`did not answer GET /user within ${HUB_TIMEOUT_MS} ms`);
      expect(Date.now() - started).toBeLessThan(HUB_TIMEOUT_MS + 2_000);
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    // Failures are not cached: the hub answers again.
    expect((await call('/api/v1/auth/whoami', token(t))).status).toBe(200);
  });

  it('keeps a cached identity until its time runs out, then answers 503; new tokens get 503 at once', async () => {
    const { token: t } = await hubToken('alice');
    const { token: fresh } = await hubToken('bob');
    expect((await call('/api/v1/auth/whoami', token(t))).status).toBe(200);
    const cachedAt = Date.now();
    // Down at once (its proxy, in its own session, is left to afterAll).
    const pid = hub?.pid;
    if (pid === undefined) throw new Error('hub not running');
    process.kill(-pid, 'SIGKILL');
    await hubExited;
    const cached = await call('/api/v1/auth/whoami', token(t));
    if (Date.now() < cachedAt + CACHE_TTL_MS - 500) expect(cached.status).toBe(200);
    const unknown = await call('/api/v1/auth/whoami', token(fresh));
    expect(unknown.status).toBe(503);
    expect(unknown.headers.get('retry-after')).toBe('5');
    expect((unknown.body as Problem).detail).toMatch(
      /JupyterHub at http:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );
    const wait = cachedAt + CACHE_TTL_MS + 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect((await call('/api/v1/auth/whoami', token(t))).status).toBe(503);
  });
});
