/**
 * Fair-use purge runs on the real app (sqlite and mongo stores): the stored
 * plan keeps the notice period across runs on a moved clock, notices reach a
 * real webhook (once per file and event, retried after failures), dry runs
 * change nothing, exempt patterns are kept, a file written during a run is
 * kept, symlinks and odd names are handled, unreadable directories are
 * reported, records and the marker file are written, one run at a time.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { STORE, type Store } from '@climcat/core';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { call, expectProblem, keyFor } from './http';
import { s3TestClient, testEnv } from '../harness/env';

jest.setTimeout(120_000);

const DAY = 24 * 3600_000;
const START = Date.parse('2026-06-01T00:00:00Z');
const clock = { t: START, now: () => new Date(clock.t) };
const MARKER = 'CLIMCAT-PURGED.txt';

/** Bytes `du` counts in `dir` without the status file and `name`. */
function duWithout(dir: string, name: string): number {
  const out = execFileSync('du', ['-s', '-B1', '--exclude=.climcat-quota.json*', `--exclude=${name}`, dir]);
  return Number(out.toString().split('\t')[0]);
}

/** A file last used (atime and mtime) `idleDays` before the clock's start. */
function oldFile(path: string | Buffer, idleDays = 100, size = 1000): void {
  writeFileSync(path, Buffer.alloc(size, 1));
  const at = new Date(START - idleDays * DAY);
  utimesSync(path, at, at);
}

