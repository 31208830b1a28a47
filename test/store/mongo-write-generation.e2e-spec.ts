/**
 * The generation counter's write bracket (`WriteGeneration.begin`/`bump`/
 * `settle`, mongo-count-cache.ts) on the test server, and what a snapshot
 * search does with it: while a dataset write is in flight (begun, not bumped)
 * its counts are computed in its snapshot and not cached; a `pending` left by
 * a process that died mid-write is reset once it has not moved for the max
 * age. Here and not beside the code: it needs the MongoDB-wire server, which
 * only the e2e harness starts.
 */
import { type DatasetQuery, type DatasetSearchResult, type Store } from '@climcat/core';
import { createStore } from '@climcat/store';
import { type GenerationDocument, WriteGeneration } from '@climcat/store/mongo/mongo-count-cache';
import { generationSchema, META_COLLECTION } from '@climcat/store/mongo/schemas';
import mongoose, { type Connection, type Model } from 'mongoose';
import { testEnv } from '../harness/env';
import { recordMongoCalls } from './mongo-query-log';
import { dataset, EVERYTHING } from './store-fixtures';

const runId = `${process.pid}_${Date.now().toString(36)}`;
let opened = 0;
const MAX_AGE = 60_000;

describe('WriteGeneration', () => {
  let connection: Connection;
  let model: Model<GenerationDocument>;
  let clock = 0;
  const now = () => clock;
  /** A process's view of the counter (several share one database). */
  const view = () => new WriteGeneration(model, 'datasets', MAX_AGE, now);

  beforeEach(async () => {
    clock = 0;
    connection = await mongoose
      .createConnection(testEnv('TEST_MONGODB_URI'), { dbName: `generation_${runId}_${++opened}` })
      .asPromise();
    model = connection.model<GenerationDocument>('Generation', generationSchema);
  });
  afterEach(async () => {
    await connection.close();
  });

  it('starts at generation 0 with nothing pending, and counts a write from its begin to its bump', async () => {
    const generation = view();
    expect(await generation.state()).toEqual({ generation: 0, pending: 0 });
    await generation.begin();
    expect(await generation.state()).toEqual({ generation: 0, pending: 1 });
    await generation.bump();
    expect(await generation.state()).toEqual({ generation: 1, pending: 0 });
    expect(await generation.current()).toBe(1);
  });

  it('reads a counter written by an earlier release (no pending field) as nothing pending', async () => {
    await connection.collection(META_COLLECTION).insertOne({ _id: 'datasets' as never, generation: 7 });
    expect(await view().state()).toEqual({ generation: 7, pending: 0 });
  });

  it('keeps count of nested and concurrent writes from several processes, first upserts included', async () => {
    const a = view();
    const b = view();
    // 20 begins at once on a missing document: the losing upserts collide and retry.
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).begin()));
    expect(await a.state()).toEqual({ generation: 0, pending: 20 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).bump()));
    expect(await b.state()).toEqual({ generation: 12, pending: 8 });
    // A write nested inside another's bracket (the delete cascade's transaction and its parts).
    await a.begin();
    await b.bump();
    expect(await a.state()).toEqual({ generation: 13, pending: 8 });
    await Promise.all(Array.from({ length: 8 }, () => a.bump()));
    expect(await a.state()).toEqual({ generation: 21, pending: 0 });
  });

  it('settles a pending left by a write that never bumped once it has not moved for the max age', async () => {
    const dead = view();
    await dead.begin(); // ...and its process dies
    const searcher = view();
    const stuck = await searcher.state();
    expect(await searcher.settle(stuck)).toBe(false); // first sighting
    clock = MAX_AGE;
    expect(await searcher.settle(await searcher.state())).toBe(false);
    expect(await searcher.state()).toEqual({ generation: 0, pending: 1 });
    clock = MAX_AGE + 1;
    expect(await searcher.settle(await searcher.state())).toBe(true);
    // The reset moves the generation on: nothing cached under the stuck state is taken for the new one.
    expect(await searcher.state()).toEqual({ generation: 1, pending: 0 });
  });

  it('waits a full max age again whenever the state moves, and never resets a write begun since', async () => {
    const writer = view();
    const searcher = view();
    await writer.begin(); // stuck
    expect(await searcher.settle(await searcher.state())).toBe(false);
    clock = 50_000;
    await writer.begin(); // a live write: the state moved
    const moved = await searcher.state();
    expect(await searcher.settle(moved)).toBe(false);
    clock = 50_000 + MAX_AGE;
    expect(await searcher.settle(await searcher.state())).toBe(false);
    // A sighting ripe for reset, but a write moves the state before the reset runs: it is kept.
    await writer.bump();
    clock = 50_000 + MAX_AGE + 1;
    expect(await searcher.settle(moved)).toBe(false);
    expect(await searcher.state()).toEqual({ generation: 1, pending: 1 });
  });

  it('lets only one of two processes with the same stale sighting reset (no ABA with a write begun between)', async () => {
    await view().begin(); // stuck
    const x = view();
    const y = view();
    const stuck = await x.state();
    await x.settle(stuck);
    await y.settle(stuck);
    clock = MAX_AGE + 1;
    expect(await x.settle(stuck)).toBe(true);
    await view().begin(); // a live write, pending 1 again
    expect(await y.settle(stuck)).toBe(false);
    expect(await x.state()).toEqual({ generation: 1, pending: 1 });
  });
});

