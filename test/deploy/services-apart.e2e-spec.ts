/**
 * The production shape: catalog, ingestor, thredds-proxy and scratch-quota as
 * separate processes (two replicas of catalog and thredds-proxy) on one
 * MongoDB-wire server, one redis-server and s3rver, behind a path router built
 * from the chart's routing table. The user journeys pass here as standalone.
 */
jest.setTimeout(120_000);
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'minio';
import { tempDir, TEST_ADMIN_KEY } from '../harness/app';
import { s3TestClient, testEnv } from '../harness/env';
import { freePort } from '../harness/servers';
import { demoArchive } from '../ingestor/archive';
import { exited, serviceProcess } from '../ingestor/standalone';
import { startRouter, type Component, type Router } from './router';

const run = promisify(execFile);

const TOKEN = 'webhook-token-0123456789';
const BUCKET = `apart-${Date.now()}`;
const ADMIN = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
/** The API-key cache of every process (libs/platform/src/auth/auth.service.ts CACHE_TTL_MS), plus slack. */
const KEY_CACHE_MS = 5_000;

interface Replica {
  component: Component;
  url: string;
  process: ChildProcess;
  output: string[];
}

const SERVICES: Record<Component, 'catalog' | 'ingestor' | 'thredds-proxy' | 'scratch-quota'> = {
  catalog: 'catalog',
  ingestor: 'ingestor',
  threddsProxy: 'thredds-proxy',
  scratchQuota: 'scratch-quota',
};

let router: Router;
const upstreams: Record<Component, string[]> = {
  catalog: [],
  ingestor: [],
  threddsProxy: [],
  scratchQuota: [],
};
const replicas: Replica[] = [];
let dirs: string[] = [];
let s3: Client;
let demoDir: string;
let demo: string[];
let scratch: string;
let derived: string;
let alice: Record<string, string>;

const of = (component: Component) => replicas.filter((r) => r.component === component);

async function http(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers };
}

async function startReplica(component: Component, env: Record<string, string>): Promise<Replica> {
  const port = await freePort();
  const stateDir = tempDir(`climcat-${SERVICES[component]}-`);
  dirs.push(stateDir);
  const child = serviceProcess(
    SERVICES[component],
    { ...env, PORT: String(port), STATE_DIR: stateDir },
    'pipe',
  );
  const output: string[] = [];
  child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
  const replica = { component, url: `http://127.0.0.1:${port}`, process: child, output };
  replicas.push(replica);
  return replica;
}

