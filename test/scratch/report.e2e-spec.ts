/**
 * Admin views of scratch over HTTP on the real app: the report (top
 * consumers, over soft/hard, tiers, purge pending), the Prometheus gauges,
 * the status file in each user directory (content, atomic replacement, not
 * counted as usage, never written through a symlink) and the generated
 * filesystem-quota script, run by a real shell against recording stubs of
 * xfs_quota and lfs.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { StatusFileService, STATUS_FILE } from '../../apps/scratch-quota/src/report/status-file';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { call, keyFor } from './http';

jest.setTimeout(120_000);

const START = Date.parse('2026-06-01T00:00:00Z');
const clock = { t: START, now: () => new Date(clock.t) };
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** One gauge sample from the exposition text (labels as written, e.g. `{tier="scratch"}`). */
function sample(metrics: string, name: string, labels = ''): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`no sample ${name}${labels} in /metrics`);
  return Number(line.split(' ')[1]);
}

describe('scratch admin views', () => {
  let app: RunningApp;
  let root: string;
  const keys: Record<string, Record<string, string>> = {};
  const me: Record<string, Record<string, any>> = {};

  beforeAll(async () => {
    // A root whose path needs quoting in a shell script.
    root = join(tempDir(), "scratch root's");
    mkdirSync(root);
    clock.t = START;
    app = await startApp({
      features: [CatalogModule, ScratchQuotaModule.withClock(clock)],
      env: {
        SCRATCH_ROOT: root,
        SCRATCH_SOFT_BYTES: '1000000',
        SCRATCH_HARD_BYTES: '2000000',
        SCRATCH_SOFT_FILES: '1000',
        SCRATCH_HARD_FILES: '2000',
        SCRATCH_GRACE: '1h',
        CAPACITY_TOTAL: '100000000',
      },
    });
    const sizes: Record<string, number> = { alice: 10_000, bob: 2_500_000, carol: 10_000, dave: 1_200_000 };
    for (const [user, size] of Object.entries(sizes)) {
      keys[user] = await keyFor(app, user);
      mkdirSync(join(root, user, 'run1'), { recursive: true });
      writeFileSync(join(root, user, 'run1', 'out.nc'), Buffer.alloc(size, 1));
    }
    // carol's old file has been idle for 100 days: it is on her purge plan.
    const old = new Date(START - 100 * DAY);
    writeFileSync(join(root, 'carol', 'old.nc'), Buffer.alloc(50_000, 2));
    utimesSync(join(root, 'carol', 'old.nc'), old, old);
    for (const user of Object.keys(sizes)) {
      const res = await call(app, 'POST', '/scratch/v1/rescan', keys[user]!, {});
      expect(res.status).toBe(200);
    }
    // dave went over the soft limit first: an hour and a half later his grace has expired,
    // while alice has just gone over hers.
    clock.t = START + 90 * 60_000;
    writeFileSync(join(root, 'alice', 'run1', 'out.nc'), Buffer.alloc(1_500_000, 1));
    for (const user of ['alice', 'bob']) await call(app, 'POST', '/scratch/v1/rescan', keys[user]!, {});
    for (const user of Object.keys(sizes)) {
      const res = await call(app, 'GET', '/scratch/v1/me', keys[user]!);
      me[user] = res.body;
    }
  });
  afterAll(() => app.close());

  it('has the seeded users in the states the quotas give them', () => {
    expect([me.alice!.state, me.bob!.state, me.carol!.state, me.dave!.state]).toEqual([
      'soft-exceeded',
      'hard-exceeded',
      'ok',
      'grace-expired',
    ]);
    expect(me.carol!.purge).toMatchObject({ files: 1, bytes: 50_000 });
  });

  it('reports top consumers, who is over soft and hard, tiers and purge pending', async () => {
    const res = await call(app, 'GET', '/scratch/v1/report?top=2', ADMIN);
    expect(res.status).toBe(200);
    const total = ['alice', 'bob', 'carol', 'dave'].reduce((n, u) => n + (me[u]!.usage.bytes as number), 0);
    expect(res.body.top.map((u: { user: string }) => u.user)).toEqual(['bob', 'alice']);
    expect(res.body.top[0]).toMatchObject({
      user: 'bob',
      bytes: me.bob!.usage.bytes,
      state: 'hard-exceeded',
      hardBytes: 2_000_000,
      limitsFrom: 'default',
    });
    expect(res.body.top[0].share).toBeCloseTo(me.bob!.usage.bytes / total, 6);
    expect(res.body.overSoft.map((u: { user: string; state: string }) => [u.user, u.state])).toEqual([
      ['alice', 'soft-exceeded'],
      ['dave', 'grace-expired'],
    ]);
    expect(res.body.overSoft[0].graceUntil).toBe(me.alice!.graceUntil);
    expect(res.body.overHard.map((u: { user: string }) => u.user)).toEqual(['bob']);
    expect(res.body.states).toEqual({ ok: 1, 'soft-exceeded': 1, 'grace-expired': 1, 'hard-exceeded': 1 });
    expect(res.body.scratch).toMatchObject({ bytes: total, users: 4, measured: 4, reservedBytes: 0 });
    expect(res.body.purge).toEqual({ users: 1, files: 1, bytes: 50_000 });
    expect(res.body.tiers.find((t: { kind: string }) => t.kind === 'scratch')).toMatchObject({
      bytes: total,
      source: 'scratch-usage',
    });
    expect(res.body.growth.map((g: { kind: string }) => g.kind)).toEqual(['standard', 'derived', 'scratch']);
    // The catalog's capacity answer is the same computation.
    const catalog = await call(app, 'GET', '/api/v1/capacity', ADMIN);
    expect(catalog.body.tiers).toEqual(res.body.tiers);
    expect(catalog.body.standard).toEqual({
      standardBudget: 100_000_000,
      derivedNeed: 0,
      scratchNeed: total,
      room: 100_000_000 - total,
    });
  });

  it('exposes per-tier bytes, users over soft/hard and purge bytes pending as gauges without user labels', async () => {
    const res = await call(app, 'GET', '/metrics', {});
    expect(res.status).toBe(200);
    const total = ['alice', 'bob', 'carol', 'dave'].reduce((n, u) => n + (me[u]!.usage.bytes as number), 0);
    expect(sample(res.text, 'climcat_capacity_tier_bytes', '{tier="scratch"}')).toBe(total);
    expect(sample(res.text, 'climcat_capacity_tier_bytes', '{tier="standard"}')).toBe(0);
    expect(sample(res.text, 'climcat_capacity_budget_bytes', '{tier="total"}')).toBe(100_000_000);
    expect(sample(res.text, 'climcat_scratch_users_over_soft')).toBe(2);
    expect(sample(res.text, 'climcat_scratch_users_over_hard')).toBe(1);
    expect(sample(res.text, 'climcat_scratch_users', '{state="ok"}')).toBe(1);
    expect(sample(res.text, 'climcat_scratch_purge_pending_bytes')).toBe(50_000);
    expect(sample(res.text, 'climcat_scratch_purge_pending_files')).toBe(1);
    const scratchLines = res.text.split('\n').filter((l) => /^climcat_(scratch|capacity)_/.test(l));
    expect(scratchLines.join('\n')).not.toMatch(/alice|bob|carol|dave|user=/);
  });

  it('refuses the report and the script to non-admins and names bad parameters', async () => {
    for (const path of ['/scratch/v1/report', '/scratch/v1/quotas/script?fs=xfs']) {
      const res = await call(app, 'GET', path, keys.alice!);
      expect(res.status).toBe(403);
      expect(res.type).toMatch(/problem\+json/);
      expect((await call(app, 'GET', path, {})).status).toBe(401);
    }
    for (const [path, field] of [
      ['/scratch/v1/report?top=0', 'query.top'],
      ['/scratch/v1/report?top=ten', 'query.top'],
      ['/scratch/v1/quotas/script', 'query.fs'],
      ['/scratch/v1/quotas/script?fs=zfs', 'query.fs'],
      ['/scratch/v1/quotas/script?fs=xfs&mount=relative/path', 'query.mount'],
      ['/scratch/v1/quotas/script?fs=lustre&mount=/mnt/%22x', 'query.mount'],
    ] as const) {
      const res = await call(app, 'GET', path, ADMIN);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(JSON.stringify(res.body.errors)).toContain(field);
    }
  });

  describe('status file', () => {
    it('holds usage, limits, state, grace deadline, purge summary and when it was written', () => {
      const file = JSON.parse(readFileSync(join(root, 'alice', STATUS_FILE), 'utf8'));
      expect(file).toEqual({
        user: 'alice',
        usage: me.alice!.usage,
        limits: me.alice!.limits,
        state: 'soft-exceeded',
        graceUntil: me.alice!.graceUntil,
        purge: me.alice!.purge,
        scannedAt: me.alice!.scannedAt,
        advice: me.alice!.advice,
        updatedAt: new Date(clock.t).toISOString(),
        details: 'GET /scratch/v1/me',
      });
      expect(JSON.parse(readFileSync(join(root, 'carol', STATUS_FILE), 'utf8'))).toMatchObject({
        state: 'ok',
        purge: { files: 1, bytes: 50_000 },
      });
    });

    it('is not counted as usage and not put on the purge plan', async () => {
      const before = (await call(app, 'POST', '/scratch/v1/rescan', keys.carol!, {})).body;
      const old = new Date(START - 100 * DAY);
      utimesSync(join(root, 'carol', STATUS_FILE), old, old);
      const after = (await call(app, 'POST', '/scratch/v1/rescan', keys.carol!, {})).body;
      expect(after.usage).toEqual(before.usage);
      expect(after.usage.files).toBe(2);
      expect(after.purge).toMatchObject({ files: 1, bytes: 50_000 });
    });

    it('is rewritten when an upload changes usage', async () => {
      const res = await fetch(`${app.url}/scratch/v1/files/run2/new.bin`, {
        method: 'PUT',
        headers: { ...keys.carol!, 'Content-Type': 'application/octet-stream' },
        body: Buffer.alloc(4096, 3),
      });
      expect(res.status).toBeLessThan(300);
      const file = JSON.parse(readFileSync(join(root, 'carol', STATUS_FILE), 'utf8'));
      const live = (await call(app, 'GET', '/scratch/v1/me', keys.carol!)).body;
      expect(file.usage).toEqual(live.usage);
      expect(file.usage.files).toBe(3);
    });

    it('is replaced atomically: a concurrent reader never sees a partial file, no temporary file stays', async () => {
      const dir = join(root, 'dave');
      const writer = app.app.get(StatusFileService);
      const reader = spawn('python3', [
        '-c',
        [
          'import json, sys, time',
          'path, until = sys.argv[1], time.time() + float(sys.argv[2])',
          'reads = bad = 0',
          'while time.time() < until:',
          '    with open(path, "rb") as f: text = f.read()',
          '    reads += 1',
          '    try: json.loads(text)',
          '    except ValueError: bad += 1',
          'print(json.dumps({"reads": reads, "bad": bad}))',
        ].join('\n'),
        join(dir, STATUS_FILE),
        '3',
      ]);
      let out = '';
      reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<number>((resolve) => reader.on('close', resolve));
      // Large contents make a torn write likely to be seen if the replacement were not atomic.
      const stop = Date.now() + 2500;
      for (let i = 0; Date.now() < stop; i++) {
        await writer.write(dir, {
          user: 'dave',
          usage: { bytes: i, files: i },
          limits: { graceSeconds: 3600 },
          state: 'ok',
          purge: { files: 0, bytes: 0, next: null },
          advice: 'x'.repeat(40_000 + (i % 7) * 1000),
          updatedAt: new Date().toISOString(),
          details: 'GET /scratch/v1/me',
        });
      }
      expect(await done).toBe(0);
      const { reads, bad } = JSON.parse(out) as { reads: number; bad: number };
      expect(reads).toBeGreaterThan(50);
      expect(bad).toBe(0);
      expect(readdirSync(dir).filter((n) => n.startsWith(STATUS_FILE))).toEqual([STATUS_FILE]);
    });

    it('never writes through a symlink planted at its name', async () => {
      const victim = join(tempDir(), 'victim.txt');
      writeFileSync(victim, 'keep me');
      const path = join(root, 'bob', STATUS_FILE);
      spawnSync('rm', ['-f', path]);
      symlinkSync(victim, path);
      await call(app, 'GET', '/scratch/v1/me', keys.bob!);
      expect(readFileSync(victim, 'utf8')).toBe('keep me');
      expect(lstatSync(path).isSymbolicLink()).toBe(false);
      expect(JSON.parse(readFileSync(path, 'utf8')).user).toBe('bob');
    });
  });

  describe('filesystem quota script', () => {
    const calls = (log: string) =>
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);

    /** Runs the script with sh, xfs_quota and lfs replaced by stubs that record their arguments. */
    function run(script: string): { log: string; cwd: string; status: number | null; stderr: string } {
      const bin = tempDir('climcat-stub-');
      const log = join(bin, 'calls.jsonl');
      writeFileSync(log, '');
      for (const tool of ['xfs_quota', 'lfs']) {
        const stub = join(bin, tool);
        writeFileSync(
          stub,
          `#!/usr/bin/env python3\nimport json, sys\nwith open(${JSON.stringify(log)}, "a") as f: f.write(json.dumps([${JSON.stringify(tool)}] + sys.argv[1:]) + "\\n")\n`,
        );
        chmodSync(stub, 0o755);
      }
      const cwd = tempDir('climcat-script-');
      const file = join(cwd, 'quotas.sh');
      writeFileSync(file, script);
      const result = spawnSync('sh', [file], {
        cwd,
        env: { PATH: `${bin}:/usr/bin:/bin` },
        encoding: 'utf8',
      });
      return { log, cwd, status: result.status, stderr: result.stderr };
    }

    beforeAll(async () => {
      // Valid user names with characters that need care, and directories that are not user names at all.
      for (const name of [
        '-dash',
        'a+b@example.org',
        'bad name$(touch PWNED)',
        "o'brien",
        'evil\ntouch PWNED2',
      ])
        mkdirSync(join(root, name), { recursive: true });
      for (const [kind, name, body] of [
        [
          'users',
          'bob',
          { softBytes: 5_000_000, hardBytes: 6_000_000, softFiles: 100, hardFiles: 200, reason: 'big run' },
        ],
        ['users', '-dash', { softBytes: 1024, hardBytes: 2048, graceSeconds: 7200, reason: 'odd name' }],
        ['users', 'a+b@example.org', { softBytes: 3000, hardBytes: 4000, reason: "it's a test" }],
        ['groups', 'eucp', { softBytes: 10_000_000, hardBytes: 20_000_000, reason: 'project' }],
      ] as const) {
        const res = await call(
          app,
          'PUT',
          `/scratch/v1/quotas/${kind}/${encodeURIComponent(name)}`,
          ADMIN,
          body,
        );
        expect(res.status).toBe(200);
      }
    });

    it('sets one XFS project per user directory with the quota table, every name quoted', async () => {
      const res = await call(app, 'GET', '/scratch/v1/quotas/script?fs=xfs', ADMIN);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/text\/x-shellscript/);
      const { log, cwd, status, stderr } = run(res.text);
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      const recorded = calls(log);
      expect(recorded[0]).toEqual(['xfs_quota', '-x', '-c', 'timer -p -b -i 3600', root]);
      const projects = new Map<string, { id: string; limit: string }>();
      for (let i = 1; i < recorded.length; i += 2) {
        const [, , , project] = recorded[i]!;
        const [, , , limit] = recorded[i + 1]!;
        const m = /^project -s -p "(.*)" (\d+)$/.exec(project!);
        expect(m).not.toBeNull();
        expect(limit).toMatch(new RegExp(` ${m![2]}$`));
        expect(recorded[i]![4]).toBe(root);
        projects.set(m![1]!, { id: m![2]!, limit: limit! });
      }
      expect([...projects.keys()].sort()).toEqual(
        ['-dash', 'a+b@example.org', 'alice', 'bob', 'carol', 'dave'].map((u) => `${root}/${u}`).sort(),
      );
      expect(projects.get(`${root}/bob`)!.limit).toMatch(
        /^limit -p bsoft=4883k bhard=5860k isoft=100 ihard=200 \d+$/,
      );
      expect(projects.get(`${root}/alice`)!.limit).toMatch(
        /^limit -p bsoft=977k bhard=1954k isoft=1000 ihard=2000 \d+$/,
      );
      expect(projects.get(`${root}/-dash`)!.limit).toMatch(
        /^limit -p bsoft=1k bhard=2k isoft=1000 ihard=2000 \d+$/,
      );
      expect(new Set([...projects.values()].map((p) => p.id)).size).toBe(6);
      // Directories that are not user names are listed in comments, never acted on.
      expect(res.text).toContain('# skipped directory bad name$(touch PWNED): not a user name');
      expect(res.text).toContain('# skipped directory evil\\ntouch PWNED2: not a user name');
      expect(existsSync(join(cwd, 'PWNED')) || existsSync(join(cwd, 'PWNED2'))).toBe(false);
      // Ids are stable: the same table gives the same script (up to its timestamp).
      const again = await call(app, 'GET', '/scratch/v1/quotas/script?fs=xfs', ADMIN);
      const strip = (s: string) => s.replace(/generated \S+/, '');
      expect(strip(again.text)).toBe(strip(res.text));
    });

    it('sets Lustre default, grace and override quotas with lfs setquota', async () => {
      const res = await call(
        app,
        'GET',
        `/scratch/v1/quotas/script?fs=lustre&mount=${encodeURIComponent("/mnt/lustre o'k")}`,
        ADMIN,
      );
      expect(res.status).toBe(200);
      const { log, status, stderr } = run(res.text);
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      const mount = "/mnt/lustre o'k";
      expect(calls(log)).toEqual([
        ['lfs', 'setquota', '-U', '-b', '977', '-B', '1954', '-i', '1000', '-I', '2000', mount],
        ['lfs', 'setquota', '-t', '-u', '--block-grace', '3600', '--inode-grace', '3600', mount],
        ['lfs', 'setquota', '-t', '-g', '--block-grace', '3600', '--inode-grace', '3600', mount],
        ['lfs', 'setquota', '-u', '-dash', '-b', '1', '-B', '2', '-i', '1000', '-I', '2000', mount],
        ['lfs', 'setquota', '-u', 'a+b@example.org', '-b', '3', '-B', '4', '-i', '1000', '-I', '2000', mount],
        ['lfs', 'setquota', '-u', 'bob', '-b', '4883', '-B', '5860', '-i', '100', '-I', '200', mount],
        ['lfs', 'setquota', '-g', 'eucp', '-b', '9766', '-B', '19532', '-i', '1000', '-I', '2000', mount],
      ]);
      expect(res.text).toContain("# grace 7200s requested; Lustre keeps the filesystem's");
    });
  });
});

