import { stripServicePrefix } from '../bootstrap';
import { ConfigError, loadConfig } from '../config/config';
import { mapHubGroups } from './jupyterhub';
import { parseCookies, serializeCookie, SessionCodec } from './session';

const HUB = { JUPYTERHUB_API_URL: 'http://hub:8081/hub/api/', JUPYTERHUB_API_TOKEN: 'a'.repeat(32) };

describe('JupyterHub config', () => {
  it('follows JupyterHub’s defaults for a service named climcat', () => {
    const hub = loadConfig('standalone', HUB).jupyterhub;
    expect(hub).toMatchObject({
      apiUrl: 'http://hub:8081/hub/api',
      serviceName: 'climcat',
      accessScopes: ['access:services', 'access:services!service=climcat'],
      servicePrefix: '/services/climcat/',
      clientId: 'service-climcat',
      authorizeUrl: '/hub/api/oauth2/authorize',
      tokenUrl: 'http://hub:8081/hub/api/oauth2/token',
      callbackUrl: '/services/climcat/oauth_callback',
      cacheTtlMs: 60_000,
      negativeCacheTtlMs: 10_000,
      timeoutMs: 5_000,
    });
    expect(hub?.session.generated).toBe(true);
    expect(hub?.session.secret.length).toBeGreaterThanOrEqual(32);
  });

  it('is off without JUPYTERHUB_API_URL', () => {
    expect(loadConfig('standalone', {}).jupyterhub).toBeUndefined();
  });

  it('reads names, host, prefix, groups and times', () => {
    const hub = loadConfig('catalog', {
      ...HUB,
      JUPYTERHUB_SERVICE_NAME: 'catalog',
      JUPYTERHUB_HOST: 'https://hub.example.org',
      JUPYTERHUB_BASE_URL: '/jh/',
      JUPYTERHUB_GROUP_PREFIX: 'cc-',
      JUPYTERHUB_GROUP_MAP: 'ops=climate-ops, ops=curators,eucp=eucp',
      JUPYTERHUB_CACHE_TTL: '5s',
      SESSION_SECRET: 's'.repeat(32),
    }).jupyterhub;
    expect(hub).toMatchObject({
      servicePrefix: '/jh/services/catalog/',
      clientId: 'service-catalog',
      authorizeUrl: 'https://hub.example.org/jh/hub/api/oauth2/authorize',
      callbackUrl: '/jh/services/catalog/oauth_callback',
      groupPrefix: 'cc-',
      groupMap: { ops: ['climate-ops', 'curators'], eucp: ['eucp'] },
      cacheTtlMs: 5_000,
      negativeCacheTtlMs: 5_000,
      session: { secret: 's'.repeat(32), generated: false },
    });
  });

  it.each([
    [{ JUPYTERHUB_API_URL: 'http://hub:8081/hub/api' }, 'JUPYTERHUB_API_TOKEN is required'],
    [{ ...HUB, JUPYTERHUB_SERVICE_PREFIX: 'services/x' }, 'JUPYTERHUB_SERVICE_PREFIX must be a URL path'],
    [{ ...HUB, JUPYTERHUB_CLIENT_ID: 'climcat' }, 'JUPYTERHUB_CLIENT_ID must start with service-'],
    [{ ...HUB, JUPYTERHUB_HOST: 'https://hub/path' }, 'JUPYTERHUB_HOST must be scheme://host[:port] only'],
    [{ ...HUB, JUPYTERHUB_GROUP_MAP: 'ops' }, 'JUPYTERHUB_GROUP_MAP must be hubgroup=cataloggroup pairs'],
    [{ ...HUB, SESSION_SECRET: 'short' }, 'SESSION_SECRET must be at least 32 characters'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig('standalone', env)).toThrow(message);
  });

  it('needs SESSION_SECRET outside standalone, where replicas share sessions', () => {
    expect(() => loadConfig('catalog', HUB)).toThrow(ConfigError);
    expect(() => loadConfig('catalog', HUB)).toThrow('SESSION_SECRET is required with JUPYTERHUB_API_URL');
  });
});

describe('mapHubGroups', () => {
  it('passes hub groups through when neither prefix nor map is set', () => {
    expect(mapHubGroups(['a', 'b', 'a', ' '], {})).toEqual(['a', 'b']);
  });

  it('keeps only prefixed or mapped groups when either is set', () => {
    const hub = { groupPrefix: 'cc-', groupMap: { ops: ['climate-ops'], 'cc-x': ['extra'] } };
    expect(mapHubGroups(['cc-cordex', 'ops', 'unrelated', 'cc-', 'cc-x'], hub).sort()).toEqual([
      'climate-ops',
      'cordex',
      'extra',
      'x',
    ]);
  });

  it('never widens: no hub groups, or none matching, give no catalog groups', () => {
    expect(mapHubGroups([], {})).toEqual([]);
    expect(mapHubGroups(['other', '__proto__', 'constructor'], { groupMap: { ops: ['x'] } })).toEqual([]);
  });
});

describe('stripServicePrefix', () => {
  it.each([
    ['/services/climcat/api/v1/datasets?x=1', '/api/v1/datasets?x=1'],
    ['/services/climcat/', '/'],
    ['/services/climcat', '/'],
    ['/services/climcat?next=/', '/?next=/'],
    ['/services/climcatx/api', '/services/climcatx/api'],
    ['/api/v1/datasets', '/api/v1/datasets'],
  ])('%s → %s', (url, expected) => {
    expect(stripServicePrefix(url, '/services/climcat/')).toBe(expected);
  });
});

describe('SessionCodec', () => {
  const codec = new SessionCodec('x'.repeat(32));

  it('opens what it sealed, for the same purpose only', async () => {
    const sealed = await codec.seal({ tok: 'hubtoken', csrf: 'c' }, 60_000, 'session');
    expect(sealed).not.toContain('hubtoken');
    expect(await codec.openSession(sealed)).toEqual({ tok: 'hubtoken', csrf: 'c' });
    expect(await codec.openState(sealed)).toBeUndefined();
  });

  it('refuses another key, a damaged value and an expired one', async () => {
    const sealed = await codec.seal({ state: 's', next: '/', base: '/' }, 60_000, 'state');
    expect(await codec.openState(sealed)).toEqual({ state: 's', next: '/', base: '/' });
    expect(await new SessionCodec('y'.repeat(32)).openState(sealed)).toBeUndefined();
    const parts = sealed.split('.');
    const ciphertext = parts[3] ?? '';
    parts[3] = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
    expect(await codec.openState(parts.join('.'))).toBeUndefined();
    const expired = await codec.seal({ state: 's', next: '/', base: '/' }, -120_000, 'state');
    expect(await codec.openState(expired)).toBeUndefined();
  });
});

describe('cookies', () => {
  it('parses a Cookie header, first of duplicates winning', () => {
    const cookies = parseCookies('a=1; climcat-session=abc.def; a=2; b="q"; junk');
    expect(Object.fromEntries(cookies)).toEqual({ a: '1', 'climcat-session': 'abc.def', b: 'q' });
    expect(parseCookies(undefined).size).toBe(0);
  });

  it('serializes with SameSite=Lax and the flags asked for', () => {
    expect(serializeCookie('n', 'v', { path: '/p/', maxAge: 60, secure: true, httpOnly: true })).toBe(
      'n=v; Path=/p/; Max-Age=60; SameSite=Lax; HttpOnly; Secure',
    );
    expect(serializeCookie('n', '', { path: '/', maxAge: 0, secure: false, httpOnly: false })).toBe(
      'n=; Path=/; Max-Age=0; SameSite=Lax',
    );
  });
});
