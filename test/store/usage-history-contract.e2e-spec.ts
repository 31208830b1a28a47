/**
 * The UsageHistoryRepository contract on both adapters (sqlite temp file,
 * MongoDB-wire server): one point per subject and day where the last
 * measurement wins, ranges oldest first, users and groups apart, pruning by
 * day, and drift records newest first.
 */
import { ConflictError, type Store, type UsagePoint } from '@climcat/core';
import { MONGO_INDEXES } from '@climcat/store';
import { describeIndexCoverage } from './index-coverage';
import { recordMongoCalls } from './mongo-query-log';
import { storeAdapters } from './store-adapters';

jest.setTimeout(60_000);

const adapters = storeAdapters('usage');

function point(day: string, bytes: number, overrides: Partial<UsagePoint> = {}): UsagePoint {
  return {
    kind: 'user',
    name: 'alice',
    day,
    bytes,
    files: bytes / 10,
    at: `${day}T12:00:00.000Z`,
    ...overrides,
  };
}

// Every query the mongo adapter sends during this suite, judged at the end against the declared indexes.
const mongoLog = recordMongoCalls();
afterAll(() => mongoLog.stop());

describe.each(adapters)('%s usage history repository', (_name, open) => {
  let store: Store;

  beforeEach(async () => {
    store = await open();
  });

  afterEach(async () => {
    await store.close();
  });

  it('keeps one point per subject and day, the last measurement of the day winning', async () => {
    const h = store.usageHistory;
    await h.putPoint(point('2026-03-01', 100));
    await h.putPoint(point('2026-03-01', 300, { at: '2026-03-01T23:00:00.000Z', groups: ['eucp'] }));
    // Measured earlier than what is stored (a slow writer): it does not replace the later value.
    await h.putPoint(point('2026-03-01', 200, { at: '2026-03-01T13:00:00.000Z' }));
    await h.putPoint(point('2026-03-02', 400));
    expect(await h.points('user', 'alice', '2026-03-01', '2026-03-31')).toEqual([
      point('2026-03-01', 300, { at: '2026-03-01T23:00:00.000Z', groups: ['eucp'] }),
      point('2026-03-02', 400),
    ]);
    expect(await h.points('user', 'alice', '2026-03-02', '2026-03-02')).toEqual([point('2026-03-02', 400)]);
    expect(await h.points('user', 'alice', '2026-04-01', '2026-04-30')).toEqual([]);
  });

  it('keeps users and groups of the same name apart and lists one day of a kind', async () => {
    const h = store.usageHistory;
    await h.putPoint(point('2026-03-01', 100));
    await h.putPoint(point('2026-03-01', 500, { kind: 'group' }));
    await h.putPoint(point('2026-03-01', 700, { name: 'bob' }));
    expect((await h.points('group', 'alice', '2026-01-01', '2026-12-31')).map((p) => p.bytes)).toEqual([500]);
    expect((await h.pointsOfDay('user', '2026-03-01')).map((p) => [p.name, p.bytes])).toEqual([
      ['alice', 100],
      ['bob', 700],
    ]);
  });

  it('prunes points of days before a day, for every subject', async () => {
    const h = store.usageHistory;
    await h.putPoint(point('2025-02-28', 10));
    await h.putPoint(point('2025-03-01', 20, { kind: 'group', name: 'eucp' }));
    await h.putPoint(point('2025-03-02', 30));
    expect(await h.prune('2025-03-02')).toBe(2);
    expect((await h.points('user', 'alice', '2000-01-01', '2100-01-01')).map((p) => p.day)).toEqual([
      '2025-03-02',
    ]);
    expect(await h.points('group', 'eucp', '2000-01-01', '2100-01-01')).toEqual([]);
    expect(await h.prune('2025-03-02')).toBe(0);
  });

  it('records drift and lists it newest first, per user or for everyone; a duplicate id conflicts', async () => {
    const h = store.usageHistory;
    const drift = (id: string, user: string, at: string) => ({
      id,
      user,
      at,
      before: { bytes: 1, files: 1 },
      after: { bytes: 2, files: 3 },
    });
    await h.recordDrift([
      drift('d1', 'alice', '2026-03-01T00:00:00.000Z'),
      drift('d2', 'bob', '2026-03-02T00:00:00.000Z'),
    ]);
    await h.recordDrift([drift('d3', 'alice', '2026-03-03T00:00:00.000Z')]);
    expect((await h.listDrift({ limit: 10 })).map((d) => d.id)).toEqual(['d3', 'd2', 'd1']);
    expect(await h.listDrift({ user: 'alice', limit: 1 })).toEqual([
      drift('d3', 'alice', '2026-03-03T00:00:00.000Z'),
    ]);
    await expect(h.recordDrift([drift('d1', 'carol', '2026-03-04T00:00:00.000Z')])).rejects.toBeInstanceOf(
      ConflictError,
    );
  });
});

describeIndexCoverage(mongoLog, MONGO_INDEXES);
