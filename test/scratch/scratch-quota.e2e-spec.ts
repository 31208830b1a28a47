/**
 * /scratch/v1 over HTTP on the real app: identity, /me, admin quotas with
 * audit, rescans, Lustre grace on a moved clock, atomic upload grants (50 at
 * once, two processes on one store; sqlite and mongo), streamed writes that
 * stop at the limit, S3 POST policies and the completion check, bad input.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { call, du, expectProblem, keyFor, type Answer } from './http';
import { s3TestClient, testEnv } from '../harness/env';

jest.setTimeout(120_000);

const START = Date.parse('2026-06-01T00:00:00Z');
const clock = { t: START, now: () => new Date(clock.t) };
const HOUR = 3600_000;

function start(env: Record<string, string> = {}, stateDir?: string): Promise<RunningApp> {
  return startApp({
    features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
    env: { SCRATCH_SOFT_BYTES: '1000000', SCRATCH_HARD_BYTES: '2000000', SCRATCH_GRACE: '1h', ...env },
    ...(stateDir ? { stateDir } : {}),
  });
}

/**
 * Lets the kernel's inotify events for files written by hand (as a notebook
 * would) reach the service's watcher; the service itself then applies them
 * before it answers.
 */
function inotifyDelivered(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 300));
}

function putFile(
  app: RunningApp,
  path: string,
  headers: Record<string, string>,
  data: Buffer,
): Promise<Answer> {
  return fetch(`${app.url}/scratch/v1/files/${path}`, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: data,
  }).then(async (res) => {
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      headers: res.headers,
      text,
      body: text ? (JSON.parse(text) as Record<string, any>) : {},
    };
  });
}

