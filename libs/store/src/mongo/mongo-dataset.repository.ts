import {
  DATASET_KINDS,
  type CapacityRow,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetRepository,
  type DatasetSearchResult,
  type DatasetTotals,
  type FacetCount,
  type FacetName,
} from '@climcat/core';
import type { ClientSession, Model } from 'mongoose';
import { topFacetValues } from '../shared/facet-order';
import { inRequestedOrder, revisionConflict } from '../shared/records';
import { searchKeys } from '../shared/search-index';
import { nextCursor, planSearch, type SearchPlan } from '../shared/search-plan';
import { MongoTransactions } from './mongo-consistency';
import { CountCache, filterSignature, type GenerationState, type WriteGeneration } from './mongo-count-cache';
import { chunked, conflictOnDuplicate, countMatching, escapeRegex } from './mongo-support';
import { toRecord, type DatasetDocument, type DatasetSearchDocument } from './schemas';

type Filter = Record<string, unknown>;

function toDataset(doc: DatasetDocument): DatasetRecord {
  return toRecord<DatasetRecord>(doc, 'search');
}

/** The stored document of a dataset (exported for bench/catalog-mongo.bench.ts's bulk seeding). */
export function toDocument(record: DatasetRecord): DatasetDocument {
  const keys = searchKeys(record);
  const search: DatasetSearchDocument = {
    tokens: keys.tokens,
    facets: keys.facets.map((f) => ({ n: f.name, v: f.value })),
    lon: keys.lon,
  };
  // Absent, not null: a dataset without coverage or bbox must fail every range comparison.
  if (keys.south !== null) search.south = keys.south;
  if (keys.north !== null) search.north = keys.north;
  if (keys.timeStart !== null) search.timeStart = keys.timeStart;
  if (keys.timeEnd !== null) search.timeEnd = keys.timeEnd;
  return { ...record, search };
}

function datasetFilter(plan: SearchPlan): Filter {
  const and: Filter[] = [];
  if (!plan.access.everything) {
    const groups = plan.access.groups;
    and.push(
      groups.length === 0
        ? { 'access.public': true }
        : {
            $or: [
              { 'access.public': true },
              { 'access.ownerGroup': { $in: groups } },
              { 'access.accessGroups': { $in: groups } },
            ],
          },
    );
  }
  for (const facet of plan.facets) {
    and.push({ 'search.facets': { $elemMatch: { n: facet.name, v: { $in: facet.values } } } });
  }
  for (const token of plan.text) {
    // Anchored, case-sensitive prefix over lower-case tokens: an index range scan on search_tokens.
    and.push({ 'search.tokens': { $regex: `^${escapeRegex(token)}` } });
  }
  if (plan.ids) and.push({ id: { $in: plan.ids } });
  if (plan.datasetIds) and.push({ datasetId: { $in: plan.datasetIds } });
  if (plan.kind) and.push({ kind: { $in: plan.kind } });
  if (plan.status) and.push({ status: { $in: plan.status } });
  if (plan.availability) and.push({ availability: { $in: plan.availability } });
  if (plan.derivedFrom) and.push({ 'provenance.derivedFrom': { $in: plan.derivedFrom } });
  if (plan.time) {
    // `$type`, not `$exists`: the string type bracket is an index bound on search_time (`$exists` on a
    // non-sparse index scans all of it). Coverage is stored as strings or not at all.
    and.push({ 'search.timeStart': { $type: 'string' } });
    if (plan.time.end !== undefined) and.push({ 'search.timeStart': { $lte: plan.time.end } });
    if (plan.time.start !== undefined) and.push({ 'search.timeEnd': { $gte: plan.time.start } });
  }
  if (plan.updated?.from !== undefined) and.push({ updatedAt: { $gte: plan.updated.from } });
  if (plan.updated?.to !== undefined) and.push({ updatedAt: { $lte: plan.updated.to } });
  if (plan.bbox) {
    and.push({ 'search.south': { $lte: plan.bbox.north } }, { 'search.north': { $gte: plan.bbox.south } });
    and.push({
      $or: plan.bbox.lon.map((q) => ({
        'search.lon': { $elemMatch: { min: { $lte: q.max }, max: { $gte: q.min } } },
      })),
    });
  }
  return and.length === 0 ? {} : { $and: and };
}