/** A real HTTP receiver of the webhook: records notices, answers `status`, runs `onNotice`. */
class Webhook {
  readonly notices: Record<string, any>[] = [];
  status = 200;
  onNotice?: (notice: Record<string, any>) => void;
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const notice = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
        if (this.status === 200) {
          this.notices.push(notice);
          this.onNotice?.(notice);
        }
        res.writeHead(this.status, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  of(user: string, event?: string): Record<string, any>[] {
    return this.notices.filter((n) => n.user === user && (!event || n.event === event));
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const stores: [string, () => Record<string, string>][] = [
  ['sqlite', () => ({})],
  [
    'mongo',
    () => ({
      MONGODB_URI: testEnv('TEST_MONGODB_URI'),
      MONGODB_DB: `purge_${process.pid}_${Date.now().toString(36)}`,
    }),
  ],
];

describe.each(stores)('purge runs on %s', (_name, storeEnv) => {
  const hook = new Webhook();
  let app: RunningApp;

  beforeAll(async () => {
    await hook.start();
    app = await startApp({
      features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
      env: { SCRATCH_PURGE_INTERVAL: 'off', SCRATCH_NOTIFY_WEBHOOK: hook.url, ...storeEnv() },
    });
  });
  afterAll(async () => {
    await app.close();
    await hook.close();
  });
  beforeEach(() => {
    clock.t = START;
    hook.status = 200;
    hook.onNotice = undefined;
  });

  const dirOf = (user: string) => {
    const dir = join(app.config.scratchRoot, user);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const run = async (user: string, at: number, body: Record<string, unknown> = {}) => {
    clock.t = at;
    const res = await call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, { user, ...body });
    expect(res.status).toBe(200);
    return res.body;
  };

  it('deletes a file only after it was on the plan for the notice period, with notices at plan time and a day before', async () => {
    const nora = await keyFor(app, 'nora');
    const dir = dirOf('nora');
    mkdirSync(join(dir, 'out'));
    oldFile(join(dir, 'out', 'old.nc'), 100, 4000);
    writeFileSync(join(dir, 'fresh.nc'), 'x');

    const first = await run('nora', START);
    expect(first).toMatchObject({ dryRun: false, users: 1, entered: 1, planned: { files: 1, bytes: 4000 } });
    expect(first.notices).toMatchObject({ sent: 1, failed: 0 });
    const planned = hook.of('nora', 'purge.planned');
    expect(planned).toHaveLength(1);
    const due = new Date(START + 7 * DAY).toISOString();
    expect(planned[0]).toMatchObject({
      user: 'nora',
      directory: dir,
      files: [{ path: 'out/old.nc', bytes: 4000, due }],
      plan: '/scratch/v1/me/purge-plan',
    });
    clock.t = START + 3 * DAY;
    const plan = await call(app, 'GET', '/scratch/v1/me/purge-plan', nora);
    expect(plan.body).toMatchObject({ total: 1, next: due, files: [{ path: 'out/old.nc', due }] });

    // Later runs keep the first notice's date and send nothing again.
    const second = await run('nora', START + 3 * DAY);
    expect(second).toMatchObject({ entered: 0, notices: { sent: 0 }, purged: { files: 0 } });
    expect(hook.of('nora')).toHaveLength(1);

    const soon = await run('nora', START + 6 * DAY + 3600_000);
    expect(soon.notices.sent).toBe(1);
    // Due in 23 hours, but deletion waits a full day after this notice: the notice says when.
    const deleteAt = new Date(START + 7 * DAY + 3600_000).toISOString();
    expect(hook.of('nora', 'purge.due-soon')).toEqual([
      expect.objectContaining({ files: [{ path: 'out/old.nc', bytes: 4000, due: deleteAt }] }),
    ]);
    const waited = await run('nora', START + 7 * DAY);
    expect(waited.purged.files).toBe(0);
    expect(existsSync(join(dir, 'out', 'old.nc'))).toBe(true);

    const done = await run('nora', START + 7 * DAY + 2 * 3600_000);
    expect(done.purged).toEqual({
      files: 1,
      bytes: 4000,
      items: [{ user: 'nora', path: 'out/old.nc', bytes: 4000 }],
    });
    expect(existsSync(join(dir, 'out', 'old.nc'))).toBe(false);
    expect(existsSync(join(dir, 'fresh.nc'))).toBe(true);
    expect(hook.of('nora')).toHaveLength(2);

    const purged = await call(app, 'GET', '/scratch/v1/me/purged', nora);
    expect(purged.status).toBe(200);
    expect(purged.body.total).toBe(1);
    expect(purged.body.items[0]).toMatchObject({
      path: 'out/old.nc',
      bytes: 4000,
      atime: new Date(START - 100 * DAY).toISOString(),
      mtime: new Date(START - 100 * DAY).toISOString(),
      purgedAt: new Date(START + 7 * DAY + 2 * 3600_000).toISOString(),
      runId: done.runId,
    });
    expect(purged.body.items[0].reason).toContain('56 days');
    const marker = readFileSync(join(dir, MARKER), 'utf8');
    expect(marker).toContain(done.runId);
    expect(marker).toContain('"out/old.nc"\t4000\t');
    // The marker itself is never planned, however old it gets.
    const old = new Date(START - 300 * DAY);
    utimesSync(join(dir, MARKER), old, old);
    expect((await run('nora', START + 8 * DAY)).planned.files).toBe(0);
    expect((await call(app, 'GET', '/scratch/v1/me/purged?limit=1&offset=1', nora)).body).toEqual({
      total: 1,
      items: [],
    });
  });

  it('dry runs report what would be deleted and change nothing', async () => {
    const dan = await keyFor(app, 'dan');
    const dir = dirOf('dan');
    oldFile(join(dir, 'a.nc'));
    const dry = await run('dan', START, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, entered: 1, notices: { sent: 0, wouldSend: 1 } });
    expect(hook.of('dan')).toHaveLength(0);
    // Nothing was stored: a real run is the first notice.
    await run('dan', START + DAY);
    await run('dan', START + 7 * DAY);
    expect(hook.of('dan')).toHaveLength(2);
    const wouldPurge = await run('dan', START + 9 * DAY, { dryRun: true });
    expect(wouldPurge.purged).toMatchObject({ files: 1, items: [{ path: 'a.nc' }] });
    expect(existsSync(join(dir, 'a.nc'))).toBe(true);
    expect(existsSync(join(dir, MARKER))).toBe(false);
    expect((await call(app, 'GET', '/scratch/v1/me/purged', dan)).body.total).toBe(0);
    expect((await run('dan', START + 9 * DAY)).purged.files).toBe(1);
    expect(existsSync(join(dir, 'a.nc'))).toBe(false);
  });

  it('never plans or deletes files an approved, unexpired exemption pattern covers', async () => {
    const eve = await keyFor(app, 'eve');
    const dir = dirOf('eve');
    for (const d of ['results/deep', 'keep', 'scratch']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['results/deep/r.nc', 'keep/k.nc', 'scratch/s.nc']) oldFile(join(dir, f));
    const made = await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
      kind: 'user',
      name: 'eve',
      pattern: './results/**',
      reason: 'paper figures',
      expiresAt: new Date(START + 30 * DAY).toISOString(),
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ pattern: 'results/**', status: 'approved', scope: 'purge' });
    // Eve asks for keep/**: it applies only once approved.
    const asked = await call(app, 'POST', '/scratch/v1/me/exemptions', eve, {
      pattern: 'keep/**',
      reason: 'reference data',
      expiresAt: new Date(START + 60 * DAY).toISOString(),
    });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({ name: 'eve', status: 'requested', pattern: 'keep/**' });
    const first = await run('eve', START);
    expect(first.exempt).toBe(1);
    const paths = async () =>
      (await call(app, 'GET', '/scratch/v1/me/purge-plan', eve)).body.files.map(
        (f: { path: string }) => f.path,
      );
    expect(await paths()).toEqual(['keep/k.nc', 'scratch/s.nc']);
    const approved = await call(app, 'POST', `/scratch/v1/exemptions/${asked.body.id}/approve`, ADMIN);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approvedBy: 'admin-bootstrap' });
    expectProblem(await call(app, 'POST', `/scratch/v1/exemptions/${asked.body.id}/approve`, ADMIN), 409);
    expect(await paths()).toEqual(['scratch/s.nc']);
    const mine = await call(app, 'GET', '/scratch/v1/me/exemptions', eve);
    expect(mine.body.items.map((e: { pattern: string }) => e.pattern).sort()).toEqual([
      'keep/**',
      'results/**',
    ]);
    await run('eve', START + 7 * DAY);
    const done = await run('eve', START + 9 * DAY);
    expect(done.purged.items).toEqual([{ user: 'eve', path: 'scratch/s.nc', bytes: 1000 }]);
    expect(existsSync(join(dir, 'results/deep/r.nc'))).toBe(true);
    expect(existsSync(join(dir, 'keep/k.nc'))).toBe(true);
    // After the admin exemption expires, its files enter the plan (with a full notice period).
    const later = await run('eve', START + 31 * DAY);
    expect(later.purged.files).toBe(0);
    expect(await paths()).toEqual(['results/deep/r.nc']);
  });

  it('summarises in /me what /me/purge-plan holds: notice dates from the stored plan, exemptions at once', async () => {
    const mia = await keyFor(app, 'mia');
    const dir = dirOf('mia');
    mkdirSync(join(dir, 'keep'));
    oldFile(join(dir, 'a.nc'), 100, 3000);
    oldFile(join(dir, 'keep', 'k.nc'), 100, 5000);
    await run('mia', START);
    // Three days later a rescan walks the directory again: the notice still counts from the run.
    clock.t = START + 3 * DAY;
    expect((await call(app, 'POST', '/scratch/v1/rescan', mia, {})).status).toBe(200);
    const summary = async () => (await call(app, 'GET', '/scratch/v1/me', mia)).body.purge;
    const plan = async () => (await call(app, 'GET', '/scratch/v1/me/purge-plan', mia)).body;
    const due = new Date(START + 7 * DAY).toISOString();
    expect(await summary()).toEqual({ files: 2, bytes: 8000, next: due });
    expect(await plan()).toMatchObject({ total: 2, bytes: 8000, next: due });
    // An exemption granted now leaves /me at once, as it leaves the plan (no rescan).
    const made = await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
      kind: 'user',
      name: 'mia',
      pattern: 'keep/**',
      reason: 'reference data',
      expiresAt: new Date(START + 30 * DAY).toISOString(),
    });
    expect(made.status).toBe(201);
    expect(await summary()).toEqual({ files: 1, bytes: 3000, next: due });
    expect(await plan()).toMatchObject({ total: 1, bytes: 3000, next: due });
  });

  it("applies group exemptions to members' directories and to the group directory", async () => {
    const gil = await keyFor(app, 'gil', ['tropics']);
    const hal = await keyFor(app, 'hal', ['other']);
    for (const user of ['gil', 'hal', 'tropics']) oldFile(join(dirOf(user), 'old.nc'));
    // gil's group claim is known once gil has called the service.
    expect((await call(app, 'GET', '/scratch/v1/me', gil)).status).toBe(200);
    expect((await call(app, 'GET', '/scratch/v1/me', hal)).status).toBe(200);
    const made = await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
      kind: 'group',
      name: 'tropics',
      reason: 'campaign until the end of the month',
      expiresAt: new Date(START + 30 * DAY).toISOString(),
    });
    expect(made.status).toBe(201);
    const plans: Record<string, number> = {};
    for (const user of ['gil', 'hal', 'tropics']) plans[user] = (await run(user, START)).planned.files;
    expect(plans).toEqual({ gil: 0, hal: 1, tropics: 0 });
    expect((await call(app, 'GET', '/scratch/v1/me/purge-plan', gil)).body.total).toBe(0);
    expect((await call(app, 'GET', '/scratch/v1/me', gil)).body.purge.files).toBe(0);
    const end = await run('hal', START + 9 * DAY);
    expect(end.purged.files).toBe(0);
    await run('gil', START + 9 * DAY);
    expect((await run('gil', START + 20 * DAY)).purged.files).toBe(0);
    expect((await run('tropics', START + 20 * DAY)).purged.files).toBe(0);
    expect(existsSync(join(dirOf('gil'), 'old.nc'))).toBe(true);
    expect(existsSync(join(dirOf('tropics'), 'old.nc'))).toBe(true);
  });

  it('does not count the purge marker as usage: /me, rescans and reconciliation agree with du without it', async () => {
    const max = await keyFor(app, 'max');
    const dir = dirOf('max');
    oldFile(join(dir, 'gone.nc'), 100, 6000);
    writeFileSync(join(dir, 'kept.nc'), Buffer.alloc(3000, 1));
    await run('max', START);
    await run('max', START + 7 * DAY);
    expect((await run('max', START + 9 * DAY)).purged.files).toBe(1);
    expect(existsSync(join(dir, MARKER))).toBe(true);
    const expected = duWithout(dir, MARKER);
    const usage = async () => (await call(app, 'GET', '/scratch/v1/me', max)).body.usage;
    expect(await usage()).toEqual({ bytes: expected, files: 1 });
    expect((await call(app, 'POST', '/scratch/v1/rescan', max, {})).body.usage).toEqual({
      bytes: expected,
      files: 1,
    });
    const reconciled = await call(app, 'POST', '/scratch/v1/reconcile', ADMIN, {});
    expect(reconciled.status).toBe(200);
    expect(reconciled.body.drift.filter((d: { user: string }) => d.user === 'max')).toEqual([]);
    expect(await usage()).toEqual({ bytes: expected, files: 1 });
    // A marker grown past its bound would count (the name cannot hide data): the service keeps it bounded.
    expect(readFileSync(join(dir, MARKER)).length).toBeLessThanOrEqual(1024 * 1024);
  });

  it('keeps a due file that is written during the run, and a file touched after planning leaves the plan', async () => {
    const cal = await keyFor(app, 'cal');
    const dir = dirOf('cal');
    oldFile(join(dir, 'a.nc'));
    oldFile(join(dir, 'touched.nc'));
    await run('cal', START);
    // touched.nc is read (atime) after it was planned: off the plan at once.
    utimesSync(join(dir, 'touched.nc'), new Date(START + DAY), new Date(START - 100 * DAY));
    clock.t = START + 2 * DAY;
    const plan = await call(app, 'GET', '/scratch/v1/me/purge-plan', cal);
    expect(plan.body.files.map((f: { path: string }) => f.path)).toEqual(['a.nc']);
    await run('cal', START + 7 * DAY);
    // In the deleting run, b.nc enters the plan; while its notice is delivered, someone appends to a.nc.
    oldFile(join(dir, 'b.nc'));
    hook.onNotice = (n) => {
      if (n.user === 'cal' && n.event === 'purge.planned') appendFileSync(join(dir, 'a.nc'), 'more');
    };
    const result = await run('cal', START + 9 * DAY);
    expect(result.purged.files).toBe(0);
    expect(result.kept).toEqual([
      { user: 'cal', path: 'a.nc', why: 'used or changed after the plan was made' },
    ]);
    expect(readFileSync(join(dir, 'a.nc')).length).toBe(1004);
    expect(
      (await call(app, 'GET', '/scratch/v1/me/purge-plan', cal)).body.files.map((f: any) => f.path),
    ).toEqual(['b.nc']);
  });

  it('handles symlinks out of the root, odd names and unreadable directories', async () => {
    const wes = await keyFor(app, 'wes');
    const dir = dirOf('wes');
    const outside = tempDir('climcat-purge-outside-');
    oldFile(join(outside, 'victim.nc'));
    symlinkSync(outside, join(dir, 'link-out'));
    symlinkSync(join(outside, 'victim.nc'), join(dir, 'victim.nc'));
    oldFile(join(dir, 'with space.nc'));
    oldFile(join(dir, 'new\nline.nc'));
    oldFile(Buffer.concat([Buffer.from(`${dir}/bad`), Buffer.from([0xff]), Buffer.from('.nc')]));
    // Root reads every mode-000 directory, so there the unreadable one is a path beyond PATH_MAX.
    const asRoot = process.getuid?.() === 0;
    const unreadable = asRoot ? 'deep/' : 'locked';
    try {
      if (asRoot) {
        // Made by relative steps (a chdir each): no absolute path that long can be used.
        execFileSync('python3', [
          '-c',
          'import os,sys\nos.chdir(sys.argv[1]); os.mkdir("deep"); os.chdir("deep")\n' +
            'for i in range(22):\n  os.mkdir("d"*200); os.chdir("d"*200)\n' +
            'open("old.nc","wb").write(b"0"*10); os.utime("old.nc",(1.7e9,1.7e9))',
          dir,
        ]);
      } else {
        mkdirSync(join(dir, 'locked'));
        oldFile(join(dir, 'locked', 'l.nc'));
        chmodSync(join(dir, 'locked'), 0o000);
      }
      const first = await run('wes', START);
      const problem = first.problems.find((p: { path: string }) => p.path.startsWith(unreadable));
      expect(problem).toMatchObject({ user: 'wes', reason: asRoot ? 'ENAMETOOLONG' : 'permission denied' });
      // A "user directory" that is a symlink out of the root is refused, not walked.
      symlinkSync(outside, join(app.config.scratchRoot, 'mal'));
      for (const at of [START, START + 7 * DAY, START + 9 * DAY]) {
        const linked = await run('mal', at);
        expect(linked).toMatchObject({ entered: 0, purged: { files: 0 } });
        expect(linked.problems).toEqual([
          { user: 'mal', path: '', reason: 'not a directory (symlinks are not followed)' },
        ]);
      }
      await run('wes', START + 7 * DAY);
      const done = await run('wes', START + 9 * DAY);
      expect(done.purged.items.map((p: { path: string }) => p.path).sort()).toEqual([
        'bad\\xff.nc',
        'new\nline.nc',
        'with space.nc',
      ]);
      expect(existsSync(join(outside, 'victim.nc'))).toBe(true);
      expect(existsSync(join(dir, 'victim.nc'))).toBe(true);
      expect(existsSync(join(dir, 'with space.nc'))).toBe(false);
      const marker = readFileSync(join(dir, MARKER), 'utf8');
      expect(marker).toContain('"new\\nline.nc"\t1000');
      expect(marker).toContain('"bad\\\\xff.nc"');
      const listed = await call(app, 'GET', '/scratch/v1/me/purged?limit=10', wes);
      expect(listed.body.items.map((p: { path: string }) => p.path).sort()).toEqual([
        'bad\\xff.nc',
        'new\nline.nc',
        'with space.nc',
      ]);
    } finally {
      if (asRoot) execFileSync('rm', ['-rf', join(dir, 'deep')]);
      else if (existsSync(join(dir, 'locked'))) chmodSync(join(dir, 'locked'), 0o700);
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('retries a notice the webhook refused, and then sends it once', async () => {
    const dir = dirOf('rita');
    oldFile(join(dir, 'r.nc'));
    hook.status = 503;
    const failed = await run('rita', START);
    expect(failed.notices).toMatchObject({ sent: 0, failed: 1 });
    // Undelivered: no notice period has started, so nothing can become due.
    const still = await run('rita', START + 20 * DAY);
    expect(still).toMatchObject({ purged: { files: 0 }, notices: { failed: 1 } });
    hook.status = 200;
    const sent = await run('rita', START + 21 * DAY);
    expect(sent.notices.sent).toBe(1);
    await run('rita', START + 22 * DAY);
    expect(hook.of('rita', 'purge.planned')).toHaveLength(1);
    expect(hook.of('rita', 'purge.planned')[0]?.files[0].due).toBe(new Date(START + 28 * DAY).toISOString());
  });

  it('runs one purge at a time: a run while another process holds the lease is refused', async () => {
    const store = app.app.get<Store>(STORE);
    const now = new Date(START);
    expect(
      await store.quotas.acquireLease('scratch-purge', 'other-process', new Date(START + 60_000), now),
    ).toBe(true);
    clock.t = START;
    const refused = await call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, { user: 'nobody1' });
    expectProblem(refused, 409);
    expect(refused.body.detail ?? refused.body.title).toMatch(/under way/);
    // Once the other holder's lease has expired (its process died), runs go ahead.
    clock.t = START + 120_000;
    expect((await call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, { user: 'nobody1' })).status).toBe(200);
  });

  it('refuses bad input with problems naming the field', async () => {
    const ivy = await keyFor(app, 'ivy');
    const future = new Date(START + 30 * DAY).toISOString();
    const exemption = (body: Record<string, unknown>) =>
      call(app, 'POST', '/scratch/v1/exemptions', ADMIN, body);
    const base = { kind: 'user', name: 'ivy', reason: 'r', expiresAt: future };
    expectProblem(await exemption({ ...base, pattern: '../ben/**' }), 400, 'pattern');
    expectProblem(await exemption({ ...base, pattern: '/scratch/ivy/**' }), 400, 'pattern');
    expectProblem(await exemption({ ...base, pattern: '%2e%2e/x' }), 400, 'pattern');
    expectProblem(await exemption({ ...base, kind: 'group', name: 'eucp', pattern: 'a/**' }), 400, 'pattern');
    expectProblem(
      await exemption({ kind: 'user', name: 'ivy', reason: 'r', pattern: 'a/**' }),
      400,
      'expiresAt',
    );
    const request = (body: Record<string, unknown>) =>
      call(app, 'POST', '/scratch/v1/me/exemptions', ivy, body);
    expectProblem(await request({ pattern: 'a/**', reason: 'r' }), 400, 'expiresAt');
    expectProblem(
      await request({ pattern: 'a/**', reason: 'r', expiresAt: '2020-01-01T00:00:00Z' }),
      400,
      'expiresAt',
    );
    expectProblem(await request({ pattern: 'a/../../x', reason: 'r', expiresAt: future }), 400, 'pattern');
    const asked = await request({ pattern: 'a/**', reason: 'r', expiresAt: future });
    expect(asked.status).toBe(201);
    expectProblem(await call(app, 'POST', `/scratch/v1/exemptions/${asked.body.id}/approve`, ivy), 403);
    expectProblem(await call(app, 'POST', '/scratch/v1/exemptions/no-such-id/approve', ADMIN), 404);
    const runs = (headers: Record<string, string>, body: Record<string, unknown>) =>
      call(app, 'POST', '/scratch/v1/purge/runs', headers, body);
    expectProblem(await runs(ivy, { dryRun: true }), 403);
    expectProblem(await runs({}, { dryRun: true }), 401);
    expectProblem(await runs(ADMIN, { user: '../ivy' }), 400, 'user');
    expectProblem(await runs(ADMIN, { dryRun: 'yes' }), 400, 'dryRun');
    // null in an optional member is "not given" (the global validation pipe), not a 500.
    expect((await call(app, 'POST', '/scratch/v1/rescan', ivy, { user: null })).body.user).toBe('ivy');
    const nulls = await runs(ADMIN, { user: null, dryRun: null });
    expect(nulls.status).toBe(200);
    expect(nulls.body.dryRun).toBe(false);
    const nullDry = await runs(ADMIN, { user: null, dryRun: true });
    expect(nullDry.body).toMatchObject({ dryRun: true, trigger: 'admin' });
    // Every user directory (ivy's at least), not a user named null.
    expect(nullDry.body.users).toBeGreaterThanOrEqual(1);
    expectProblem(await call(app, 'GET', '/scratch/v1/me/purged?limit=0', ivy), 400, 'limit');
  });
});

