/**
 * The promotion-job repository contract (scratch promotions, issue 12):
 * identical behaviour on the SQLite adapter and the MongoDB adapter.
 */
import { ConflictError, NotFoundError, type PromotionRecord, type Store } from '@climcat/core';
import { MONGO_INDEXES } from '@climcat/store';
import { describeIndexCoverage } from './index-coverage';
import { recordMongoCalls } from './mongo-query-log';
import { storeAdapters } from './store-adapters';

jest.setTimeout(30_000);

const adapters = storeAdapters('promotion');

function job(id: string, over: Partial<PromotionRecord> = {}): PromotionRecord {
  return {
    id,
    user: 'alice',
    datasetId: `derived.alice.${id}.v1`,
    state: 'queued',
    phase: 'moving',
    files: { done: 0, total: 2 },
    bytes: { done: 0, total: 2048 },
    directory: `derived/CMIP5/eucp/alice/${id}/v1`,
    moved: { renamed: 0, copied: 0 },
    moves: [],
    datasetCreated: false,
    createdAt: '2026-06-01T00:00:00.000Z',
    updatedAt: '2026-06-01T00:00:00.000Z',
    ...over,
  };
}

// Every query the mongo adapter sends during this suite, judged at the end against the declared indexes.
const mongoLog = recordMongoCalls();
afterAll(() => mongoLog.stop());

describe.each(adapters)('%s store: promotion jobs', (_adapter, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => {
    await store.close();
  });

  it('creates a job and reads it back exactly; a duplicate id is a conflict', async () => {
    const record = job('p-1', { current: { source: '/s/a.nc', target: '/d/a.nc' } });
    await store.promotions.create(record);
    expect(await store.promotions.get('p-1')).toStrictEqual(record);
    expect(await store.promotions.get('nope')).toBeNull();
    await expect(store.promotions.create(job('p-1'))).rejects.toBeInstanceOf(ConflictError);
  });

  it('shallow-merges updates (moves, progress, state) and returns the merged record', async () => {
    await store.promotions.create(job('p-1'));
    const moves: PromotionRecord['moves'] = [
      { source: '/s/a.nc', target: '/d/a.nc', mode: 'copy', size: 1024, sha256: 'ab'.repeat(32) },
    ];
    const updated = await store.promotions.update('p-1', {
      state: 'running',
      phase: 'recording',
      files: { done: 1, total: 2 },
      moves,
      datasetCreated: true,
      updatedAt: '2026-06-01T00:00:05.000Z',
    });
    const expected = {
      ...job('p-1'),
      state: 'running',
      phase: 'recording',
      files: { done: 1, total: 2 },
      moves,
      datasetCreated: true,
      updatedAt: '2026-06-01T00:00:05.000Z',
    };
    expect(updated).toStrictEqual(expected);
    expect(await store.promotions.get('p-1')).toStrictEqual(expected);
    await expect(store.promotions.update('nope', { state: 'done' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("lists one user's jobs newest first, and the unfinished jobs of everyone", async () => {
    await store.promotions.create(job('p-1', { createdAt: '2026-06-01T00:00:00.000Z', state: 'done' }));
    await store.promotions.create(job('p-2', { createdAt: '2026-06-03T00:00:00.000Z', state: 'running' }));
    await store.promotions.create(job('p-3', { createdAt: '2026-06-02T00:00:00.000Z', state: 'failed' }));
    await store.promotions.create(job('p-4', { user: 'bob', state: 'queued' }));
    const page = await store.promotions.listByUser('alice', { limit: 10, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.items.map((j) => j.id)).toEqual(['p-2', 'p-3', 'p-1']);
    expect(
      (await store.promotions.listByUser('alice', { limit: 1, offset: 1 })).items.map((j) => j.id),
    ).toEqual(['p-3']);
    expect((await store.promotions.listUnfinished()).map((j) => j.id).sort()).toEqual(['p-2', 'p-4']);
  });
});

describeIndexCoverage(mongoLog, MONGO_INDEXES);