function keysetFilter(plan: SearchPlan): Filter[] {
  if (!plan.after) return [];
  const asc = plan.sort.direction === 'asc';
  const op = asc ? '$gt' : '$lt';
  const field = plan.sort.field;
  return [
    // The bound makes the cursor one range on the (field, id) sort index; the `$or` alone would be
    // two branches the planner may not merge into one ordered scan.
    { [field]: { [asc ? '$gte' : '$lte']: plan.after.value } },
    {
      $or: [
        { [field]: { [op]: plan.after.value } },
        { [field]: plan.after.value, id: { [op]: plan.after.id } },
      ],
    },
  ];
}

/** A search's total (null: not counted) and facet counts. */
interface SearchCounts {
  total: number | null;
  facets: DatasetSearchResult['facets'];
}

export class MongoDatasetRepository implements DatasetRepository {
  /**
   * Totals and facet counts per filter signature, trusted while `generation`
   * (bumped by every dataset write, in any process) is unchanged: see
   * mongo-count-cache.ts.
   */
  private readonly counts: CountCache;

  /**
   * Where enabled, a counted search reads in one snapshot (see `search`).
   * Writes stay outside transactions, bracketed by the generation counter
   * (`written`).
   */
  private readonly transactions: MongoTransactions;

  constructor(
    private readonly model: Model<DatasetDocument>,
    private readonly idsPerCall: number,
    private readonly generation: WriteGeneration,
    counts: CountCache = new CountCache(),
    transactions?: MongoTransactions,
  ) {
    this.counts = counts;
    this.transactions = transactions ?? MongoTransactions.none();
  }

  async get(id: string): Promise<DatasetRecord | null> {
    const doc = await this.model.findOne({ id }).lean<DatasetDocument>().exec();
    return doc ? toDataset(doc) : null;
  }