/** Polls `check` (real time, the scheduler's timer) until it holds or `ms` pass. */
async function eventually(check: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('the scheduled purge job', () => {
  const hook = new Webhook();
  beforeAll(() => hook.start());
  afterAll(() => hook.close());
  beforeEach(() => {
    clock.t = START;
  });

  it('runs on its own over every user directory, once at a time across two processes on one store', async () => {
    const stateDir = tempDir();
    const env = { SCRATCH_PURGE_INTERVAL: '100ms', SCRATCH_NOTIFY_WEBHOOK: hook.url };
    const features = [CatalogModule, ScratchQuotaModule.withClock(clock)];
    const a = await startApp({ features, env, stateDir });
    const b = await startApp({ features, env, stateDir });
    try {
      for (const user of ['sam', 'tia']) {
        mkdirSync(join(a.config.scratchRoot, user), { recursive: true });
        oldFile(join(a.config.scratchRoot, user, 'old.nc'));
      }
      // A name that cannot be a user is reported, not walked.
      mkdirSync(join(a.config.scratchRoot, 'not a user'), { recursive: true });
      await eventually(() => hook.of('sam').length > 0 && hook.of('tia').length > 0);
      // Let both processes run several more times: the stored plan says the notice went out.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(hook.of('sam', 'purge.planned')).toHaveLength(1);
      expect(hook.of('tia', 'purge.planned')).toHaveLength(1);
      expect(hook.notices.filter((n) => n.user === 'not a user')).toEqual([]);
      // Nothing is deleted before the notice period, however often the job runs.
      expect(existsSync(join(a.config.scratchRoot, 'sam', 'old.nc'))).toBe(true);
    } finally {
      await b.close({ keepState: true });
      await a.close();
    }
  });

  it('deletes nothing with SCRATCH_PURGE_DRY_RUN=true, and admins get the dry-run summary', async () => {
    const app = await startApp({
      features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
      env: { SCRATCH_PURGE_INTERVAL: 'off', SCRATCH_PURGE_DRY_RUN: 'true', SCRATCH_NOTIFY_WEBHOOK: hook.url },
    });
    try {
      const dir = join(app.config.scratchRoot, 'una');
      mkdirSync(dir, { recursive: true });
      oldFile(join(dir, 'old.nc'));
      const res = await call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, {});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        dryRun: true,
        users: 1,
        entered: 1,
        notices: { sent: 0, wouldSend: 1 },
      });
      expect(hook.of('una')).toEqual([]);
      // An explicit dryRun: false overrides the configured default.
      const real = await call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, { dryRun: false });
      expect(real.body).toMatchObject({ dryRun: false, notices: { sent: 1 } });
    } finally {
      await app.close();
    }
  });
});