async function ready(replica: Replica): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (replica.process.exitCode !== null)
      throw new Error(`${replica.component} exited ${replica.process.exitCode}: ${replica.output.join('')}`);
    const ok = await fetch(`${replica.url}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(
        `${replica.component} at ${replica.url} not ready: ${replica.output.join('').slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

function event(name: string, key: string, etag: string, sequencer: string): Record<string, unknown> {
  return {
    EventName: name,
    Key: `${BUCKET}/${key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventName: name,
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
          object: { key, size: 1, eTag: etag, sequencer },
        },
      },
    ],
  };
}

/** Waits until the ingestor has applied every bucket event posted so far. */
async function settleEvents(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const counts = await Promise.all(
      ['waiting', 'active', 'delayed'].map(
        async (state) =>
          (await http(router.url, 'GET', `/ingest/v1/jobs/events?state=${state}`, { headers: ADMIN })).body
            .total,
      ),
    );
    if (counts.every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`bucket events did not settle: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TAS_ID = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
const tasKey = () => demo.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;

beforeAll(async () => {
  s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  demoDir = tempDir('climcat-apart-demo-');
  demo = await demoArchive(demoDir);
  scratch = tempDir('climcat-apart-scratch-');
  derived = tempDir('climcat-apart-derived-');
  dirs = [demoDir, scratch, derived];
  router = await startRouter(upstreams);
  const redis = new URL(testEnv('TEST_REDIS_URL'));
  redis.pathname = '/7'; // a Redis database of its own: no other suite's queue jobs
  const env = {
    MONGODB_URI: testEnv('TEST_MONGODB_URI'),
    MONGODB_DB: `apart_${Date.now()}`,
    REDIS_URL: redis.toString(),
    S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER',
    S3_BUCKET: BUCKET,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    INGEST_WEBHOOK_TOKEN: TOKEN,
    INGEST_PUBLIC: 'true',
    DATA_ROOT: demoDir,
    SCRATCH_ROOT: scratch,
    DERIVED_ROOT: derived,
    PUBLIC_URL: router.url,
    NODE_RED_ENABLED: 'false',
    SCAN_ON_BOOT: 'false',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
  };
  // The catalog first: it creates the store's indexes and runs its migrations once.
  const first = await startReplica('catalog', env);
  await ready(first);
  const rest = await Promise.all([
    startReplica('catalog', env),
    startReplica('ingestor', env),
    startReplica('threddsProxy', env),
    startReplica('threddsProxy', env),
    startReplica('scratchQuota', env),
  ]);
  await Promise.all(rest.map(ready));
  for (const r of replicas) upstreams[r.component].push(r.url);
});

afterAll(async () => {
  for (const r of replicas) r.process.kill('SIGTERM');
  await Promise.all(replicas.map((r) => exited(r.process)));
  await router?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('four services apart behind the routing table', () => {
  it('runs each component as its own process, answering only its own paths', async () => {
    expect(replicas.map((r) => r.component).sort()).toEqual([
      'catalog',
      'catalog',
      'ingestor',
      'scratchQuota',
      'threddsProxy',
      'threddsProxy',
    ]);
    const [thredds] = of('threddsProxy');
    // A service serves its own prefix and nothing of the others.
    expect((await http(thredds!.url, 'GET', '/thredds/catalog.xml')).status).toBe(200);
    expect((await http(thredds!.url, 'GET', '/api/v1/datasets', { headers: ADMIN })).status).toBe(404);
    expect((await http(of('catalog')[0]!.url, 'GET', '/thredds/catalog.xml')).status).toBe(404);
    // Through the router every brief path reaches a service that knows it.
    for (const path of [
      '/api/v1/datasets',
      '/esg-search/search?type=Dataset',
      '/thredds/catalog.xml',
      '/scratch/v1/me',
      '/ingest/v1/scans',
    ])
      expect([path, (await http(router.url, 'GET', path, { headers: ADMIN })).status]).toEqual([path, 200]);
  });

  it('ingests a bucket event, finds it in search, and reads it over OPeNDAP with ncdump', async () => {
    const key = tasKey();
    await s3.putObject(BUCKET, key, readFileSync(join(demoDir, key)));
    const posted = await http(router.url, 'POST', '/ingest/v1/webhooks/s3', {
      headers: { authorization: TOKEN },
      body: event('s3:ObjectCreated:Put', key, 'e1', '1'),
    });
    expect(posted.status).toBe(202);
    await settleEvents();
    // Both catalog replicas see the new dataset (the router alternates between them).
    for (const c of of('catalog')) {
      const search = await http(c.url, 'GET', '/api/v1/datasets?model=HadGEM2-ES&variable=tas');
      expect(search.body.items.map((d: { id: string }) => d.id)).toContain(TAS_ID);
    }
    const files = await http(router.url, 'GET', `/api/v1/datasets/${TAS_ID}/files`);
    const opendap = files.body.items[0].urls.opendap as string;
    expect(opendap.startsWith(`${router.url}/thredds/dodsC/`)).toBe(true);
    const local = await run('ncdump', ['-h', join(demoDir, key)]);
    const remote = await run('ncdump', ['-h', opendap]);
    // Same header but for the name line (URL vs file) and DAP's DODS_EXTRA.
    const body = (s: string) =>
      s
        .split('\n')
        .slice(1)
        .filter((l) => !l.includes('DODS_EXTRA') && !l.includes('Unlimited_Dimension'));
    expect(body(remote.stdout).filter((l) => l.includes('float tas'))).toEqual(
      body(local.stdout).filter((l) => l.includes('float tas')),
    );
    const values = await run('ncdump', ['-v', 'tas', opendap]);
    const localValues = await run('ncdump', ['-v', 'tas', join(demoDir, key)]);
    expect(values.stdout.slice(values.stdout.indexOf('data:'))).toBe(
      localValues.stdout.slice(localValues.stdout.indexOf('data:')),
    );
  });

  it('grants an upload within the quota and refuses one beyond it', async () => {
    const key = await http(router.url, 'POST', '/api/v1/auth/keys', {
      headers: ADMIN,
      body: { name: 'alice-notebook', user: 'alice', roles: ['reader'], groups: ['climate'] },
    });
    expect(key.status).toBe(201);
    alice = { authorization: `Bearer ${key.body.key}` };
    const me = await http(router.url, 'GET', '/scratch/v1/me', { headers: alice });
    expect(me.status).toBe(200);
    expect(me.body.user).toBe('alice');
    const grant = await http(router.url, 'POST', '/scratch/v1/uploads', {
      headers: alice,
      body: { path: 'run1/out.nc', size: 1024 },
    });
    expect(grant.status).toBe(201);
    const tooBig = await http(router.url, 'POST', '/scratch/v1/uploads', {
      headers: alice,
      body: { path: 'run1/huge.nc', size: me.body.limits.hardBytes + 1 },
    });
    // 507 Insufficient Storage, as standalone answers: a problem that says how far over it is.
    expect(tooBig.status).toBe(507);
    expect(tooBig.headers.get('content-type')).toContain('application/problem+json');
    expect(tooBig.body.detail).toMatch(/quota|limit/i);
  });

  it('promotes scratch output to a derived dataset that every catalog replica lists and OPeNDAP serves', async () => {
    const key = tasKey();
    mkdirSync(join(scratch, 'alice', 'anomaly'), { recursive: true });
    copyFileSync(join(demoDir, key), join(scratch, 'alice', 'anomaly', 'tas_anomaly.nc'));
    const res = await http(router.url, 'POST', '/scratch/v1/me/promote', {
      headers: alice,
      body: {
        paths: ['anomaly/tas_anomaly.nc'],
        title: 'tas anomaly',
        description: 'Monthly tas anomaly against the 2006 mean',
        sources: [TAS_ID],
        software: { name: 'xarray', version: '2023.01.0' },
        public: true,
        version: '20261201',
      },
    });
    expect([201, 202]).toContain(res.status);
    const id = res.body.datasetId as string;
    const job = await until('promotion done', 60_000, async () => {
      const j = await http(router.url, 'GET', res.body.href as string, { headers: alice });
      return j.body.state === 'done' || j.body.state === 'failed' ? j : undefined;
    });
    expect(job.body).toMatchObject({ state: 'done', files: { done: 1, total: 1 } });
    for (const c of of('catalog')) {
      const dataset = await http(c.url, 'GET', `/api/v1/datasets/${id}`);
      expect([c.url, dataset.status, dataset.body.kind]).toEqual([c.url, 200, 'derived']);
      const lineage = await http(c.url, 'GET', `/api/v1/datasets/${TAS_ID}/lineage`, { headers: ADMIN });
      expect(JSON.stringify(lineage.body.descendants)).toContain(id);
    }
    const files = await http(router.url, 'GET', `/api/v1/datasets/${id}/files`);
    const opendap = files.body.items[0].urls.opendap as string;
    const remote = await run('ncdump', ['-v', 'tas', opendap]);
    const local = await run('ncdump', ['-v', 'tas', join(demoDir, key)]);
    expect(remote.stdout.slice(remote.stdout.indexOf('data:'))).toBe(
      local.stdout.slice(local.stdout.indexOf('data:')),
    );
  });

  it('a revoked API key stops working on every replica within the key cache time', async () => {
    // A dataset only the group "hydro" may read, served from POSIX by both thredds replicas.
    const created = await http(router.url, 'POST', '/api/v1/auth/keys', {
      headers: ADMIN,
      body: { name: 'hydro-reader', roles: ['reader'], groups: ['hydro'] },
    });
    const secret = created.body.key;
    const auth = { authorization: `Bearer ${secret}` };
    for (const r of [...of('catalog'), ...of('threddsProxy')]) {
      const probe = r.component === 'catalog' ? '/api/v1/auth/whoami' : '/thredds/catalog.xml';
      expect([r.url, (await http(r.url, 'GET', probe, { headers: auth })).status]).toEqual([r.url, 200]);
    }
    const revoked = await http(of('catalog')[0]!.url, 'DELETE', `/api/v1/auth/keys/${created.body.id}`, {
      headers: ADMIN,
    });
    expect(revoked.status).toBeLessThan(300);
    const started = Date.now();
    await Promise.all(
      [...of('catalog'), ...of('threddsProxy')].map((r) =>
        until(`key refused by ${r.component} ${r.url}`, KEY_CACHE_MS + 3_000, async () => {
          const probe = r.component === 'catalog' ? '/api/v1/auth/whoami' : '/thredds/catalog.xml';
          const res = await http(r.url, 'GET', probe, { headers: auth });
          return res.status === 401 ? true : undefined;
        }),
      ),
    );
    expect(Date.now() - started).toBeLessThan(KEY_CACHE_MS + 3_000);
  });

  it('making a dataset restricted takes effect on both thredds replicas at once', async () => {
    const files = await http(router.url, 'GET', `/api/v1/datasets/${TAS_ID}/files`);
    const dds = `${files.body.items[0].urls.opendap as string}.dds`.replace(router.url, '');
    for (const t of of('threddsProxy')) expect((await http(t.url, 'GET', dds)).status).toBe(200);
    const dataset = await http(router.url, 'GET', `/api/v1/datasets/${TAS_ID}`, { headers: ADMIN });
    const patched = await http(router.url, 'PATCH', `/api/v1/datasets/${TAS_ID}`, {
      headers: { ...ADMIN, 'if-match': dataset.headers.get('etag') ?? `"${dataset.body.revision}"` },
      body: { access: { public: false, ownerGroup: 'data-managers', accessGroups: [] } },
    });
    expect(patched.status).toBe(200);
    for (const t of of('threddsProxy')) {
      const res = await http(t.url, 'GET', dds);
      expect([t.url, res.status]).toEqual([t.url, 401]);
      expect((await http(t.url, 'GET', dds, { headers: ADMIN })).status).toBe(200);
    }
  });

  it('a changed object invalidates the cached headers on both thredds replicas', async () => {
    const key = tasKey();
    const files = await http(router.url, 'GET', `/api/v1/datasets/${TAS_ID}/files`, { headers: ADMIN });
    const das = `${files.body.items[0].urls.opendap as string}.das`.replace(router.url, '');
    // Warm both caches.
    for (const t of of('threddsProxy')) {
      const res = await http(t.url, 'GET', das, { headers: ADMIN });
      expect(res.text).toContain('climcat demo data');
    }
    const bytes = readFileSync(join(demoDir, key));
    const at = bytes.indexOf('climcat demo data');
    expect(at).toBeGreaterThan(0);
    bytes.write('climcat DEMO data', at);
    await s3.putObject(BUCKET, key, bytes);
    const stat = await s3.statObject(BUCKET, key);
    await http(router.url, 'POST', '/ingest/v1/webhooks/s3', {
      headers: { authorization: TOKEN },
      body: event('s3:ObjectCreated:Put', key, stat.etag, '2'),
    });
    await settleEvents();
    for (const t of of('threddsProxy')) {
      const res = await http(t.url, 'GET', das, { headers: ADMIN });
      expect([t.url, res.text.includes('climcat DEMO data')]).toEqual([t.url, true]);
    }
  });

  it('spreads requests over the replicas of each component', () => {
    for (const r of replicas.filter((x) => x.component === 'catalog'))
      expect([r.url, (router.served.get(r.url) ?? 0) > 0]).toEqual([r.url, true]);
  });
});