  async getMany(ids: string[]): Promise<DatasetRecord[]> {
    const docs: DatasetDocument[] = [];
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      docs.push(
        ...(await this.model
          .find({ id: { $in: slice } })
          .lean<DatasetDocument[]>()
          .exec()),
      );
    }
    return inRequestedOrder(ids, new Map(docs.map((doc) => [doc.id, toDataset(doc)])));
  }

  async totalsOf(ids: string[]): Promise<DatasetTotals[]> {
    const totals: DatasetTotals[] = [];
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      const docs = await this.model
        .find(
          { id: { $in: slice } },
          {
            _id: 0,
            id: 1,
            size: 1,
            fileCount: 1,
            availability: 1,
            'timeCoverage.start': 1,
            'timeCoverage.end': 1,
          },
        )
        .lean<Pick<DatasetRecord, 'id' | 'size' | 'fileCount' | 'availability' | 'timeCoverage'>[]>()
        .exec();
      // Named one by one: the test server returns whole documents whatever the projection.
      for (const { id, size, fileCount, availability, timeCoverage } of docs)
        totals.push({
          id,
          size,
          fileCount,
          availability,
          timeStart: timeCoverage?.start ?? null,
          timeEnd: timeCoverage?.end ?? null,
        });
    }
    return totals;
  }

  async create(record: Omit<DatasetRecord, 'revision'>): Promise<DatasetRecord> {
    const stored: DatasetRecord = { ...record, revision: 1 };
    await conflictOnDuplicate(
      () => this.written(() => this.model.create(toDocument(stored))),
      `dataset ${record.id} already exists`,
    );
    return stored;
  }

  async replace(record: DatasetRecord, expectedRevision: number): Promise<DatasetRecord> {
    const stored: DatasetRecord = { ...record, revision: expectedRevision + 1 };
    await this.written(async () => {
      // Compare-and-set: the filter matches only the revision the caller read.
      const result = await this.model
        .replaceOne({ id: record.id, revision: expectedRevision }, toDocument(stored))
        .exec();
      if (result.matchedCount === 0) await this.explainMiss(record.id, expectedRevision);
    });
    return stored;
  }

  /**
   * With `session`, inside its transaction (the dataset delete cascade,
   * MongoStore.deleteDataset), whose caller runs `beginWrite` before it and
   * `changed` once it has committed.
   */
  async delete(id: string, expectedRevision?: number, session?: ClientSession): Promise<void> {
    const filter = expectedRevision === undefined ? { id } : { id, revision: expectedRevision };
    const remove = async () => {
      const result = await this.model
        .deleteOne(filter)
        .session(session ?? null)
        .exec();
      if (result.deletedCount === 0) await this.explainMiss(id, expectedRevision, session);
    };
    if (session) await remove();
    else await this.written(remove);
  }

  /**
   * A dataset write between `beginWrite` (one more write in flight) and
   * `changed` (generation bumped, one fewer), even when it fails: a snapshot
   * that sees no write in flight sees exactly the writes its generation
   * counts (see `search`). Not a transaction: the test server applies
   * concurrent transactions' writes last-commit-wins, which would break the
   * compare-and-set and lose bumps.
   */
  private async written<T>(work: () => Promise<T>): Promise<T> {
    await this.beginWrite();
    try {
      return await work();
    } finally {
      await this.changed();
    }
  }

  /** Before a dataset write: the generation counter's in-flight count goes up. */
  async beginWrite(): Promise<void> {
    await this.generation.begin();
  }

  /**
   * Where transactions are enabled, a counted search runs as one read-only
   * snapshot transaction: the generation state, then total, facet counts and
   * page, one after another (the driver does not support parallel operations
   * in one transaction), all at one moment, so the total and counts agree
   * with the items. A cached count is used (and stored) only when the
   * snapshot sees no dataset write in flight (`pending` 0): then its data is
   * exactly what its generation counts, the same in every snapshot of that
   * generation (a write's `begin` precedes its data and its bump follows it).
   * With writes in flight the counts are computed in the snapshot and not
   * cached (and a state stuck that way is settled after the max age,
   * `WriteGeneration.settle`). Without transactions, as before: the page
   * beside the generation read and the counts, each at its own moment (a
   * concurrent write can fall between them).
   */
  async search(query: DatasetQuery): Promise<DatasetSearchResult> {
    const plan = planSearch(query);
    const filter = datasetFilter(plan);
    const wantTotal = query.countTotal !== false;
    const wantCounts = wantTotal || plan.facetCounts.length > 0;
    let counts: SearchCounts;
    let page: DatasetDocument[];
    if (wantCounts && this.transactions.enabled) {
      let state: GenerationState;
      ({ state, counts, page } = await this.transactions.read(async (session) => {
        // The transaction starts with its first command; then one operation at a time (the driver
        // does not support parallel operations in one transaction).
        const state = await this.generation.state(session);
        const generation = state.pending === 0 ? state.generation : null;
        const counts = await this.countsFor(plan, filter, wantTotal, generation, session);
        return { state, counts, page: await this.page(plan, filter, session) };
      }));
      // After the transaction, which only reads (the driver may run it again on a transient error).
      if (state.pending !== 0) await this.generation.settle(state);
    } else {
      // Side by side, each at its own moment; the generation alone keys the cache, read before the
      // counts (see mongo-count-cache.ts).
      const latest = async (): Promise<SearchCounts> =>
        wantCounts
          ? this.countsFor(plan, filter, wantTotal, await this.generation.current(), undefined)
          : { total: null, facets: {} };
      [counts, page] = await Promise.all([latest(), this.page(plan, filter, undefined)]);
    }
    const { total: counted, facets } = counts;
    const more = page.length > plan.limit;
    const items = page.slice(0, plan.limit).map(toDataset);
    // Not counted: the lower bound DatasetQuery.countTotal promises.
    const total = counted ?? plan.offset + items.length + (more ? 1 : 0);
    return { total, items, facets, next: nextCursor(plan, items, more) };
  }

  async capacity(): Promise<CapacityRow[]> {
    // One $group per kind keeps the group key a single field (see README: test-server limits).
    const perKind = await Promise.all(
      DATASET_KINDS.map(async (kind) => {
        const groups = await this.model
          .aggregate<{ _id: string; datasets: number; files: number; bytes: number }>([
            { $match: { kind } },
            {
              $group: {
                _id: '$project',
                datasets: { $sum: 1 },
                files: { $sum: '$fileCount' },
                bytes: { $sum: '$size' },
              },
            },
          ])
          .exec();
        return groups.map((g): CapacityRow => ({
          kind,
          project: g._id,
          datasets: g.datasets,
          files: g.files,
          bytes: g.bytes,
        }));
      }),
    );
    return perKind.flat().sort((a, b) => compare(a.kind, b.kind) || compare(a.project, b.project));
  }

  private async page(
    plan: SearchPlan,
    filter: Filter,
    session: ClientSession | undefined,
  ): Promise<DatasetDocument[]> {
    if (plan.limit === 0) return [];
    const keyset = keysetFilter(plan);
    const direction = plan.sort.direction === 'asc' ? 1 : -1;
    return this.model
      .find(keyset.length ? { $and: [filter, ...keyset] } : filter)
      .sort({ [plan.sort.field]: direction, id: direction })
      .skip(plan.offset)
      .limit(plan.limit + 1)
      .session(session ?? null)
      .lean<DatasetDocument[]>()
      .exec();
  }

  /**
   * The total (unless not wanted) and the facet counts, from the cache while
   * no dataset was written since they were counted (`generation` was read
   * before: see mongo-count-cache.ts). Snapshot and sequential searches
   * share no entries: only a count computed in a snapshot is exact for
   * another snapshot of its generation.
   */
  private async countsFor(
    plan: SearchPlan,
    filter: Filter,
    wantTotal: boolean,
    generation: number | null,
    session: ClientSession | undefined,
  ): Promise<SearchCounts> {
    const wantFacets = plan.facetCounts.length > 0;
    if (!wantTotal && !wantFacets) return { total: null, facets: {} };
    const mode = session ? 'snapshot' : 'latest';
    const signature = filterSignature(filter);
    const facetKey = JSON.stringify([plan.facetCountUnit, plan.facetLimit, plan.facetCounts]);
    // generation null: not cacheable, computed here.
    const through = <T>(key: string, compute: () => Promise<T>) =>
      generation === null ? compute() : this.counts.through(`${mode} ${key}`, generation, compute);
    const total = async () =>
      wantTotal ? through(`total ${signature}`, () => countMatching(this.model, filter, session)) : null;
    const facets = async (): Promise<DatasetSearchResult['facets']> =>
      wantFacets
        ? through(`facets ${facetKey} ${signature}`, () => this.facetCounts(plan, filter, session))
        : {};
    if (session) {
      // In a transaction one operation at a time (see `search`).
      const counted = await total();
      return { total: counted, facets: await facets() };
    }
    const [counted, faceted] = await Promise.all([total(), facets()]);
    return { total: counted, facets: faceted };
  }

  /**
   * One pass: the matching datasets' (name, value) pairs of the requested
   * names, grouped by the pair itself (`search.facets` elements are
   * `{n, v}`, stored in that order by every write), summed per dataset or per
   * file (`$sum` skips a missing fileCount, as before). Sorting and `facetLimit` per name happen here, over the groups: a
   * `$facet` stage per name would re-read the unwound stream once per name.
   * Only `$project` of field paths, `$unwind`, `$match` and `$group` on a field
   * path: the test server evaluates no expressions, and MongoDB needs none.
   */
  private async facetCounts(
    plan: SearchPlan,
    filter: Filter,
    session: ClientSession | undefined,
  ): Promise<DatasetSearchResult['facets']> {
    const groups = await this.model
      .aggregate<{ _id: { n: FacetName; v: string }; count: number }>([
        { $match: filter },
        { $project: { _id: 0, f: '$search.facets', files: '$fileCount' } },
        { $unwind: '$f' },
        { $match: { 'f.n': { $in: plan.facetCounts } } },
        { $group: { _id: '$f', count: { $sum: plan.facetCountUnit === 'files' ? '$files' : 1 } } },
      ])
      .session(session ?? null)
      .exec();
    // Summed by (name, value) here too: a pair stored with its fields in another order (a hand-edited
    // document) is another group to MongoDB, whose documents compare field by field.
    const byName = new Map<FacetName, Map<string, number>>(plan.facetCounts.map((name) => [name, new Map()]));
    for (const { _id: pair, count } of groups) {
      const values = byName.get(pair.n);
      values?.set(pair.v, (values.get(pair.v) ?? 0) + count);
    }
    const facets: DatasetSearchResult['facets'] = {};
    for (const [name, values] of byName) {
      const counts = [...values].map(([value, count]): FacetCount => ({ value, count }));
      facets[name] = topFacetValues(counts, plan.facetLimit);
    }
    return facets;
  }

  /** After any dataset write: cached counts, here and in every other process, are stale. */
  async changed(): Promise<void> {
    try {
      await this.generation.bump();
    } catch (error) {
      // Other processes trust their counts until the next bump or for the max age at most.
      this.counts.clear();
      throw error;
    }
  }

  /** After a compare-and-set matched nothing: absent, or a different revision. */
  private async explainMiss(
    id: string,
    expectedRevision: number | undefined,
    session?: ClientSession,
  ): Promise<never> {
    const current = await this.model
      .findOne({ id }, { revision: 1 })
      .session(session ?? null)
      .lean<{ revision: number }>()
      .exec();
    throw revisionConflict(id, current, expectedRevision);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