describe('the purge of S3 scratch prefixes (s3rver)', () => {
  const BUCKET = `scratch-purge-${Date.now().toString(36)}`;
  const hook = new Webhook();
  let app: RunningApp;

  beforeAll(async () => {
    await hook.start();
    await s3TestClient().makeBucket(BUCKET);
    app = await startApp({
      features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
      env: {
        SCRATCH_PURGE_INTERVAL: 'off',
        SCRATCH_NOTIFY_WEBHOOK: hook.url,
        S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
        S3_ACCESS_KEY: 'S3RVER',
        S3_SECRET_KEY: 'S3RVER',
        S3_BUCKET: BUCKET,
      },
    });
  });
  afterAll(async () => {
    await app.close();
    await hook.close();
  });

  it('plans, notifies and deletes idle objects under scratch/<user>/ by the POSIX rules, sparing exempt and changed ones', async () => {
    const s3 = s3TestClient();
    const sam = await keyFor(app, 'sam');
    clock.t = Date.now();
    expect((await call(app, 'GET', '/scratch/v1/me', sam)).status).toBe(200);
    for (const [key, size] of [
      ['old.nc', 4000],
      ['keep/k.nc', 2000],
      ['changed.nc', 1000],
    ] as const)
      await s3.putObject(BUCKET, `scratch/sam/${key}`, Buffer.alloc(size, 1));
    await s3.putObject(BUCKET, 'scratch/samuel/old.nc', Buffer.alloc(10, 1));
    const made = await call(app, 'POST', '/scratch/v1/exemptions', ADMIN, {
      kind: 'user',
      name: 'sam',
      pattern: 'keep/**',
      reason: 'reference data',
      expiresAt: new Date(Date.now() + 365 * DAY).toISOString(),
    });
    expect(made.status).toBe(201);
    // S3 keeps no access time: objects are judged by their last modification, here 100 days ago.
    const t0 = Date.now() + 100 * DAY;
    const at = (ms: number) => {
      clock.t = ms;
      return call(app, 'POST', '/scratch/v1/purge/runs', ADMIN, { user: 'sam' });
    };
    const first = (await at(t0)).body;
    expect(first).toMatchObject({ entered: 2, exempt: 1, planned: { files: 2, bytes: 5000 } });
    const path = (key: string) => `s3://${BUCKET}/scratch/sam/${key}`;
    expect(
      hook
        .of('sam', 'purge.planned')[0]
        ?.files.map((f: { path: string }) => f.path)
        .sort(),
    ).toEqual([path('changed.nc'), path('old.nc')]);
    const plan = await call(app, 'GET', '/scratch/v1/me/purge-plan', sam);
    expect(plan.body).toMatchObject({ total: 2, bytes: 5000, next: new Date(t0 + 7 * DAY).toISOString() });
    expect((await call(app, 'GET', '/scratch/v1/me', sam)).body.purge).toEqual({
      files: 2,
      bytes: 5000,
      next: new Date(t0 + 7 * DAY).toISOString(),
    });
    // changed.nc is written again after the plan: it leaves the plan (a new notice period starts).
    await s3.putObject(BUCKET, 'scratch/sam/changed.nc', Buffer.alloc(1500, 1));
    await at(t0 + 7 * DAY);
    const done = (await at(t0 + 9 * DAY)).body;
    expect(done.purged).toEqual({
      files: 1,
      bytes: 4000,
      items: [{ user: 'sam', path: path('old.nc'), bytes: 4000 }],
    });
    await expect(s3.statObject(BUCKET, 'scratch/sam/old.nc')).rejects.toThrow();
    expect((await s3.statObject(BUCKET, 'scratch/sam/changed.nc')).size).toBe(1500);
    expect((await s3.statObject(BUCKET, 'scratch/sam/keep/k.nc')).size).toBe(2000);
    // Another user's prefix that starts with the same letters is not touched.
    expect((await s3.statObject(BUCKET, 'scratch/samuel/old.nc')).size).toBe(10);
    const purged = await call(app, 'GET', '/scratch/v1/me/purged', sam);
    expect(purged.body.items).toEqual([expect.objectContaining({ path: path('old.nc'), bytes: 4000 })]);
    expect(readFileSync(join(app.config.scratchRoot, 'sam', MARKER), 'utf8')).toContain(path('old.nc'));
    // What is left of the prefix (objects put directly send no bucket event here: a rescan lists it).
    const usage = (await call(app, 'POST', '/scratch/v1/rescan', sam, {})).body;
    expect(usage.largest).toContainEqual({ path: `s3://${BUCKET}/scratch/sam/`, bytes: 3500 });
  });
});