describe('mongo snapshot search with a dataset write in flight', () => {
  const uri = () => testEnv('TEST_MONGODB_URI');
  const query: DatasetQuery = {
    access: EVERYTHING,
    facets: { experiment: ['flight'] },
    facetCounts: ['model'],
    limit: 10,
  };
  const agrees = (result: DatasetSearchResult, total: number) => {
    const counted = (result.facets.model ?? []).reduce((sum, c) => sum + c.count, 0);
    expect([result.total, result.items.length, counted]).toEqual([total, total, total]);
  };
  let dbName: string;
  let raw: Connection;
  let store: Store;
  let log: ReturnType<typeof recordMongoCalls>;
  /** The dataset commands a search sent (sorted): counts recomputed or not. */
  async function sentBy(
    search: () => Promise<DatasetSearchResult>,
  ): Promise<[DatasetSearchResult, string[]]> {
    const before = log.calls.length;
    const result = await search();
    const sent = log.calls
      .slice(before)
      .filter((call) => call.collection === 'datasets')
      .map((call) => call.method)
      .sort();
    return [result, sent];
  }
  const meta = () => raw.collection<{ _id: string }>(META_COLLECTION);
  /** What a write does before its data (another process's begin, here by hand). */
  const begin = () => meta().updateOne({ _id: 'datasets' }, { $inc: { pending: 1 } });
  const bump = () => meta().updateOne({ _id: 'datasets' }, { $inc: { generation: 1, pending: -1 } });
  /** The data of a write in flight: a copy of a stored dataset under another id, inserted directly. */
  async function insertCopy(of: string, id: string): Promise<void> {
    const { _id: _, ...doc } = (await raw.collection('datasets').findOne({ id: of }))!;
    await raw.collection('datasets').insertOne({ ...doc, id });
  }

  async function open(transactions: 'auto' | 'off'): Promise<void> {
    dbName = `flight_${runId}_${++opened}`;
    store = await createStore({ adapter: 'mongo', uri: uri(), dbName, transactions });
    raw = await mongoose.createConnection(uri(), { dbName }).asPromise();
    for (const id of ['f-1', 'f-2']) {
      await store.datasets.create(dataset(id, { facets: { model: 'A', experiment: 'flight' } }));
    }
  }
  beforeEach(() => {
    log = recordMongoCalls();
  });
  afterEach(async () => {
    log.stop();
    await store?.close();
    await raw?.close();
  });

  it('with transactions: counts in its snapshot and caches nothing until the write has bumped', async () => {
    await open('auto');
    agrees(await store.datasets.search(query), 2);
    const [cachedResult, cached] = await sentBy(() => store.datasets.search(query));
    agrees(cachedResult, 2);
    expect(cached).toEqual(['find']);

    await begin();
    // The write has begun and its data is not there yet: same data as the cached counts, but a
    // snapshot cannot tell whether it is before or after the data, so it counts.
    const [before, sentBefore] = await sentBy(() => store.datasets.search(query));
    agrees(before, 2);
    expect(sentBefore).toEqual(['aggregate', 'countDocuments', 'find']);
    await insertCopy('f-1', 'f-3');
    // Same generation, the data now there: the cached 2 would disagree with the page.
    for (let i = 0; i < 2; i++) {
      const [during, sentDuring] = await sentBy(() => store.datasets.search(query));
      agrees(during, 3);
      expect(sentDuring).toEqual(['aggregate', 'countDocuments', 'find']);
    }
    await bump();
    agrees(await store.datasets.search(query), 3);
    const [after, sentAfter] = await sentBy(() => store.datasets.search(query));
    agrees(after, 3);
    expect(sentAfter).toEqual(['find']);
  });

  it('with MONGODB_TRANSACTIONS=off: keyed by the generation alone, as before (pending is not read)', async () => {
    await open('off');
    agrees(await store.datasets.search(query), 2);
    await begin();
    const [during, sent] = await sentBy(() => store.datasets.search(query));
    agrees(during, 2);
    expect(sent).toEqual(['find']);
    await insertCopy('f-1', 'f-3');
    await bump();
    const [after, sentAfter] = await sentBy(() => store.datasets.search(query));
    agrees(after, 3);
    expect(sentAfter).toEqual(['aggregate', 'countDocuments', 'find']);
  });
});
