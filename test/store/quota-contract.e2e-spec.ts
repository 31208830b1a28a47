/**
 * The QuotaRepository contract on both adapters (sqlite temp file, MongoDB-wire
 * server): quota records, atomic per-subject state updates under concurrency,
 * exemptions with expiry, and the API key `user` field.
 */
import {
  ConflictError,
  type PurgedFileRecord,
  type PurgePlanEntry,
  type QuotaRecord,
  type QuotaReservation,
  type Store,
} from '@climcat/core';
import { MONGO_INDEXES } from '@climcat/store';
import { describeIndexCoverage } from './index-coverage';
import { recordMongoCalls } from './mongo-query-log';
import { storeAdapters } from './store-adapters';
import { apiKey } from './store-fixtures';

jest.setTimeout(60_000);

// The second opener gives another connection to the same database (as a second process would).
const adapters = storeAdapters('quota');

function quota(overrides: Partial<QuotaRecord> = {}): QuotaRecord {
  return {
    kind: 'user',
    name: 'alice',
    softBytes: 100,
    hardBytes: 200,
    reason: 'test',
    updatedAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'admin',
    ...overrides,
  };
}

function reservation(id: string, bytes: number): QuotaReservation {
  return {
    id,
    path: `f-${id}`,
    bytes,
    files: 1,
    target: 'posix',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T01:00:00.000Z',
  };
}

// Every query the mongo adapter sends during this suite, judged at the end against the declared indexes.
const mongoLog = recordMongoCalls();
afterAll(() => mongoLog.stop());

