import type { PurgePlanEntry, PurgePolicy } from '@climcat/core';
import type { IdleFile } from '../usage/tree-scan';
import { PURGE_MARKER } from './purge-marker';
import { storedPlan } from './purge.service';

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const policy: PurgePolicy = { maxIdleDays: 56, noticeDays: 7, noatime: false };
const idle = (path: string, idleDays = 100): IdleFile => ({
  path,
  size: 10,
  atimeMs: NOW - idleDays * DAY,
  mtimeMs: NOW - idleDays * DAY,
});
const entry = (f: IdleFile, extra: Partial<PurgePlanEntry> = {}): PurgePlanEntry => ({
  user: 'ann',
  path: f.path as string,
  size: f.size,
  atimeMs: f.atimeMs,
  mtimeMs: f.mtimeMs,
  plannedAt: new Date(NOW - 10 * DAY).toISOString(),
  ...extra,
});
const never = () => false;

describe('the stored purge plan', () => {
  it('gives no notice time to a file whose notice was never delivered', () => {
    const f = idle('a.nc');
    const { plan } = storedPlan([f], [entry(f)], never, policy, new Date(NOW));
    expect(plan.files[0]).toMatchObject({ action: 'plan', dueMs: NOW + 7 * DAY });
  });

  it('deletes only a day after the due-soon notice, counting the notice from its delivery', () => {
    const f = idle('a.nc');
    const told = new Date(NOW - 8 * DAY).toISOString();
    const noSoon = storedPlan([f], [entry(f, { notifiedAt: told })], never, policy, new Date(NOW)).plan;
    expect(noSoon.files[0]).toMatchObject({ action: 'plan', dueMs: NOW + DAY });
    const soon = new Date(NOW - DAY).toISOString();
    const ready = storedPlan(
      [f],
      [entry(f, { notifiedAt: told, dueSoonNotifiedAt: soon })],
      never,
      policy,
      new Date(NOW),
    ).plan;
    expect(ready.files[0]).toMatchObject({ action: 'purge', dueMs: NOW });
  });

  it('drops stored entries of files that changed, and leaves out exempt files and the marker', () => {
    const f = idle('a.nc');
    const changed = { ...f, size: 11 };
    const result = storedPlan(
      [changed, idle('keep/b.nc'), idle(PURGE_MARKER)],
      [entry(f, { notifiedAt: new Date(NOW - 8 * DAY).toISOString() })],
      (p) => p.startsWith('keep/'),
      policy,
      new Date(NOW),
    );
    expect(result.entries.size).toBe(0);
    expect(result.exempt).toBe(1);
    expect(result.plan.files.map((p) => [p.path, p.action])).toEqual([['a.nc', 'plan']]);
  });
});
