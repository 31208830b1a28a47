import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ADMIN, bearer, datasetBody, startApp, type RunningApp } from '../harness/app';

let running: RunningApp;
let jwks: Server;
let privateKey: KeyLike;
const ISSUER = 'https://idp.test/realms/climcat';

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${running.url}/api/v1/auth/keys`, {
    method: 'POST',
    headers: { ...ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await json(res)).key as string;
}

function whoami(headers: Record<string, string>): Promise<Response> {
  return fetch(`${running.url}/api/v1/auth/whoami`, { headers });
}

function jwt(
  claims: Record<string, unknown>,
  options: { issuer?: string; expires?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience('climcat')
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(options.expires ?? '5m')
    .sign(privateKey);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const port = (jwks.address() as { port: number }).port;
  running = await startApp({
    env: { OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`, OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: 'climcat' },
  });
});

afterAll(async () => {
  await running.close();
  await new Promise((resolve) => jwks.close(resolve));
});

describe('API keys', () => {
  it('treats a request without credentials as anonymous with no groups', async () => {
    expect(await json(await whoami({}))).toEqual({
      via: 'anonymous',
      subject: 'anonymous',
      roles: [],
      groups: [],
    });
  });

  it('accepts ADMIN_API_KEY as an admin key', async () => {
    expect(await json(await whoami(ADMIN))).toMatchObject({ via: 'api-key', roles: ['admin'] });
  });

  it('rejects an unknown key with 401 and a WWW-Authenticate challenge', async () => {
    const res = await whoami(bearer('cc_not-a-real-key'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('rejects an unsupported scheme and an empty bearer', async () => {
    expect((await whoami({ Authorization: 'Digest abc' })).status).toBe(401);
    expect((await whoami({ Authorization: 'Bearer' })).status).toBe(401);
  });

  it('creates a key whose roles and groups apply, and stores only its hash', async () => {
    const key = await createKey({ name: 'notebook', roles: ['reader'], groups: ['eucp'] });
    expect(key).toMatch(/^cc_[\w-]{43}$/);
    expect(await json(await whoami(bearer(key)))).toMatchObject({
      via: 'api-key',
      roles: ['reader'],
      groups: ['eucp'],
    });
    const db = new Database(join(running.stateDir, 'catalog.sqlite'), { readonly: true });
    const dump = db
      .prepare("SELECT name FROM sqlite_master WHERE type='table'")
      .all()
      .map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${(t as { name: string }).name}"`).all()))
      .join('\n');
    db.close();
    expect(dump).not.toContain(key.slice(3));
  });

  it('gives a key its user name, defaulting to its name', async () => {
    const named = await createKey({ name: 'alice-notebook', roles: ['reader'], groups: [], user: 'alice' });
    expect((await json(await whoami(bearer(named)))).user).toBe('alice');
    const unnamed = await createKey({ name: 'bob', roles: ['reader'], groups: [] });
    expect((await json(await whoami(bearer(unnamed)))).user).toBe('bob');
  });

  it.each(['../etc', 'a/b', '.hidden', 'x..y', '', 'a b'])(
    'refuses the user name %j with a problem naming body.user',
    async (user) => {
      const res = await fetch(`${running.url}/api/v1/auth/keys`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'k', roles: ['reader'], groups: [], user }),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(JSON.stringify(await json(res))).toContain('user');
    },
  );

  it('accepts the key as the password of HTTP Basic (netCDF-C, .netrc)', async () => {
    const key = await createKey({ name: 'ncdump', roles: ['reader'], groups: [] });
    const basic = Buffer.from(`anyone:${key}`).toString('base64');
    expect(await json(await whoami({ Authorization: `Basic ${basic}` }))).toMatchObject({ via: 'api-key' });
  });

  it('stops accepting a revoked key', async () => {
    const res = await fetch(`${running.url}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'short-lived', roles: ['reader'], groups: [] }),
    });
    const created = await json(res);
    expect((await whoami(bearer(created.key as string))).status).toBe(200);
    const revoked = await fetch(`${running.url}/api/v1/auth/keys/${created.id as string}`, {
      method: 'DELETE',
      headers: ADMIN,
    });
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).revokedAt).toEqual(expect.any(String));
    expect((await whoami(bearer(created.key as string))).status).toBe(401);
  });

  it('lets only admins create keys', async () => {
    const curator = await createKey({ name: 'curator', roles: ['curator'], groups: [] });
    const res = await fetch(`${running.url}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { ...bearer(curator), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x', roles: ['admin'], groups: [] }),
    });
    expect(res.status).toBe(403);
    const anonymous = await fetch(`${running.url}/api/v1/auth/keys`);
    expect(anonymous.status).toBe(401);
  });

  it('validates key creation input', async () => {
    const res = await fetch(`${running.url}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x', roles: ['superuser'], groups: [''] }),
    });
    expect(res.status).toBe(400);
    const fields = ((await json(res)).errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.roles', 'body.groups']));
  });

  it('lists keys without secrets or hashes', async () => {
    const res = await fetch(`${running.url}/api/v1/auth/keys?limit=100`, { headers: ADMIN });
    const body = await json(res);
    expect(body.total).toBeGreaterThan(0);
    for (const item of body.items as Record<string, unknown>[]) {
      expect(item).not.toHaveProperty('hash');
      expect(item).not.toHaveProperty('key');
    }
  });

  it('answers a malformed key id with 400', async () => {
    expect(
      (await fetch(`${running.url}/api/v1/auth/keys/not-a-uuid`, { method: 'DELETE', headers: ADMIN }))
        .status,
    ).toBe(400);
  });
});

describe('OIDC JWT', () => {
  it('takes groups and roles from the configured claims', async () => {
    const token = await jwt({ groups: ['eucp', 'smhi'], roles: ['curator', 'unknown-role'] });
    expect(await json(await whoami(bearer(token)))).toEqual({
      via: 'jwt',
      subject: 'alice',
      user: 'alice',
      roles: ['curator'],
      groups: ['eucp', 'smhi'],
    });
  });

  it.each([
    ['preferred_username', { preferred_username: 'jdoe', name: 'Jane Doe' }, 'jdoe'],
    ['name when there is no preferred_username', { name: 'jane' }, 'jane'],
    ['sub when neither is set', {}, 'alice'],
  ])('takes the user name from %s', async (_label, claims, user) => {
    expect((await json(await whoami(bearer(await jwt(claims))))).user).toBe(user);
  });

  it.each([
    ['missing', {}],
    ['empty', { groups: [] }],
    ['not a list', { groups: { all: true } }],
    ['blank strings', { groups: ['', '  '] }],
  ])('never widens access when the group claim is %s', async (_label, claims) => {
    const token = await jwt(claims);
    const me = await json(await whoami(bearer(token)));
    expect(me.groups).toEqual([]);
    expect(me.roles).toEqual(['reader']);
  });

  it('a reader with an empty group claim sees only public datasets', async () => {
    for (const [id, isPublic] of [
      ['jwt-public.v1', true],
      ['jwt-private.v1', false],
    ] as const) {
      const res = await fetch(`${running.url}/api/v1/datasets`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify(
          datasetBody({ id, access: { public: isPublic, ownerGroup: 'secret', accessGroups: [] } }),
        ),
      });
      expect(res.status).toBe(201);
    }
    const token = await jwt({ groups: [] });
    expect(
      (await fetch(`${running.url}/api/v1/datasets/jwt-private.v1`, { headers: bearer(token) })).status,
    ).toBe(404);
    expect(
      (await fetch(`${running.url}/api/v1/datasets/jwt-public.v1`, { headers: bearer(token) })).status,
    ).toBe(200);
    const member = await jwt({ groups: ['secret'] });
    expect(
      (await fetch(`${running.url}/api/v1/datasets/jwt-private.v1`, { headers: bearer(member) })).status,
    ).toBe(200);
  });

  it.each([
    ['a wrong issuer', () => jwt({}, { issuer: 'https://evil.test' })],
    ['an expired token', () => jwt({}, { expires: '-1m' })],
    ['a tampered signature', async () => `${(await jwt({})).slice(0, -4)}AAAA`],
  ])('rejects %s with 401', async (_label, make) => {
    const res = await whoami(bearer(await make()));
    expect(res.status).toBe(401);
    expect(((await json(res)).detail as string).startsWith('JWT rejected')).toBe(true);
  });
});