describe('the scheduled purge job with S3 scratch (s3rver)', () => {
  const BUCKET = `scratch-sched-${Date.now().toString(36)}`;
  const hook = new Webhook();
  beforeAll(async () => {
    await hook.start();
    await s3TestClient().makeBucket(BUCKET);
  });
  afterAll(() => hook.close());

  it('visits users who have S3 scratch objects but no POSIX directory, and purges their idle objects', async () => {
    const s3 = s3TestClient();
    // s3rver's delimiter listing drops a common prefix whose objects all lie deeper than one level
    // (its directory walk prunes them; S3 and MinIO do not), so olga has one object at the top.
    await s3.putObject(BUCKET, 'scratch/olga/old.nc', Buffer.alloc(3000, 1));
    await s3.putObject(BUCKET, 'scratch/olga/runs/deep/older.nc', Buffer.alloc(1000, 1));
    // S3 keeps no access time: the objects were last modified 100 days before the clock.
    clock.t = Date.now() + 100 * DAY;
    const app = await startApp({
      features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
      env: {
        SCRATCH_PURGE_INTERVAL: '100ms',
        SCRATCH_NOTIFY_WEBHOOK: hook.url,
        S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
        S3_ACCESS_KEY: 'S3RVER',
        S3_SECRET_KEY: 'S3RVER',
        S3_BUCKET: BUCKET,
      },
    });
    try {
      const dir = join(app.config.scratchRoot, 'olga');
      expect(existsSync(dir)).toBe(false);
      await eventually(() => hook.of('olga', 'purge.planned').length > 0, 10_000);
      expect(
        hook
          .of('olga', 'purge.planned')[0]
          ?.files.map((f: { path: string }) => f.path)
          .sort(),
      ).toEqual([`s3://${BUCKET}/scratch/olga/old.nc`, `s3://${BUCKET}/scratch/olga/runs/deep/older.nc`]);
      // Nothing is deleted before the notice period; afterwards the scheduled job deletes both.
      expect((await s3.statObject(BUCKET, 'scratch/olga/old.nc')).size).toBe(3000);
      clock.t += 8 * DAY;
      await eventually(() => hook.of('olga', 'purge.due-soon').length > 0, 10_000);
      expect((await s3.statObject(BUCKET, 'scratch/olga/old.nc')).size).toBe(3000);
      // Deletion waits a day after the "due soon" notice.
      clock.t += 2 * DAY;
      const gone = async (key: string) =>
        s3.statObject(BUCKET, key).then(
          () => false,
          () => true,
        );
      let both = false;
      const until = Date.now() + 10_000;
      while (!both && Date.now() < until) {
        both = (await gone('scratch/olga/old.nc')) && (await gone('scratch/olga/runs/deep/older.nc'));
        if (!both) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(both).toBe(true);
      const olga = await keyFor(app, 'olga');
      const purged = await call(app, 'GET', '/scratch/v1/me/purged', olga);
      expect(purged.body.items.map((i: { path: string }) => i.path).sort()).toEqual([
        `s3://${BUCKET}/scratch/olga/old.nc`,
        `s3://${BUCKET}/scratch/olga/runs/deep/older.nc`,
      ]);
    } finally {
      await app.close();
    }
  });
});
