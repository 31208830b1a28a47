import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PurgePolicy } from '@climcat/core';
import { TreeScanner } from '../usage/tree-scan';
import { planPurge, runPurge } from './purge-planner';

const DAY = 24 * 3600 * 1000;
const NOW = new Date('2026-06-01T00:00:00Z');
const policy: PurgePolicy = { maxIdleDays: 56, noticeDays: 7, noatime: false };

function aged(path: string, days: number, atimeDays = days): void {
  utimesSync(path, new Date(NOW.getTime() - atimeDays * DAY), new Date(NOW.getTime() - days * DAY));
}

describe('purge planning and runs', () => {
  const scanner = new TreeScanner({ workers: 2 });
  let base: string;
  let user: string;
  let outside: string;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'climcat-purge-'));
    user = join(base, 'ann');
    outside = join(base, 'ben');
    mkdirSync(join(user, 'old', 'deeper'), { recursive: true });
    mkdirSync(outside);
    const files: [string, number, number?][] = [
      ['old/a.nc', 100],
      ['old/deeper/b with space.nc', 60],
      ['old/soon.nc', 52],
      ['fresh.nc', 3],
      ['read-recently.nc', 100, 2],
    ];
    for (const [rel, days, atime] of files) {
      writeFileSync(join(user, rel), Buffer.alloc(1000));
      aged(join(user, rel), days, atime);
    }
    writeFileSync(join(outside, 'victim.nc'), Buffer.alloc(1000));
    aged(join(outside, 'victim.nc'), 400);
    symlinkSync(outside, join(user, 'link-to-ben'));
    symlinkSync(join(outside, 'victim.nc'), join(user, 'victim-link.nc'));
  });

  afterEach(() => rmSync(base, { recursive: true, force: true }));
  afterAll(() => scanner.close());

  it('plans idle files by due date, never through symlinks, and leaves used ones out', async () => {
    const plan = await planPurge(scanner, user, policy, () => undefined, NOW);
    expect(plan.files.map((f) => [f.path, f.action])).toEqual([
      ['old/a.nc', 'plan'],
      ['old/deeper/b with space.nc', 'plan'],
      ['old/soon.nc', 'plan'],
    ]);
    // Never shown before: due one notice period from now at the earliest, even when idle long enough already.
    for (const f of plan.files) expect(f.dueMs).toBe(NOW.getTime() + 7 * DAY);
    // The notice counts from when a file was first shown, not from each new plan.
    const later = await planPurge(scanner, user, policy, () => NOW, new Date(NOW.getTime() + DAY));
    expect(later.files.find((f) => f.path === 'old/soon.nc')?.dueMs).toBe(NOW.getTime() + 7 * DAY);
    expect(plan.bytes).toBe(3000);
    expect(plan.next).toEqual(new Date(plan.files[0]?.dueMs ?? NaN));
  });

  it('deletes what is due after the notice, and keeps a file touched after the plan', async () => {
    const shownAt = new Date(NOW.getTime() - 10 * DAY);
    const plan = await planPurge(
      scanner,
      user,
      policy,
      (p) => (p.startsWith('old/') ? shownAt : undefined),
      NOW,
    );
    expect(plan.files.filter((f) => f.action === 'purge').map((f) => f.path)).toEqual([
      'old/a.nc',
      'old/deeper/b with space.nc',
    ]);
    // Someone reads b after the plan was made.
    utimesSync(join(user, 'old/deeper/b with space.nc'), NOW, new Date(NOW.getTime() - 60 * DAY));
    const dry = await runPurge(user, plan, NOW, { policy, dryRun: true });
    expect(dry.purged.map((p) => p.path)).toEqual(['old/a.nc']);
    expect(existsSync(join(user, 'old/a.nc'))).toBe(true);
    const run = await runPurge(user, plan, NOW, { policy });
    expect(run.purged.map((p) => p.path)).toEqual(['old/a.nc']);
    expect(run.purged[0]?.reason).toContain('56 days');
    expect(run.kept).toEqual([
      { path: 'old/deeper/b with space.nc', why: 'used or changed after the plan was made' },
    ]);
    expect(existsSync(join(user, 'old/a.nc'))).toBe(false);
    expect(existsSync(join(user, 'old/deeper/b with space.nc'))).toBe(true);
    expect(existsSync(join(outside, 'victim.nc'))).toBe(true);
  });

  it('refuses a path whose directory was swapped for a symlink leaving the user directory', async () => {
    const shownAt = new Date(NOW.getTime() - 10 * DAY);
    const plan = await planPurge(scanner, user, policy, () => shownAt, NOW);
    // After planning, old/ is replaced by a link to another user's directory holding a same-named, same-aged file.
    renameSync(join(user, 'old'), join(base, 'old-moved'));
    writeFileSync(join(outside, 'a.nc'), Buffer.alloc(1000));
    aged(join(outside, 'a.nc'), 100);
    symlinkSync(outside, join(user, 'old'));
    const run = await runPurge(user, plan, NOW, { policy });
    expect(run.purged).toEqual([]);
    expect(run.kept.find((k) => k.path === 'old/a.nc')?.why).toContain('symlink');
    expect(existsSync(join(outside, 'a.nc'))).toBe(true);
  });

  it('judges by mtime on noatime mounts', async () => {
    const plan = await planPurge(scanner, user, { ...policy, noatime: true }, () => undefined, NOW);
    expect(plan.files.map((f) => f.path)).toContain('read-recently.nc');
  });
});
