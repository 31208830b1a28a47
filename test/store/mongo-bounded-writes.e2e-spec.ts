/**
 * Bounded writes on the mongo adapter: every `$in` carries at most
 * `idsPerCall` ids, so a scan that removes 500k files (≈18 MB of ids in one
 * unbounded `$in`, past MongoDB's 16 MB command limit) runs as calls of 10k.
 * The test server cannot hold 500k files, so the limit is lowered to 3 and
 * the operations run over a few times that many ids.
 */
import type { AuditEntry, Store, TotalsRefresh } from '@climcat/core';
import { createStore } from '@climcat/store';
import { testEnv } from '../harness/env';
import { recordMongoCalls, inListLengths, type LoggedCall } from './mongo-query-log';
import { dataset, file } from './store-fixtures';

jest.setTimeout(60_000);

const IDS_PER_CALL = 3;
const runId = `${process.pid}_${Date.now().toString(36)}`;
let opened = 0;

const refresh: TotalsRefresh = (current, files) => {
  if (current.fileCount === files.fileCount && current.size === files.size) return null;
  const audit: AuditEntry = {
    id: `a-${current.id}-${files.fileCount}`,
    entityType: 'dataset',
    entityId: current.id,
    action: 'ingest',
    actor: 'test',
    at: '2024-01-01T00:00:00Z',
    changes: [{ path: '/fileCount', from: current.fileCount, to: files.fileCount }],
  };
  return { record: { ...current, fileCount: files.fileCount, size: files.size }, audit };
};

describe('mongo store with idsPerCall 3', () => {
  let store: Store;
  let log: { calls: LoggedCall[]; stop(): void };

  beforeEach(async () => {
    store = await createStore({
      adapter: 'mongo',
      uri: testEnv('TEST_MONGODB_URI'),
      dbName: `bounded_${runId}_${++opened}`,
      idsPerCall: IDS_PER_CALL,
    });
    log = recordMongoCalls();
  });

  afterEach(async () => {
    log.stop();
    await store.close();
  });

  /** Every `$in` sent since the store opened, and the calls that carried one. */
  function inLists(): number[] {
    return log.calls.flatMap((call) => inListLengths(call.args));
  }

  async function seedFiles(count: number, datasets = 2): Promise<string[]> {
    for (let d = 1; d <= datasets; d++) await store.datasets.create(dataset(`ds-${d}`));
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `f-${String(i).padStart(3, '0')}`;
      await store.files.upsert(file(id, `p/${id}.nc`, { datasetId: `ds-${(i % datasets) + 1}`, size: 10 }));
      ids.push(id);
    }
    return ids;
  }

  it('markRemoved of 11 ids (and unknown ones, and repeats) removes all of them in calls of at most 3', async () => {
    const ids = await seedFiles(11);
    log.calls.length = 0;
    const removed = await store.files.markRemoved(
      [...ids, 'ghost-1', ids[0]!, 'ghost-2'],
      '2024-02-01T00:00:00Z',
    );
    expect(removed).toBe(11);
    const updates = log.calls.filter((c) => c.method === 'updateMany');
    expect(updates.length).toBe(Math.ceil(13 / IDS_PER_CALL));
    expect(Math.max(...inLists())).toBeLessThanOrEqual(IDS_PER_CALL);
    for (const id of ids) expect(await store.files.get(id)).toMatchObject({ status: 'removed' });
    expect(await store.files.markRemoved(ids, '2024-02-02T00:00:00Z')).toBe(0);
  });

  it("retire of 10 files refreshes both datasets' totals once, with every $in at most 3", async () => {
    const ids = await seedFiles(12);
    log.calls.length = 0;
    const retired = await store.files.retire(ids.slice(0, 10), '2024-02-01T00:00:00Z', refresh);
    expect(retired.removed).toBe(10);
    expect([...retired.datasetIds].sort()).toEqual(['ds-1', 'ds-2']);
    expect(Math.max(...inLists())).toBeLessThanOrEqual(IDS_PER_CALL);
    // ds-1 keeps f-010, ds-2 keeps f-011.
    expect((await store.datasets.get('ds-1'))?.fileCount).toBe(1);
    expect((await store.datasets.get('ds-2'))?.fileCount).toBe(1);
    // No pending mark is left behind by any slice.
    expect(await store.files.settlePending(refresh)).toEqual([]);
  });

  it('setAvailability and getMany over more ids than one call takes', async () => {
    const ids = await seedFiles(8);
    log.calls.length = 0;
    expect(await store.files.setAvailability(ids, 'offline')).toBe(8);
    expect(await store.files.setAvailability(ids, 'online')).toBe(8);
    for (let d = 3; d <= 8; d++) await store.datasets.create(dataset(`ds-${d}`));
    const wanted = ['ds-8', 'nope', 'ds-1', 'ds-5', 'ds-3', 'ds-8', 'ds-2', 'ds-7'];
    expect((await store.datasets.getMany(wanted)).map((d) => d.id)).toEqual([
      'ds-8',
      'ds-1',
      'ds-5',
      'ds-3',
      'ds-2',
      'ds-7',
    ]);
    expect(Math.max(...inLists())).toBeLessThanOrEqual(IDS_PER_CALL);
  });

  it("a totals check's reads (totalsOf, aggregateMany) over more datasets than one call takes", async () => {
    await seedFiles(14, 7);
    await store.files.markRemoved(['f-000', 'f-007'], '2024-02-01T00:00:00Z');
    log.calls.length = 0;
    const wanted = ['ds-7', 'nope', 'ds-1', 'ds-5', 'ds-3', 'ds-7', 'ds-2', 'ds-6', 'ds-4'];
    const totals = await store.datasets.totalsOf(wanted);
    expect(totals.map((t) => t.id).sort()).toEqual(['ds-1', 'ds-2', 'ds-3', 'ds-4', 'ds-5', 'ds-6', 'ds-7']);
    const aggregates = await store.files.aggregateMany(wanted);
    // ds-1 lost both of its files (f-000, f-007): no present file, no entry.
    expect([...aggregates.keys()].sort()).toEqual(['ds-2', 'ds-3', 'ds-4', 'ds-5', 'ds-6', 'ds-7']);
    expect(Math.max(...inLists())).toBeLessThanOrEqual(IDS_PER_CALL);
    for (const [id, aggregate] of aggregates) expect(aggregate).toEqual(await store.files.aggregate(id));
  });

  it('refuses an idsPerCall outside 1..10000', async () => {
    const uri = testEnv('TEST_MONGODB_URI');
    await expect(createStore({ adapter: 'mongo', uri, dbName: 'never', idsPerCall: 10_001 })).rejects.toThrow(
      'idsPerCall must be an integer in 1..10000, got 10001',
    );
    await expect(createStore({ adapter: 'mongo', uri, dbName: 'never', idsPerCall: 0 })).rejects.toThrow(
      'idsPerCall must be an integer in 1..10000',
    );
  });
});
