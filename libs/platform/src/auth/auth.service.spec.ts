import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnauthorizedError, type Principal, type Store } from '@climcat/core';
import { createStore } from '@climcat/store';
import { loadConfig } from '../config/config';
import { hashApiKey } from './api-key';
import { AuthService } from './auth.service';
import { JupyterHubService } from './jupyterhub';

const ADMIN_KEY = 'spec-admin-key-0123456789';
const ADMIN: Principal = { via: 'api-key', subject: 'spec', user: 'spec', roles: ['admin'], groups: [] };

describe('AuthService API keys', () => {
  let dir: string;
  let store: Store;
  /** Two replicas sharing one store, each with its own key cache. */
  let here: AuthService;
  let replica: AuthService;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-auth-'));
    const config = loadConfig('catalog', { STATE_DIR: dir, LOG_LEVEL: 'silent', ADMIN_API_KEY: ADMIN_KEY });
    store = await createStore({ adapter: 'sqlite', path: join(dir, 'catalog.sqlite') });
    here = new AuthService(config, store, new JupyterHubService(config));
    replica = new AuthService(config, store, new JupyterHubService(config));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const bearer = (key: string) => `Bearer ${key}`;
  const newKey = async () =>
    (await here.createKey(ADMIN, { name: 'notebook', roles: ['reader'], groups: ['eucp'] })).key;
  /** Stops the clock at its time now; `at(ms)` then sets it `ms` after that. */
  const stopClock = () => {
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
    return (ms: number) => clock.mockReturnValue(start + ms);
  };

  it('stores the SHA-256 hex of a key, as keys created before were stored', () => {
    const key = 'cc_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key, 'utf8').digest('hex'));
  });

  it('knows the admin key and refuses any other key', async () => {
    await expect(here.authenticate(bearer(ADMIN_KEY))).resolves.toMatchObject({
      subject: 'admin-bootstrap',
      roles: ['admin'],
    });
    await expect(here.authenticate(bearer(`${ADMIN_KEY}x`))).rejects.toThrow(UnauthorizedError);
    await expect(here.authenticate(bearer('cc_unknown'))).rejects.toThrow(UnauthorizedError);
  });

  it('refuses a key revoked on the same replica at once, though it was cached', async () => {
    const key = await newKey();
    const principal = await here.authenticate(bearer(key));
    expect(principal).toMatchObject({ roles: ['reader'], groups: ['eucp'], user: 'notebook' });
    await here.revokeKey(ADMIN, principal.subject.replace(/^key:/, ''));
    await expect(here.authenticate(bearer(key))).rejects.toThrow('API key is unknown, revoked or expired');
  });

  it('refuses a key revoked on another replica within 5 seconds', async () => {
    const key = await newKey();
    const at = stopClock();
    const principal = await replica.authenticate(bearer(key));
    await here.revokeKey(ADMIN, principal.subject.replace(/^key:/, ''));
    // The replica's cached answer stands for at most the cache time...
    await expect(replica.authenticate(bearer(key))).resolves.toMatchObject({ subject: principal.subject });
    at(4_999);
    await expect(replica.authenticate(bearer(key))).resolves.toMatchObject({ subject: principal.subject });
    // ...then the store is asked again.
    at(5_001);
    await expect(replica.authenticate(bearer(key))).rejects.toThrow(UnauthorizedError);
  });

  it('refuses a key once it has expired', async () => {
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const { key } = await here.createKey(ADMIN, { name: 'short', roles: ['reader'], groups: [], expiresAt });
    const at = stopClock();
    await expect(here.authenticate(bearer(key))).resolves.toMatchObject({ user: 'short' });
    at(60_001);
    await expect(here.authenticate(bearer(key))).rejects.toThrow(UnauthorizedError);
  });
});