describe.each(adapters)('%s quota repository', (_name, open, openAgain) => {
  let store: Store;

  beforeEach(async () => {
    store = await open();
  });

  afterEach(async () => {
    await store.close();
  });

  it('creates, reads and replaces quotas, returning what was replaced', async () => {
    expect(await store.quotas.getQuota('user', 'alice')).toBeNull();
    expect(await store.quotas.putQuota(quota())).toBeNull();
    const previous = await store.quotas.putQuota(quota({ hardBytes: 300, reason: 'more' }));
    expect(previous).toEqual(quota());
    expect(await store.quotas.getQuota('user', 'alice')).toEqual(quota({ hardBytes: 300, reason: 'more' }));
    // A limit left out of the replacement is gone, not kept from before.
    await store.quotas.putQuota(quota({ softFiles: 5 }));
    await store.quotas.putQuota(quota());
    expect((await store.quotas.getQuota('user', 'alice'))?.softFiles).toBeUndefined();
  });

  it('keeps users and groups of the same name apart and reads several groups at once', async () => {
    await store.quotas.putQuota(quota({ kind: 'group', name: 'eucp', hardBytes: 999 }));
    await store.quotas.putQuota(quota({ kind: 'group', name: 'smhi', hardBytes: 5 }));
    await store.quotas.putQuota(quota({ kind: 'user', name: 'eucp' }));
    const groups = await store.quotas.getQuotas('group', ['eucp', 'smhi', 'none']);
    expect(groups.map((g) => [g.name, g.hardBytes]).sort()).toEqual([
      ['eucp', 999],
      ['smhi', 5],
    ]);
    expect((await store.quotas.getQuota('user', 'eucp'))?.hardBytes).toBe(200);
    expect(await store.quotas.getQuotas('group', [])).toEqual([]);
  });

  it('lists the quotas and usage states of one kind in name order', async () => {
    await store.quotas.putQuota(quota({ name: 'zoe' }));
    await store.quotas.putQuota(quota({ name: 'al.i+ce' }));
    await store.quotas.putQuota(quota({ kind: 'group', name: 'eucp' }));
    expect((await store.quotas.listQuotas('user')).map((q) => q.name)).toEqual(['al.i+ce', 'zoe']);
    expect(await store.quotas.listQuotas('group')).toEqual([quota({ kind: 'group', name: 'eucp' })]);
    for (const [name, bytes] of [
      ['zoe', 5],
      ['bob', 7],
    ] as const)
      await store.quotas.update('user', name, (current) => ({
        state: { ...current, usage: { bytes, files: 1 } },
        result: undefined,
      }));
    const states = await store.quotas.listStates('user');
    expect(states.map((s) => [s.name, s.usage.bytes])).toEqual([
      ['bob', 7],
      ['zoe', 5],
    ]);
    expect(states[0]).toEqual({
      kind: 'user',
      name: 'bob',
      usage: { bytes: 7, files: 1 },
      softSince: {},
      reservations: [],
    });
    expect(await store.quotas.listStates('group')).toEqual([]);
  });

  it('starts from an empty state and stores what update returns; null stores nothing', async () => {
    expect(await store.quotas.getState('user', 'bob')).toBeNull();
    const seen = await store.quotas.update('user', 'bob', (current) => ({ state: null, result: current }));
    expect(seen).toEqual({
      kind: 'user',
      name: 'bob',
      usage: { bytes: 0, files: 0 },
      softSince: {},
      reservations: [],
    });
    expect(await store.quotas.getState('user', 'bob')).toBeNull();
    await store.quotas.update('user', 'bob', (current) => ({
      state: { ...current, usage: { bytes: 7, files: 1 }, softSince: { bytes: '2026-01-01T00:00:00.000Z' } },
      result: undefined,
    }));
    expect(await store.quotas.getState('user', 'bob')).toMatchObject({
      usage: { bytes: 7, files: 1 },
      softSince: { bytes: '2026-01-01T00:00:00.000Z' },
      reservations: [],
    });
  });

  it("keeps a user's groups with the state, absent until set", async () => {
    await store.quotas.update('user', 'gwen', (current) => ({
      state: { ...current, usage: { bytes: 1, files: 1 } },
      result: undefined,
    }));
    expect((await store.quotas.getState('user', 'gwen'))?.groups).toBeUndefined();
    await store.quotas.update('user', 'gwen', (current) => ({
      state: { ...current, groups: ['arctic', 'monsoon'] },
      result: undefined,
    }));
    expect((await store.quotas.getState('user', 'gwen'))?.groups).toEqual(['arctic', 'monsoon']);
    const listed = (await store.quotas.listStates('user')).find((s) => s.name === 'gwen');
    expect(listed).toMatchObject({ groups: ['arctic', 'monsoon'], usage: { bytes: 1, files: 1 } });
  });

  it('never lets 50 concurrent reservations, on two connections, add up past a limit', async () => {
    const other = await openAgain();
    try {
      const limit = 1000;
      const attempts = Array.from({ length: 50 }, (_, i) => {
        const repo = (i % 2 === 0 ? store : other).quotas;
        return repo.update('user', 'carol', (current) => {
          const held = current.reservations.reduce((sum, r) => sum + r.bytes, 0);
          if (held + 60 > limit) return { state: null, result: false };
          return {
            state: { ...current, reservations: [...current.reservations, reservation(`r${i}`, 60)] },
            result: true,
          };
        });
      });
      const granted = (await Promise.all(attempts)).filter(Boolean).length;
      const state = await store.quotas.getState('user', 'carol');
      const held = state!.reservations.reduce((sum, r) => sum + r.bytes, 0);
      expect(granted).toBe(16); // floor(1000 / 60)
      expect(state!.reservations).toHaveLength(granted);
      expect(held).toBeLessThanOrEqual(limit);
    } finally {
      await other.close();
    }
  });

  it('lists only unexpired exemptions, newest first, and refuses a duplicate id', async () => {
    const base = {
      kind: 'user' as const,
      name: 'dave',
      scope: 'purge' as const,
      reason: 'r',
      createdBy: 'admin',
    };
    await store.quotas.createExemption({
      ...base,
      id: 'e1',
      expiresAt: '2026-02-01T00:00:00.000Z',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await store.quotas.createExemption({
      ...base,
      id: 'e2',
      expiresAt: '2026-03-01T00:00:00.000Z',
      createdAt: '2026-01-02T00:00:00.000Z',
    });
    const at = (iso: string) => new Date(iso);
    expect(
      (await store.quotas.listExemptions('user', 'dave', at('2026-01-15T00:00:00Z'))).map((e) => e.id),
    ).toEqual(['e2', 'e1']);
    expect(
      (await store.quotas.listExemptions('user', 'dave', at('2026-02-15T00:00:00Z'))).map((e) => e.id),
    ).toEqual(['e2']);
    expect(await store.quotas.listExemptions('group', 'dave', at('2026-01-15T00:00:00Z'))).toEqual([]);
    await expect(
      store.quotas.createExemption({
        ...base,
        id: 'e1',
        expiresAt: '2026-02-01T00:00:00.000Z',
        createdAt: '2026-01-01T00:00:00.000Z',
      }),
    ).rejects.toThrow(ConflictError);
  });

  it('keeps a pattern on an exemption and approves a requested one exactly once', async () => {
    const requested = {
      id: 'x1',
      kind: 'user' as const,
      name: 'erin',
      scope: 'purge' as const,
      pattern: 'results/**',
      status: 'requested' as const,
      reason: 'paper',
      expiresAt: '2026-02-01T00:00:00.000Z',
      createdAt: '2026-01-01T00:00:00.000Z',
      createdBy: 'erin-key',
    };
    await store.quotas.createExemption(requested);
    expect(await store.quotas.getExemption('x1')).toEqual(requested);
    expect(await store.quotas.getExemption('nope')).toBeNull();
    const approved = await store.quotas.approveExemption('x1', 'admin', '2026-01-02T00:00:00.000Z');
    expect(approved).toEqual({
      ...requested,
      status: 'approved',
      approvedBy: 'admin',
      approvedAt: '2026-01-02T00:00:00.000Z',
    });
    expect(await store.quotas.getExemption('x1')).toEqual(approved);
    expect(await store.quotas.approveExemption('x1', 'other', '2026-01-03T00:00:00.000Z')).toBeNull();
    expect(await store.quotas.approveExemption('nope', 'admin', '2026-01-03T00:00:00.000Z')).toBeNull();
  });

  it('replaces a user stored purge plan as a whole, per user', async () => {
    const entry = (path: string, extra: Partial<PurgePlanEntry> = {}): PurgePlanEntry => ({
      user: 'fay',
      path,
      size: 10,
      atimeMs: 1_000,
      mtimeMs: 900,
      plannedAt: '2026-01-01T00:00:00.000Z',
      ...extra,
    });
    expect(await store.quotas.listPurgePlan('fay')).toEqual([]);
    const odd = 'run 1/new\nline \\xff.nc';
    await store.quotas.savePurgePlan('fay', [entry('a.nc'), entry(odd)]);
    await store.quotas.savePurgePlan('gus', [entry('a.nc', { user: 'gus' })]);
    const byPath = (list: PurgePlanEntry[]) => [...list].sort((a, b) => a.path.localeCompare(b.path));
    expect(byPath(await store.quotas.listPurgePlan('fay'))).toEqual(byPath([entry('a.nc'), entry(odd)]));
    // A file left out leaves the plan; a changed entry replaces the old one.
    const notified = entry('a.nc', { notifiedAt: '2026-01-02T00:00:00.000Z' });
    await store.quotas.savePurgePlan('fay', [notified]);
    expect(await store.quotas.listPurgePlan('fay')).toEqual([notified]);
    expect(await store.quotas.listPurgePlan('gus')).toHaveLength(1);
    await store.quotas.savePurgePlan('fay', []);
    expect(await store.quotas.listPurgePlan('fay')).toEqual([]);
  });

  it('records purged files, lists them newest first in pages, and prunes old ones', async () => {
    const record = (id: string, purgedAt: string, user = 'hal'): PurgedFileRecord => ({
      id,
      user,
      path: `${id}.nc`,
      size: 5,
      atime: '2025-01-01T00:00:00.000Z',
      mtime: '2025-01-01T00:00:00.000Z',
      purgedAt,
      reason: 'not used for 56 days',
      runId: 'run-1',
    });
    await store.quotas.recordPurged([
      record('p1', '2026-01-01T00:00:00.000Z'),
      record('p2', '2026-01-03T00:00:00.000Z'),
      record('p3', '2026-01-02T00:00:00.000Z'),
      record('q1', '2026-01-02T00:00:00.000Z', 'ivy'),
    ]);
    await store.quotas.recordPurged([]);
    const first = await store.quotas.listPurged('hal', { limit: 2, offset: 0 });
    expect(first.total).toBe(3);
    expect(first.items.map((r) => r.id)).toEqual(['p2', 'p3']);
    expect(first.items[0]).toEqual(record('p2', '2026-01-03T00:00:00.000Z'));
    expect((await store.quotas.listPurged('hal', { limit: 2, offset: 2 })).items.map((r) => r.id)).toEqual([
      'p1',
    ]);
    await expect(store.quotas.recordPurged([record('p1', '2026-01-05T00:00:00.000Z')])).rejects.toThrow(
      ConflictError,
    );
    expect(await store.quotas.prunePurged(new Date('2026-01-02T12:00:00Z'))).toBe(3);
    expect((await store.quotas.listPurged('hal', { limit: 10, offset: 0 })).items.map((r) => r.id)).toEqual([
      'p2',
    ]);
  });

  it('grants a lease to one holder at a time across two connections, until it expires', async () => {
    const other = await openAgain();
    try {
      const t = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
      const both = await Promise.all([
        store.quotas.acquireLease('purge', 'p1', t(10), t(0)),
        other.quotas.acquireLease('purge', 'p2', t(10), t(0)),
      ]);
      expect(both.filter(Boolean)).toHaveLength(1);
      const [winner, loser] = both[0] ? ['p1', 'p2'] : ['p2', 'p1'];
      // The holder renews; the other waits until it has expired or been released.
      expect(await store.quotas.acquireLease('purge', winner, t(20), t(5))).toBe(true);
      expect(await other.quotas.acquireLease('purge', loser, t(30), t(15))).toBe(false);
      expect(await other.quotas.acquireLease('purge', loser, t(30), t(20))).toBe(true);
      expect(await store.quotas.acquireLease('purge', winner, t(40), t(21))).toBe(false);
      await store.quotas.releaseLease('purge', winner); // not the holder any more: no effect
      expect(await store.quotas.acquireLease('purge', winner, t(40), t(21))).toBe(false);
      await other.quotas.releaseLease('purge', loser);
      expect(await store.quotas.acquireLease('purge', winner, t(40), t(21))).toBe(true);
      expect(await other.quotas.acquireLease('other-job', loser, t(40), t(21))).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('gives an expired lease to exactly one of many contenders at once, every round', async () => {
    const others = [await openAgain(), await openAgain()];
    try {
      const t = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
      expect(await store.quotas.acquireLease('purge', 'first', t(1), t(0))).toBe(true);
      for (let round = 1; round <= 20; round++) {
        // Each round the lease has expired: the takeover is the compare-and-set, raced 40 ways.
        const won = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            [store, ...others][i % 3]!.quotas.acquireLease('purge', `r${round}-${i}`, t(round + 1), t(round)),
          ),
        );
        expect(won.filter(Boolean)).toHaveLength(1);
      }
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it('stores an API key user, and keeps it absent on keys created without one', async () => {
    await store.apiKeys.create(apiKey('k1', { user: 'alice' }));
    await store.apiKeys.create(apiKey('k2'));
    expect((await store.apiKeys.get('k1'))?.user).toBe('alice');
    expect((await store.apiKeys.get('k2'))?.user).toBeUndefined();
  });
});

describeIndexCoverage(mongoLog, MONGO_INDEXES);
