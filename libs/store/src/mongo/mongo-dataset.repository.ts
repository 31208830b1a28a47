import {
  DATASET_KINDS,
  type CapacityRow,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetRepository,
  type DatasetSearchResult,
  type FacetCount,
} from '@climcat/core';
import type { ClientSession, Model, PipelineStage } from 'mongoose';
import { inRequestedOrder, revisionConflict } from '../shared/records';
import { searchKeys } from '../shared/search-index';
import { nextCursor, planSearch, type SearchPlan } from '../shared/search-plan';
import { chunked, conflictOnDuplicate, countMatching, escapeRegex } from './mongo-support';
import { toRecord, type DatasetDocument, type DatasetSearchDocument } from './schemas';

type Filter = Record<string, unknown>;

function toDataset(doc: DatasetDocument): DatasetRecord {
  return toRecord<DatasetRecord>(doc, 'search');
}

function toDocument(record: DatasetRecord): DatasetDocument {
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

export class MongoDatasetRepository implements DatasetRepository {
  constructor(
    private readonly model: Model<DatasetDocument>,
    private readonly idsPerCall: number,
  ) {}

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

  async create(record: Omit<DatasetRecord, 'revision'>): Promise<DatasetRecord> {
    const stored: DatasetRecord = { ...record, revision: 1 };
    await conflictOnDuplicate(
      () => this.model.create(toDocument(stored)),
      `dataset ${record.id} already exists`,
    );
    return stored;
  }

  async replace(record: DatasetRecord, expectedRevision: number): Promise<DatasetRecord> {
    const stored: DatasetRecord = { ...record, revision: expectedRevision + 1 };
    // Compare-and-set: the filter matches only the revision the caller read.
    const result = await this.model
      .replaceOne({ id: record.id, revision: expectedRevision }, toDocument(stored))
      .exec();
    if (result.matchedCount === 0) await this.explainMiss(record.id, expectedRevision);
    return stored;
  }

  /** With `session`, inside its transaction (the dataset delete cascade, MongoStore.deleteDataset). */
  async delete(id: string, expectedRevision?: number, session?: ClientSession): Promise<void> {
    const filter = expectedRevision === undefined ? { id } : { id, revision: expectedRevision };
    const result = await this.model
      .deleteOne(filter)
      .session(session ?? null)
      .exec();
    if (result.deletedCount === 0) await this.explainMiss(id, expectedRevision, session);
  }

  async search(query: DatasetQuery): Promise<DatasetSearchResult> {
    const plan = planSearch(query);
    const filter = datasetFilter(plan);
    const [counted, page, facets] = await Promise.all([
      query.countTotal === false ? null : countMatching(this.model, filter),
      this.page(plan, filter),
      this.facetCounts(plan, filter),
    ]);
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

  private async page(plan: SearchPlan, filter: Filter): Promise<DatasetDocument[]> {
    if (plan.limit === 0) return [];
    const keyset = keysetFilter(plan);
    const direction = plan.sort.direction === 'asc' ? 1 : -1;
    return this.model
      .find(keyset.length ? { $and: [filter, ...keyset] } : filter)
      .sort({ [plan.sort.field]: direction, id: direction })
      .skip(plan.offset)
      .limit(plan.limit + 1)
      .lean<DatasetDocument[]>()
      .exec();
  }

  private async facetCounts(plan: SearchPlan, filter: Filter): Promise<DatasetSearchResult['facets']> {
    if (plan.facetCounts.length === 0) return {};
    const perName: Record<string, PipelineStage.FacetPipelineStage[]> = Object.fromEntries(
      plan.facetCounts.map((name): [string, PipelineStage.FacetPipelineStage[]] => [
        name,
        [
          { $match: { 'f.n': name } },
          { $group: { _id: '$f.v', count: { $sum: plan.facetCountUnit === 'files' ? '$files' : 1 } } },
          { $sort: { count: -1, _id: 1 } },
          { $limit: plan.facetLimit },
        ],
      ]),
    );
    const [result] = await this.model
      .aggregate<Record<string, { _id: string; count: number }[]>>([
        { $match: filter },
        { $project: { _id: 0, f: '$search.facets', files: '$fileCount' } },
        { $unwind: '$f' },
        { $match: { 'f.n': { $in: plan.facetCounts } } },
        { $facet: perName },
      ])
      .exec();
    const facets: DatasetSearchResult['facets'] = {};
    for (const name of plan.facetCounts) {
      facets[name] = (result?.[name] ?? []).map((g): FacetCount => ({ value: g._id, count: g.count }));
    }
    return facets;
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