describe('the report across processes sharing one store', () => {
  it("sees every user's group quota and each group's usage, whichever process the user called", async () => {
    clock.t = START;
    const stateDir = tempDir();
    const root = tempDir();
    const env = { SCRATCH_ROOT: root, SCRATCH_SOFT_BYTES: '1000000', SCRATCH_HARD_BYTES: '2000000' };
    const features = [CatalogModule, ScratchQuotaModule.withClock(clock)];
    const a = await startApp({ features, env, stateDir });
    const b = await startApp({ features, env, stateDir });
    try {
      const ula = await keyFor(a, 'ula', ['monsoon']);
      const vic = await keyFor(a, 'vic', ['monsoon', 'arctic']);
      for (const [user, size] of [
        ['ula', 30_000],
        ['vic', 60_000],
      ] as const) {
        mkdirSync(join(root, user), { recursive: true });
        writeFileSync(join(root, user, 'out.nc'), Buffer.alloc(size, 1));
      }
      // Both call process a only; process b never saw them.
      const seen: Record<string, any> = {};
      for (const [user, key] of [
        ['ula', ula],
        ['vic', vic],
      ] as const)
        seen[user] = (await call(a, 'POST', '/scratch/v1/rescan', key, {})).body;
      const quota = await call(b, 'PUT', '/scratch/v1/quotas/groups/monsoon', ADMIN, {
        softBytes: 20_000,
        hardBytes: 50_000,
        reason: 'monsoon campaign',
      });
      expect(quota.status).toBe(200);
      const report = (await call(b, 'GET', '/scratch/v1/report', ADMIN)).body;
      const byUser = Object.fromEntries(
        [...report.overSoft, ...report.overHard].map((u: { user: string }) => [u.user, u]),
      );
      expect(byUser.ula).toMatchObject({
        limitsFrom: 'group monsoon',
        hardBytes: 50_000,
        state: 'soft-exceeded',
      });
      expect(byUser.vic).toMatchObject({ limitsFrom: 'group monsoon', state: 'hard-exceeded' });
      expect(report.groups).toEqual([
        { group: 'arctic', members: 1, bytes: seen.vic.usage.bytes, files: 1, limiting: 0 },
        {
          group: 'monsoon',
          members: 2,
          bytes: seen.ula.usage.bytes + seen.vic.usage.bytes,
          files: 2,
          quota: { softBytes: 20_000, hardBytes: 50_000, reason: 'monsoon campaign' },
          limiting: 2,
        },
      ]);
    } finally {
      await b.close({ keepState: true });
      await a.close();
    }
  });
});
