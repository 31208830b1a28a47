/**
 * Scratch usage accounting on the real app and the real filesystem: the live
 * view (inotify) behind /me, reconciliation drift, the watch limit falling
 * back to scans, the daily history on a moved clock (and its pruning), S3
 * prefixes counted by listing, hard links, symlinks and unreadable
 * directories, and bad history requests.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { IngestorModule } from '../../apps/ingestor/src/ingestor.module';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { UsageService } from '../../apps/scratch-quota/src/usage/usage.service';
import { ADMIN, bearer, startApp, type RunningApp } from '../harness/app';
import { call, du, expectProblem, keyFor, type Answer } from './http';
import { s3TestClient, testEnv } from '../harness/env';

jest.setTimeout(120_000);

const DAY = 86_400_000;
const START = Date.parse('2026-06-01T08:00:00Z');
const clock = { t: START, now: () => new Date(clock.t) };

function start(env: Record<string, string> = {}, withIngestor = false): Promise<RunningApp> {
  return startApp({
    features: [CatalogModule, ...(withIngestor ? [IngestorModule] : []), ScratchQuotaModule.withClock(clock)],
    env: { SCRATCH_SOFT_BYTES: '100MB', SCRATCH_HARD_BYTES: '200MB', ...env },
    logs: true,
  });
}

/** Polls /me until its usage equals du of the directory; returns how long that took (ms). */
async function meAgreesWithDu(
  app: RunningApp,
  headers: Record<string, string>,
  dir: string,
  deadlineMs: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const me = await call(app, 'GET', '/scratch/v1/me', headers);
    const expected = du(dir);
    if (me.body.usage?.bytes === expected) return Date.now() - started;
    if (Date.now() - started > deadlineMs)
      throw new Error(`/me says ${me.body.usage?.bytes} bytes after ${deadlineMs} ms, du says ${expected}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live scratch usage', () => {
  let app: RunningApp;
  let usage: UsageService;

  beforeAll(async () => {
    clock.t = START;
    app = await start();
    usage = app.app.get(UsageService);
  });
  afterAll(() => app.close());

  it('shows a change under a user directory in /me within 2 s, without a rescan', async () => {
    const lea = await keyFor(app, 'lea');
    const dir = join(app.config.scratchRoot, 'lea');
    mkdirSync(join(dir, 'run', 'out'), { recursive: true });
    writeFileSync(join(dir, 'run', 'out', 'a.nc'), Buffer.alloc(50_000, 1));
    await meAgreesWithDu(app, lea, dir, 2000);
    const reconciles = app.logs.filter((l) => /drifted/.test(String(l.msg))).length;
    // The next change, deeper and in a new directory.
    mkdirSync(join(dir, 'run', 'new', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'run', 'new', 'deeper', 'b.nc'), Buffer.alloc(300_000, 2));
    writeFileSync(join(dir, 'run', 'out', 'a.nc'), Buffer.alloc(120_000, 1));
    await meAgreesWithDu(app, lea, dir, 2000);
    const me = await call(app, 'GET', '/scratch/v1/me', lea);
    expect(me.body.usage.files).toBe(2);
    expect(me.body.largest[0]).toMatchObject({ path: 'run' });
    expect(me.body.largest.map((l: { path: string }) => l.path)).toContain('run/new/deeper');
    // Deleting shows too.
    rmSync(join(dir, 'run', 'new'), { recursive: true });
    await meAgreesWithDu(app, lea, dir, 2000);
    expect((await call(app, 'GET', '/scratch/v1/me', lea)).body.usage.files).toBe(1);
    // No reconciliation happened meanwhile: the watcher did it.
    expect(app.logs.filter((l) => /drifted/.test(String(l.msg))).length).toBe(reconciles);
    expect((await call(app, 'GET', '/scratch/v1/usage/status', ADMIN)).body).toMatchObject({ live: true });
  });

  it('records the drift a reconciliation finds after changes the watcher missed', async () => {
    const max = await keyFor(app, 'max');
    const dir = join(app.config.scratchRoot, 'max');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    await meAgreesWithDu(app, max, dir, 2000);
    const before = (await call(app, 'GET', '/scratch/v1/me', max)).body.usage;
    // The watcher stops (as over a restart or an inotify queue overflow); a file arrives meanwhile.
    usage.tree.pause();
    writeFileSync(join(dir, 'sub', 'missed.nc'), Buffer.alloc(80_000, 3));
    await new Promise((r) => setTimeout(r, 300));
    usage.tree.resume();
    expect((await call(app, 'GET', '/scratch/v1/me', max)).body.usage).toEqual(before);
    clock.t = START + 3600_000;
    expectProblem(await call(app, 'POST', '/scratch/v1/reconcile', max), 403);
    const report = await call(app, 'POST', '/scratch/v1/reconcile', ADMIN);
    expect(report.status).toBe(200);
    const after = { bytes: du(dir), files: 1 };
    const entry = report.body.drift.find((d: { user: string }) => d.user === 'max');
    expect(entry).toMatchObject({ user: 'max', at: new Date(clock.t).toISOString(), before, after });
    expect(report.body.drift.map((d: { user: string }) => d.user)).toEqual(['max']);
    // Stored (newest first) and logged.
    const listed = await call(app, 'GET', '/scratch/v1/usage/drift?user=max', ADMIN);
    expect(listed.body.items[0]).toEqual(entry);
    expectProblem(await call(app, 'GET', '/scratch/v1/usage/drift', max), 403);
    expectProblem(await call(app, 'GET', '/scratch/v1/usage/drift?limit=0', ADMIN), 400, 'query.limit');
    expect(
      app.logs.some((l) => /max drifted/.test(String(l.msg)) && String(l.msg).includes(String(after.bytes))),
    ).toBe(true);
    // /me has the corrected usage, and the watcher follows changes again.
    expect((await call(app, 'GET', '/scratch/v1/me', max)).body.usage).toEqual(after);
    writeFileSync(join(dir, 'sub', 'seen.nc'), Buffer.alloc(10_000, 3));
    await meAgreesWithDu(app, max, dir, 2000);
  });

  it('counts hard links once, does not follow symlinks, and says what it could not read', async () => {
    const ned = await keyFor(app, 'ned');
    const dir = join(app.config.scratchRoot, 'ned');
    const outside = mkdtempSync(join(tmpdir(), 'climcat-outside-'));
    try {
      writeFileSync(join(outside, 'huge.bin'), Buffer.alloc(4 << 20, 1));
      mkdirSync(join(dir, 'a'), { recursive: true });
      mkdirSync(join(dir, 'b'));
      writeFileSync(join(dir, 'a', 'data.nc'), Buffer.alloc(256 * 1024, 2));
      linkSync(join(dir, 'a', 'data.nc'), join(dir, 'b', 'same data.nc'));
      symlinkSync(outside, join(dir, 'escape'));
      symlinkSync(join(outside, 'huge.bin'), join(dir, 'b', 'huge-link'));
      const res = await call(app, 'POST', '/scratch/v1/rescan', ned, {});
      expect(res.body.usage).toEqual({ bytes: du(dir), files: 3 });
      expect(res.body.usage.bytes).toBeLessThan(1 << 20);
      expect(res.body.unreadable).toEqual([]);
      // The live view agrees after a reconciliation of the whole tree, too.
      await call(app, 'POST', '/scratch/v1/reconcile', ADMIN);
      expect((await call(app, 'GET', '/scratch/v1/me', ned)).body.usage).toEqual(res.body.usage);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reports a permission-denied directory as unreadable, with what it could count', async () => {
    // Root reads everything: the scan then runs in a child process as nobody (setpriv), like a service user would.
    const root = mkdtempSync(join(tmpdir(), 'climcat-denied-'));
    try {
      mkdirSync(join(root, 'ola', 'locked'), { recursive: true });
      mkdirSync(join(root, 'ola', 'open'));
      writeFileSync(join(root, 'ola', 'open', 'ok.nc'), Buffer.alloc(40_000, 1));
      const readable = du(join(root, 'ola'));
      writeFileSync(join(root, 'ola', 'locked', 'secret.nc'), Buffer.alloc(400_000, 1));
      chmodSync(root, 0o755);
      chmodSync(join(root, 'ola'), 0o755);
      chmodSync(join(root, 'ola', 'locked'), 0o000);
      const script = resolve(__dirname, 'usage-scan-as.ts');
      const node = [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        script,
        root,
        'ola',
      ];
      const cmd =
        process.getuid?.() === 0
          ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...node]
          : [process.execPath, ...node];
      const out = JSON.parse(
        execFileSync(cmd[0]!, cmd.slice(1), {
          cwd: resolve(__dirname, '../..'),
          env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json' },
        }).toString(),
      ) as { usage: { bytes: number; files: number }; problems: { path: string; reason: string }[] };
      expect(out.problems).toEqual([{ path: 'ola/locked', reason: 'permission denied' }]);
      expect(out.usage).toEqual({ bytes: readable, files: 1 });
    } finally {
      chmodSync(join(root, 'ola', 'locked'), 0o755);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('scratch usage history', () => {
  let app: RunningApp;
  let rae: Record<string, string> | undefined;

  beforeAll(async () => {
    clock.t = START;
    app = await start();
  });
  afterAll(() => app.close());

  it('keeps one point per user and group per day (the last), across moved clock days, and prunes after a year', async () => {
    const pia = await keyFor(app, 'pia', ['eucp']);
    const quin = await keyFor(app, 'quin', ['eucp', 'wp3']);
    const dir = join(app.config.scratchRoot, 'pia');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'day1.nc'), Buffer.alloc(100_000, 1));
    const day1 = await call(app, 'POST', '/scratch/v1/rescan', pia, {});
    const q1 = (await call(app, 'GET', '/scratch/v1/me', quin)).body.usage;
    // Later the same day: the day's point becomes the last value.
    clock.t = START + 6 * 3600_000;
    writeFileSync(join(dir, 'day1-late.nc'), Buffer.alloc(50_000, 1));
    await meAgreesWithDu(app, pia, dir, 2000);
    const day1Last = { bytes: du(dir), files: 2 };
    expect(day1Last.bytes).toBeGreaterThan(day1.body.usage.bytes);
    // The next day.
    clock.t = START + DAY;
    writeFileSync(join(dir, 'day2.nc'), Buffer.alloc(200_000, 1));
    const day2 = (await call(app, 'POST', '/scratch/v1/rescan', pia, {})).body.usage;
    // Two days later, nothing written in between: no point for the day in between.
    clock.t = START + 3 * DAY;
    rmSync(join(dir, 'day1.nc'));
    await meAgreesWithDu(app, pia, dir, 2000);
    const day4 = (await call(app, 'GET', '/scratch/v1/me', pia)).body.usage;

    const history = await call(app, 'GET', '/scratch/v1/me/history?from=2026-05-01&to=2026-06-30', pia);
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ kind: 'user', name: 'pia', from: '2026-05-01', to: '2026-06-30' });
    expect(history.body.points).toEqual([
      { day: '2026-06-01', ...day1Last },
      { day: '2026-06-02', ...day2 },
      { day: '2026-06-04', ...day4 },
    ]);
    // The default range ends today.
    expect((await call(app, 'GET', '/scratch/v1/me/history', pia)).body.points).toHaveLength(3);
    expect(
      (await call(app, 'GET', '/scratch/v1/me/history?from=2026-06-02&to=2026-06-02', pia)).body.points,
    ).toEqual([{ day: '2026-06-02', ...day2 }]);
    // A group's day is the sum over the members' points of that day.
    const eucp = await call(
      app,
      'GET',
      '/scratch/v1/history/groups/eucp?from=2026-06-01&to=2026-06-01',
      ADMIN,
    );
    expect(eucp.body.points).toEqual([
      { day: '2026-06-01', bytes: day1Last.bytes + q1.bytes, files: day1Last.files + q1.files },
    ]);
    const wp3 = await call(app, 'GET', '/scratch/v1/history/groups/wp3', ADMIN);
    expect(wp3.body.points).toEqual([{ day: '2026-06-01', ...q1 }]);
    expect((await call(app, 'GET', '/scratch/v1/history/users/pia', ADMIN)).body.points).toHaveLength(3);
    // The plain service method another module reads for trends.
    expect(await app.app.get(UsageService).history('user', 'pia', '2026-06-02', '2026-06-04')).toEqual([
      { day: '2026-06-02', ...day2 },
      { day: '2026-06-04', ...day4 },
    ]);

    // A year after the first days, they are pruned (SCRATCH_HISTORY_KEEP, default 365 days).
    clock.t = START + 366 * DAY;
    await call(app, 'POST', '/scratch/v1/reconcile', ADMIN);
    const kept = await call(app, 'GET', '/scratch/v1/history/users/pia?from=2026-01-01&to=2027-12-31', ADMIN);
    expect(kept.body.points.map((p: { day: string }) => p.day)).toEqual([
      '2026-06-02',
      '2026-06-04',
      '2027-06-02',
    ]);
    const group = await call(
      app,
      'GET',
      '/scratch/v1/history/groups/eucp?from=2026-01-01&to=2027-12-31',
      ADMIN,
    );
    expect(group.body.points.map((p: { day: string }) => p.day)).toEqual([
      '2026-06-02',
      '2026-06-04',
      '2027-06-02',
    ]);
  });

  it.each([
    ['from=2026-13-01', 'query.from'],
    ['from=2026-02-30', 'query.from'],
    ['to=yesterday', 'query.to'],
    ['from=2026-06-10&to=2026-06-01', 'query.from'],
    ['from=2026-06-01&from=2026-06-02', 'query.from'],
  ])('refuses the history query %s naming %s', async (query, field) => {
    rae ??= await keyFor(app, 'rae');
    expectProblem(await call(app, 'GET', `/scratch/v1/me/history?${query}`, rae), 400, field);
  });

  it('keeps other users and groups to admins, and names bad subjects', async () => {
    const sam = await keyFor(app, 'sam', ['eucp']);
    expectProblem(await call(app, 'GET', '/scratch/v1/history/users/pia', sam), 403);
    expectProblem(await call(app, 'GET', '/scratch/v1/history/groups/eucp', sam), 403);
    expectProblem(await call(app, 'GET', '/scratch/v1/me/history', {}), 401);
    expectProblem(await call(app, 'GET', '/scratch/v1/history/users/.hidden', ADMIN), 400, 'path.name');
    expectProblem(await call(app, 'GET', '/scratch/v1/history/others/pia', ADMIN), 400);
    // A subject with no points has an empty history, not an error.
    expect((await call(app, 'GET', '/scratch/v1/history/users/nobody-yet', ADMIN)).body.points).toEqual([]);
  });
});

describe('scratch usage past the watch limit', () => {
  let app: RunningApp;

  beforeAll(async () => {
    clock.t = START;
    app = await start({ SCRATCH_MAX_WATCHES: '3' });
  });
  afterAll(() => app.close());

  it('falls back to scans with a logged warning, and /me stays exact', async () => {
    const tom = await keyFor(app, 'tom');
    const dir = join(app.config.scratchRoot, 'tom');
    for (const d of ['a', 'b', 'c', 'd']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'a', 'x.nc'), Buffer.alloc(10_000, 1));
    expect((await call(app, 'POST', '/scratch/v1/rescan', tom, {})).body.usage).toEqual({
      bytes: du(dir),
      files: 1,
    });
    const status = await call(app, 'GET', '/scratch/v1/usage/status', ADMIN);
    expect(status.body).toMatchObject({ live: false, watchedDirectories: 0 });
    expect(status.body.degraded).toContain('SCRATCH_MAX_WATCHES=3');
    expect(app.logs.some((l) => /stopped watching/.test(String(l.msg)) && l.level === 40)).toBe(true);
    // Each /me measures the caller's directory.
    writeFileSync(join(dir, 'd', 'y.nc'), Buffer.alloc(70_000, 1));
    expect((await call(app, 'GET', '/scratch/v1/me', tom)).body.usage).toEqual({ bytes: du(dir), files: 2 });
  });
});

describe('scratch usage of S3 prefixes', () => {
  const BUCKET = `scratch-usage-${Date.now().toString(36)}`;
  const WEBHOOK_TOKEN = 'scratch-usage-webhook-token-0123';

  /** A MinIO notification, as MinIO posts it (keys URL-encoded). */
  function notify(eventName: string, key: string): Promise<Answer> {
    return call(app, 'POST', '/ingest/v1/webhooks/s3', bearer(WEBHOOK_TOKEN), {
      Records: [
        {
          eventName,
          s3: {
            bucket: { name: BUCKET },
            object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size: 0 },
          },
        },
      ],
    });
  }

  async function meUntil(headers: Record<string, string>, bytes: number): Promise<Answer> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const me = await call(app, 'GET', '/scratch/v1/me', headers);
      if (me.body.usage?.bytes === bytes || Date.now() > deadline) return me;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let app: RunningApp;

  beforeAll(async () => {
    clock.t = START;
    await s3TestClient().makeBucket(BUCKET);
    app = await start(
      {
        S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
        S3_ACCESS_KEY: 'S3RVER',
        S3_SECRET_KEY: 'S3RVER',
        S3_BUCKET: BUCKET,
        INGEST_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      },
      true,
    );
  });
  afterAll(() => app.close());

  it('adds the objects under scratch/<user>/ (listed) to the POSIX usage, and no one else’s', async () => {
    const s3 = s3TestClient();
    await s3.putObject(BUCKET, 'scratch/uma/run 1/out.nc', Buffer.alloc(12_345, 1));
    await s3.putObject(BUCKET, 'scratch/uma/deep/a/b.nc', Buffer.alloc(1000, 1));
    await s3.putObject(BUCKET, 'scratch/umax/not-hers.nc', Buffer.alloc(99_999, 1));
    await s3.putObject(BUCKET, 'scratch/uma.nc', Buffer.alloc(77, 1));
    const uma = await keyFor(app, 'uma');
    const me = await call(app, 'GET', '/scratch/v1/me', uma);
    const posix = du(join(app.config.scratchRoot, 'uma'));
    expect(me.body.usage).toEqual({ bytes: posix + 13_345, files: 2 });
    expect(me.body.largest[0]).toEqual({ path: `s3://${BUCKET}/scratch/uma/`, bytes: 13_345 });
    // Objects written behind the service's back count at the next listing (a rescan, or reconciliation).
    await s3.putObject(BUCKET, 'scratch/uma/later.nc', Buffer.alloc(5000, 1));
    await s3.removeObject(BUCKET, 'scratch/uma/deep/a/b.nc');
    expect((await call(app, 'POST', '/scratch/v1/rescan', uma, {})).body.usage).toEqual({
      bytes: posix + 17_345,
      files: 2,
    });
    await s3.putObject(BUCKET, 'scratch/uma/nightly.nc', Buffer.alloc(655, 1));
    await call(app, 'POST', '/scratch/v1/reconcile', ADMIN);
    expect((await call(app, 'GET', '/scratch/v1/me', uma)).body.usage).toEqual({
      bytes: posix + 18_000,
      files: 3,
    });
  });

  it('follows bucket events posted to the ingestor webhook between listings', async () => {
    const s3 = s3TestClient();
    const vic = await keyFor(app, 'vic');
    await s3.putObject(BUCKET, 'scratch/vic/first.nc', Buffer.alloc(1000, 1));
    const first = (await call(app, 'GET', '/scratch/v1/me', vic)).body.usage;
    const posix = du(join(app.config.scratchRoot, 'vic'));
    expect(first).toEqual({ bytes: posix + 1000, files: 1 });
    await s3.putObject(BUCKET, 'scratch/vic/run 2/evented.nc', Buffer.alloc(2500, 1));
    expect((await notify('s3:ObjectCreated:Put', 'scratch/vic/run 2/evented.nc')).status).toBe(202);
    expect((await meUntil(vic, posix + 3500)).body.usage).toEqual({ bytes: posix + 3500, files: 2 });
    // A duplicate delivery changes nothing; a removal takes the object out.
    await notify('s3:ObjectCreated:Put', 'scratch/vic/run 2/evented.nc');
    await s3.removeObject(BUCKET, 'scratch/vic/first.nc');
    await notify('s3:ObjectRemoved:Delete', 'scratch/vic/first.nc');
    expect((await meUntil(vic, posix + 2500)).body.usage).toEqual({ bytes: posix + 2500, files: 1 });
    // An object of another user whose name starts the same is not hers.
    await s3.putObject(BUCKET, 'scratch/vicky/x.nc', Buffer.alloc(4000, 1));
    await notify('s3:ObjectCreated:Put', 'scratch/vicky/x.nc');
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(app, 'GET', '/scratch/v1/me', vic)).body.usage).toEqual({
      bytes: posix + 2500,
      files: 1,
    });
  });
});