describe('scratch quotas on sqlite', () => {
  let app: RunningApp;
  let alice: Record<string, string>;
  let bob: Record<string, string>;

  beforeAll(async () => {
    app = await start();
    alice = await keyFor(app, 'alice', ['eucp']);
    bob = await keyFor(app, 'bob');
  });
  afterAll(() => app.close());
  beforeEach(() => {
    clock.t = START;
  });

  it('answers /me with the caller user, directory, usage, default limits and an empty purge plan', async () => {
    const me = await call(app, 'GET', '/scratch/v1/me', alice);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: 'alice',
      directory: join(app.config.scratchRoot, 'alice'),
      // du counts the directory's own blocks.
      usage: { files: 0 },
      limits: { softBytes: 1000000, hardBytes: 2000000, graceSeconds: 3600 },
      limitsFrom: 'default',
      state: 'ok',
      purge: { files: 0, bytes: 0, next: null },
      largest: [],
    });
    expect(me.body.graceUntil).toBeUndefined();
    expectProblem(await call(app, 'GET', '/scratch/v1/me', {}), 401);
  });

  it('shows the fair-use purge plan: idle files with their due dates, in /me and in full', async () => {
    const dora = await keyFor(app, 'dora');
    const dir = join(app.config.scratchRoot, 'dora');
    mkdirSync(join(dir, 'run 1'), { recursive: true });
    const day = 24 * HOUR;
    const files: [string, number, number][] = [
      ['run 1/old.nc', 3000, 100],
      ['run 1/older.nc', 5000, 200],
      ['recent.nc', 7000, 1],
    ];
    for (const [rel, size, idleDays] of files) {
      writeFileSync(join(dir, rel), Buffer.alloc(size));
      const at = new Date(START - idleDays * day);
      utimesSync(join(dir, rel), at, at);
    }
    const plan = await call(app, 'GET', '/scratch/v1/me/purge-plan', dora);
    expect(plan.status).toBe(200);
    const due = new Date(START + 7 * day).toISOString();
    expect(plan.body).toMatchObject({
      user: 'dora',
      policy: { maxIdleDays: 56, noticeDays: 7, noatime: false },
      total: 2,
      bytes: 8000,
      next: due,
    });
    expect(plan.body.files.map((f: { path: string }) => f.path)).toEqual(['run 1/old.nc', 'run 1/older.nc']);
    expect(plan.body.files[1]).toMatchObject({
      bytes: 5000,
      due,
      mtime: new Date(START - 200 * day).toISOString(),
    });
    const me = await call(app, 'POST', '/scratch/v1/rescan', dora, {});
    expect(me.body.purge).toEqual({ files: 2, bytes: 8000, next: due });
    expect(existsSync(join(dir, 'run 1/older.nc'))).toBe(true);
    expectProblem(await call(app, 'GET', '/scratch/v1/me/purge-plan', {}), 401);
  });

  it('lets admins set user and group quotas, records who/when/from/to/why, and refuses others', async () => {
    const body = { softBytes: 5000, hardBytes: 9000, reason: 'project run' };
    expectProblem(await call(app, 'PUT', '/scratch/v1/quotas/users/carol', alice, body), 403);
    expectProblem(await call(app, 'GET', '/scratch/v1/quotas/users/carol', ADMIN), 404);
    expect((await call(app, 'PUT', '/scratch/v1/quotas/users/carol', ADMIN, body)).status).toBe(200);
    // History is newest first: the change happens a minute later.
    clock.t = START + 60_000;
    const changed = await call(app, 'PUT', '/scratch/v1/quotas/users/carol', ADMIN, {
      ...body,
      hardBytes: 12000,
      reason: 'more room',
    });
    expect(changed.body).toMatchObject({
      kind: 'user',
      name: 'carol',
      hardBytes: 12000,
      reason: 'more room',
      updatedBy: 'admin',
    });
    expect((await call(app, 'GET', '/scratch/v1/quotas/users/carol', ADMIN)).body.hardBytes).toBe(12000);
    const history = await call(app, 'GET', '/scratch/v1/quotas/users/carol/history', ADMIN);
    expect(history.body.total).toBe(2);
    expect(history.body.items[0]).toMatchObject({
      action: 'update',
      actor: 'admin-bootstrap',
      note: 'more room',
      changes: [{ path: '/hardBytes', from: 9000, to: 12000 }],
    });
    expect(history.body.items[0].at).toBe(new Date(START + 60_000).toISOString());
    // A group quota applies to members without their own.
    await call(app, 'PUT', '/scratch/v1/quotas/groups/eucp', ADMIN, {
      softBytes: 7000,
      hardBytes: 8000,
      reason: 'eucp share',
    });
    const me = await call(app, 'GET', '/scratch/v1/me', alice);
    expect(me.body).toMatchObject({ limitsFrom: 'group eucp', limits: { softBytes: 7000, hardBytes: 8000 } });
    await call(app, 'PUT', '/scratch/v1/quotas/users/alice', ADMIN, {
      softBytes: 1000000,
      hardBytes: 2000000,
      reason: 'reset',
    });
  });

  it.each([
    [{ softBytes: 10, hardBytes: 5, reason: 'x' }, 'softBytes'],
    [{ softBytes: -1, hardBytes: 5, reason: 'x' }, 'softBytes'],
    [{ softBytes: 1, hardBytes: 1e300, reason: 'x' }, 'hardBytes'],
    [{ softBytes: 1, hardBytes: 5 }, 'reason'],
    [{ softBytes: 1, hardBytes: 5, graceSeconds: 1.5, reason: 'x' }, 'graceSeconds'],
  ])('refuses the quota %j naming %s', async (body, field) => {
    expectProblem(await call(app, 'PUT', '/scratch/v1/quotas/users/carol', ADMIN, body), 400, field);
  });

  it('refuses bad subject kinds and names', async () => {
    const body = { softBytes: 1, hardBytes: 5, reason: 'x' };
    expectProblem(await call(app, 'PUT', '/scratch/v1/quotas/others/carol', ADMIN, body), 400);
    expectProblem(await call(app, 'PUT', '/scratch/v1/quotas/users/.hidden', ADMIN, body), 400, 'name');
  });

  it('rescans on request: usage, file count and largest directories as du counts them', async () => {
    const dir = join(app.config.scratchRoot, 'bob');
    mkdirSync(join(dir, 'runs/big'), { recursive: true });
    writeFileSync(join(dir, 'runs/big/a.nc'), Buffer.alloc(64 * 1024, 1));
    writeFileSync(join(dir, 'small.txt'), 'hello');
    const res = await call(app, 'POST', '/scratch/v1/rescan', bob, {});
    expect(res.status).toBe(200);
    expect(res.body.usage.files).toBe(2);
    expect(res.body.usage.bytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(res.body.largest[0]).toMatchObject({ path: 'runs' });
    expect(res.body.scannedAt).toBe(new Date(START).toISOString());
    // Admins rescan anyone; users only themselves.
    expect((await call(app, 'POST', '/scratch/v1/rescan', ADMIN, { user: 'bob' })).body.usage.files).toBe(2);
    expectProblem(await call(app, 'POST', '/scratch/v1/rescan', alice, { user: 'bob' }), 403);
    rmSync(dir, { recursive: true, force: true });
    expect((await call(app, 'POST', '/scratch/v1/rescan', bob, {})).body.usage.files).toBe(0);
  });

  it('follows Lustre grace: soft-exceeded until the deadline, then the soft limit acts as hard', async () => {
    const dave = await keyFor(app, 'dave');
    await call(app, 'PUT', '/scratch/v1/quotas/users/dave', ADMIN, {
      softBytes: 10_000,
      hardBytes: 1_000_000,
      graceSeconds: 3600,
      reason: 'grace test',
    });
    const dir = join(app.config.scratchRoot, 'dave');
    mkdirSync(join(dir, 'out'), { recursive: true });
    writeFileSync(join(dir, 'out/big.bin'), Buffer.alloc(50_000, 2));
    const over = await call(app, 'POST', '/scratch/v1/rescan', dave, {});
    expect(over.body.state).toBe('soft-exceeded');
    expect(over.body.graceUntil).toBe(new Date(START + HOUR).toISOString());
    expect(over.body.advice).toContain(over.body.graceUntil);
    // During grace a write still fits under the hard limit.
    expect((await call(app, 'POST', '/scratch/v1/uploads', dave, { path: 'g1.nc', size: 100 })).status).toBe(
      201,
    );
    // The deadline stays where it started, however often /me is asked.
    clock.t = START + 30 * 60_000;
    expect((await call(app, 'GET', '/scratch/v1/me', dave)).body.graceUntil).toBe(
      new Date(START + HOUR).toISOString(),
    );
    clock.t = START + 2 * HOUR;
    const expired = await call(app, 'GET', '/scratch/v1/me', dave);
    expect(expired.body.state).toBe('grace-expired');
    expect(expired.body.advice).toMatch(/out \(\d+ bytes\)/);
    const refused = await call(app, 'POST', '/scratch/v1/uploads', dave, { path: 'g2.nc', size: 100 });
    expectProblem(refused, 507, 'grace');
    expect(refused.body.detail).toContain('GET /scratch/v1/me');
    rmSync(join(dir, 'out'), { recursive: true });
    expect((await call(app, 'POST', '/scratch/v1/rescan', dave, {})).body.state).toBe('ok');
  });

  it('grants 50 concurrent uploads only up to the hard limit, and frees expired reservations', async () => {
    const erin = await keyFor(app, 'erin');
    await call(app, 'PUT', '/scratch/v1/quotas/users/erin', ADMIN, {
      softBytes: 100_000,
      hardBytes: 100_000,
      reason: 'race',
    });
    // du counts the (empty) directory's own blocks too.
    const used = (await call(app, 'POST', '/scratch/v1/rescan', erin, {})).body.usage.bytes as number;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(app, 'POST', '/scratch/v1/uploads', erin, { path: `f${i}.nc`, size: 6000 }),
      ),
    );
    const granted = answers.filter((a) => a.status === 201);
    expect(used + granted.length * 6000).toBeLessThanOrEqual(100_000);
    expect(granted).toHaveLength(Math.floor((100_000 - used) / 6000));
    for (const a of answers.filter((x) => x.status !== 201)) expectProblem(a, 507, 'body.size');
    expect(granted[0]!.body).toMatchObject({ target: 'posix', size: 6000, upload: { method: 'PUT' } });
    expect((await call(app, 'GET', '/scratch/v1/me', erin)).body.reserved).toEqual({
      bytes: granted.length * 6000,
      files: granted.length,
    });
    // Reservations expire (SCRATCH_RESERVATION_TTL, default 1h): the room comes back.
    clock.t = START + HOUR + 1000;
    expect(
      (await call(app, 'POST', '/scratch/v1/uploads', erin, { path: 'late.nc', size: 90_000 })).status,
    ).toBe(201);
  });

  it('decides grants on the live usage: notebook writes and deletions count before any rescan', async () => {
    const gia = await keyFor(app, 'gia');
    await call(app, 'PUT', '/scratch/v1/quotas/users/gia', ADMIN, {
      softBytes: 100_000,
      hardBytes: 100_000,
      reason: 'live grants',
    });
    const dir = join(app.config.scratchRoot, 'gia');
    const base = (await call(app, 'POST', '/scratch/v1/rescan', gia, {})).body.usage.bytes as number;
    // A notebook writes 80 kB: the stored usage (last rescan) does not know it, the live view does.
    writeFileSync(join(dir, 'nb.bin'), Buffer.alloc(80_000, 1));
    await inotifyDelivered();
    expectProblem(
      await call(app, 'POST', '/scratch/v1/uploads', gia, { path: 'a.nc', size: 30_000 }),
      507,
      'body.size',
    );
    // /me stores the 80 kB; the notebook then deletes the file: the room is back without a rescan.
    expect((await call(app, 'GET', '/scratch/v1/me', gia)).body.usage.bytes).toBeGreaterThan(base + 80_000);
    rmSync(join(dir, 'nb.bin'));
    await inotifyDelivered();
    expect((await call(app, 'POST', '/scratch/v1/uploads', gia, { path: 'b.nc', size: 30_000 })).status).toBe(
      201,
    );
    // Concurrent grants on the live usage still never add up past the limit.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(app, 'POST', '/scratch/v1/uploads', gia, { path: `c${i}.nc`, size: 6000 }),
      ),
    );
    const granted = answers.filter((a) => a.status === 201).length;
    expect(granted).toBe(Math.floor((100_000 - base - 30_000) / 6000));
  });

  it.each([
    [{ path: '../bob/x.nc', size: 1 }, 'body.path'],
    [{ path: '/etc/passwd', size: 1 }, 'body.path'],
    [{ path: '%2e%2e/bob/x', size: 1 }, 'body.path'],
    [{ path: 'a\\..\\b', size: 1 }, 'body.path'],
    [{ path: 'x.nc', size: -1 }, 'body.size'],
    [{ path: 'x.nc', size: 1e300 }, 'body.size'],
    [{ path: 'x.nc', size: 1.5 }, 'body.size'],
    [{ path: 'x.nc', size: 'big' }, 'size'],
  ])('refuses the grant %j naming %s', async (body, field) => {
    expectProblem(await call(app, 'POST', '/scratch/v1/uploads', alice, body), 400, field);
  });

  it('streams PUT files into the caller directory, counts them, and refuses what does not fit up front', async () => {
    const fay = await keyFor(app, 'fay');
    await call(app, 'PUT', '/scratch/v1/quotas/users/fay', ADMIN, {
      softBytes: 20_000,
      hardBytes: 20_000,
      reason: 'put',
    });
    const used = (await call(app, 'POST', '/scratch/v1/rescan', fay, {})).body.usage.bytes as number;
    const ok = await putFile(app, 'runs/a.bin', fay, Buffer.alloc(600, 3));
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ path: 'runs/a.bin', bytes: 600 });
    const dir = join(app.config.scratchRoot, 'fay');
    expect(readFileSync(join(dir, 'runs/a.bin'))).toHaveLength(600);
    // /me is the live view, du-exact (allocated blocks, the new directory's own included).
    expect((await call(app, 'GET', '/scratch/v1/me', fay)).body.usage).toEqual({
      bytes: du(dir),
      files: 1,
    });
    expect(du(dir)).toBeGreaterThanOrEqual(used + 600);
    const tooBig = await putFile(app, 'runs/b.bin', fay, Buffer.alloc(20_000 - used - 600 + 1, 3));
    expectProblem(tooBig, 507);
    expect(existsSync(join(dir, 'runs/b.bin'))).toBe(false);
    expect(readdirSync(join(dir, 'runs'))).toEqual(['a.bin']);
    // Replacing a file counts what it holds now, not both versions.
    expect((await putFile(app, 'runs/a.bin', fay, Buffer.alloc(900, 4))).status).toBe(201);
    expect((await call(app, 'GET', '/scratch/v1/me', fay)).body.usage).toEqual({
      bytes: du(dir),
      files: 1,
    });
  });

  it('keeps no partial file and no reservation when an upload is aborted', async () => {
    const gus = await keyFor(app, 'gus');
    await call(app, 'PUT', '/scratch/v1/quotas/users/gus', ADMIN, {
      softBytes: 1000,
      hardBytes: 1000,
      reason: 'abort',
    });
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${app.url}/scratch/v1/files/half.bin`, {
        method: 'PUT',
        headers: { ...gus, 'Content-Type': 'application/octet-stream', 'Content-Length': '800' },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(300, 1), () =>
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200),
      );
    });
    const dir = join(app.config.scratchRoot, 'gus');
    for (let i = 0; i < 50 && readdirSync(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).toEqual([]);
    // The 800 bytes held for it are free again.
    let me = await call(app, 'GET', '/scratch/v1/me', gus);
    for (let i = 0; i < 50 && me.body.reserved.bytes > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      me = await call(app, 'GET', '/scratch/v1/me', gus);
    }
    expect(me.body.reserved).toEqual({ bytes: 0, files: 0 });
  });

  it('never writes through symlinks or outside the caller directory', async () => {
    const hal = await keyFor(app, 'hal');
    const outside = tempDir('climcat-outside-');
    writeFileSync(join(outside, 'victim'), 'keep');
    const dir = join(app.config.scratchRoot, 'hal');
    mkdirSync(dir, { recursive: true });
    symlinkSync(outside, join(dir, 'linkdir'));
    symlinkSync(join(outside, 'victim'), join(dir, 'linkfile'));
    expectProblem(await putFile(app, 'linkdir/x.bin', hal, Buffer.from('x')), 409);
    expectProblem(await putFile(app, 'linkfile', hal, Buffer.from('x')), 409);
    expectProblem(await putFile(app, '..%2Fbob%2Fx', hal, Buffer.from('x')), 400, 'path');
    expectProblem(await putFile(app, '%252e%252e/x', hal, Buffer.from('x')), 400, 'path');
    expect(readdirSync(outside)).toEqual(['victim']);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('keep');
    rmSync(outside, { recursive: true, force: true });
  });

  it('records exemptions, which need an expiry in the future', async () => {
    // Later than the quota changes other tests make at START: the history's newest entry is this one.
    clock.t = START + 120_000;
    const made = await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
      kind: 'user',
      name: 'alice',
      reason: 'thesis',
      expiresAt: '2026-07-01T00:00:00Z',
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      kind: 'user',
      name: 'alice',
      scope: 'purge',
      expiresAt: '2026-07-01T00:00:00.000Z',
    });
    expectProblem(
      await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, { kind: 'user', name: 'alice', reason: 'x' }),
      400,
      'expiresAt',
    );
    expectProblem(
      await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
        kind: 'user',
        name: 'alice',
        reason: 'x',
        expiresAt: '2020-01-01T00:00:00Z',
      }),
      400,
      'expiresAt',
    );
    expectProblem(
      await call(app, 'POST', '/scratch/v1/exemptions', alice, {
        kind: 'user',
        name: 'alice',
        reason: 'x',
        expiresAt: '2026-07-01T00:00:00Z',
      }),
      403,
    );
    const history = await call(app, 'GET', '/scratch/v1/quotas/users/alice/history', ADMIN);
    expect(history.body.items[0]).toMatchObject({ note: 'thesis' });
  });
});

/** Two service processes sharing one store: grants from both never add up past the limit. */
async function raceAcrossTwoApps(a: RunningApp, b: RunningApp): Promise<void> {
  const key = await keyFor(a, 'ivy');
  const put = { softBytes: 100_000, hardBytes: 100_000, reason: 'two' };
  expect((await call(a, 'PUT', '/scratch/v1/quotas/users/ivy', ADMIN, put)).status).toBe(200);
  const used = (await call(a, 'POST', '/scratch/v1/rescan', key, {})).body.usage.bytes as number;
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      call(i % 2 ? b : a, 'POST', '/scratch/v1/uploads', key, { path: `p${i}`, size: 6000 }),
    ),
  );
  const statuses = answers.map((x) => x.status);
  expect(statuses.filter((s) => s !== 201 && s !== 507)).toEqual([]);
  const granted = statuses.filter((s) => s === 201).length;
  expect(used + granted * 6000).toBeLessThanOrEqual(100_000);
  expect(granted).toBe(Math.floor((100_000 - used) / 6000));
  expect((await call(b, 'GET', '/scratch/v1/me', key)).body.reserved).toEqual({
    bytes: granted * 6000,
    files: granted,
  });
}

describe('upload grants across two app instances', () => {
  beforeEach(() => {
    clock.t = START;
  });

  it('on one STATE_DIR (sqlite)', async () => {
    const stateDir = tempDir();
    const a = await start({}, stateDir);
    const b = await start({}, stateDir);
    try {
      await raceAcrossTwoApps(a, b);
    } finally {
      await b.close({ keepState: true });
      await a.close();
    }
  });

  it('on one MongoDB database', async () => {
    const env = {
      MONGODB_URI: testEnv('TEST_MONGODB_URI'),
      MONGODB_DB: `scratch_${process.pid}_${Date.now()}`,
    };
    const a = await start(env);
    const b = await start(env);
    try {
      await raceAcrossTwoApps(a, b);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('upload grants to S3', () => {
  const BUCKET = `scratch-grants-${Date.now().toString(36)}`;
  let app: RunningApp;
  let jo: Record<string, string>;
  /** The empty POSIX directory's own blocks. */
  let base: number;

  beforeAll(async () => {
    await s3TestClient().makeBucket(BUCKET);
    app = await start({
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_BUCKET: BUCKET,
    });
    jo = await keyFor(app, 'jo');
    await call(app, 'PUT', '/scratch/v1/quotas/users/jo', ADMIN, {
      softBytes: 100_000,
      hardBytes: 100_000,
      reason: 's3',
    });
    base = (await call(app, 'POST', '/scratch/v1/rescan', jo, {})).body.usage.bytes as number;
  });
  afterAll(() => app.close());

  it('signs a POST policy limited to the granted size under scratch/<user>/', async () => {
    const grant = await call(app, 'POST', '/scratch/v1/uploads', jo, { path: 'run/out.nc', size: 4000 });
    expect(grant.status).toBe(201);
    expect(grant.body.target).toBe('s3');
    const fields = grant.body.post.fields as Record<string, string>;
    expect(fields.key).toBe('scratch/jo/run/out.nc');
    const policy = JSON.parse(Buffer.from(fields.policy!, 'base64').toString('utf8')) as {
      conditions: unknown[];
    };
    expect(policy.conditions).toContainEqual(['content-length-range', 0, 4000]);
    expect(policy.conditions).toContainEqual(['eq', '$key', 'scratch/jo/run/out.nc']);
  });

  it('checks the real object size on completion: fitting objects count, over-grant objects are deleted', async () => {
    const s3 = s3TestClient();
    const fits = await call(app, 'POST', '/scratch/v1/uploads', jo, { path: 'fits.bin', size: 1000 });
    expectProblem(await call(app, 'POST', `/scratch/v1/uploads/${fits.body.id}/complete`, jo), 409);
    expect((await fetch(fits.body.put.url, { method: 'PUT', body: Buffer.alloc(800, 1) })).status).toBe(200);
    const done = await call(app, 'POST', `/scratch/v1/uploads/${fits.body.id}/complete`, jo);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ path: 'fits.bin', bytes: 800 });

    const cheat = await call(app, 'POST', '/scratch/v1/uploads', jo, { path: 'cheat.bin', size: 100 });
    // s3rver ignores the policy and the PUT carries no size limit: the completion check catches it.
    expect((await fetch(cheat.body.put.url, { method: 'PUT', body: Buffer.alloc(5000, 1) })).status).toBe(
      200,
    );
    const refused = await call(app, 'POST', `/scratch/v1/uploads/${cheat.body.id}/complete`, jo);
    expectProblem(refused, 413, 'deleted');
    await expect(s3.statObject(BUCKET, 'scratch/jo/cheat.bin')).rejects.toThrow();
    const me = await call(app, 'GET', '/scratch/v1/me', jo);
    expect(me.body.usage).toEqual({ bytes: base + 800, files: 1 });
    expect(me.body.reserved).toMatchObject({ bytes: 4000 });
    // A rescan counts the S3 prefix.
    expect((await call(app, 'POST', '/scratch/v1/rescan', jo, {})).body.usage).toEqual({
      bytes: base + 800,
      files: 1,
    });
  });
});
