import {
  ConflictError,
  type FileAggregate,
  type FileRecord,
  type FileRepository,
  type FileUpsertOutcome,
  type Page,
  type Paged,
  type StorageLocation,
} from '@climcat/core';
import type { Model, mongo } from 'mongoose';
import {
  DEFAULT_FILE_BATCH,
  fileUpsertPlan,
  pathOrderedBatches,
  pathPrefixRange,
} from '../shared/file-rules';
import { findPage, findRecord, isDuplicateKey } from './mongo-support';
import { toRecord } from './schemas';

export const FILE_INDEXES: mongo.IndexDescription[] = [
  { key: { id: 1 }, name: 'id', unique: true },
  // Not `location`: that name was the old (kind, root, path) index, which mongo-upgrades.ts drops.
  { key: { 'location.root': 1, 'location.path': 1 }, name: 'root_path', unique: true },
  { key: { datasetId: 1, status: 1, 'location.path': 1 }, name: 'dataset_path' },
  { key: { datasetId: 1, status: 1, 'timeCoverage.start': 1 }, name: 'dataset_time_start' },
  { key: { datasetId: 1, status: 1, 'timeCoverage.end': 1 }, name: 'dataset_time_end' },
];

function locationFilter(location: StorageLocation) {
  return { 'location.root': location.root, 'location.path': location.path };
}

export class MongoFileRepository implements FileRepository {
  constructor(private readonly model: Model<FileRecord>) {}

  async get(id: string): Promise<FileRecord | null> {
    return findRecord(this.model, { id });
  }

  async findByLocation(location: StorageLocation): Promise<FileRecord | null> {
    return findRecord(this.model, locationFilter(location));
  }

  async upsert(record: FileRecord): Promise<FileUpsertOutcome> {
    // Two passes at most: a concurrent first registration of the same location makes our insert
    // collide on the location index; the second pass then compares against the winner.
    for (let attempt = 0; ; attempt++) {
      const existing = await this.findByLocation(record.location);
      const plan = fileUpsertPlan(existing, record);
      if (plan.write === 'none') return plan.outcome;
      try {
        if (plan.write === 'insert') await this.model.create(plan.record);
        else await this.model.replaceOne(locationFilter(record.location), plan.record).exec();
        return plan.outcome;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const locationTaken = attempt === 0 && (await this.findByLocation(record.location)) !== null;
        if (!locationTaken) throw new ConflictError(`file ${record.id} already exists at another location`);
      }
    }
  }

  async listByDataset(datasetId: string, page: Page): Promise<Paged<FileRecord>> {
    return findPage(this.model, { datasetId, status: 'present' }, { 'location.path': 1, id: 1 }, page);
  }

  async *iterateByRoot(
    root: string,
    prefix: string,
    batchSize = DEFAULT_FILE_BATCH,
  ): AsyncIterable<FileRecord[]> {
    const range = pathPrefixRange(prefix);
    const under = range
      ? {
          $or: [{ 'location.path': range.exact }, { 'location.path': { $gte: range.from, $lt: range.to } }],
        }
      : {};
    // Keyset on path over the unique location index.
    yield* pathOrderedBatches(batchSize, async (after) => {
      const docs = await this.model
        .find({
          $and: [{ 'location.root': root, status: 'present' }, { 'location.path': { $gt: after } }, under],
        })
        .sort({ 'location.path': 1 })
        .limit(batchSize)
        .lean<FileRecord[]>()
        .exec();
      return docs.map((doc) => toRecord<FileRecord>(doc));
    });
  }

  async markRemoved(ids: string[], at: string): Promise<number> {
    const result = await this.model
      .updateMany({ id: { $in: ids }, status: 'present' }, { $set: { status: 'removed', updatedAt: at } })
      .exec();
    return result.modifiedCount;
  }

  async deleteByDataset(datasetId: string): Promise<number> {
    const result = await this.model.deleteMany({ datasetId }).exec();
    return result.deletedCount;
  }

  async aggregate(datasetId: string): Promise<FileAggregate> {
    const present = { datasetId, status: 'present' };
    // Earliest start / latest end by index-ordered lookups rather than $min/$max accumulators,
    // which the MongoDB-wire test server lacks.
    const [totals, first, last] = await Promise.all([
      this.model
        .aggregate<{ fileCount: number; size: number }>([
          { $match: present },
          { $group: { _id: null, fileCount: { $sum: 1 }, size: { $sum: '$size' } } },
        ])
        .exec(),
      this.model
        .findOne({ ...present, 'timeCoverage.start': { $type: 'string' } }, { 'timeCoverage.start': 1 })
        .sort({ 'timeCoverage.start': 1 })
        .lean<Pick<FileRecord, 'timeCoverage'>>()
        .exec(),
      this.model
        .findOne({ ...present, 'timeCoverage.end': { $type: 'string' } }, { 'timeCoverage.end': 1 })
        .sort({ 'timeCoverage.end': -1 })
        .lean<Pick<FileRecord, 'timeCoverage'>>()
        .exec(),
    ]);
    return {
      fileCount: totals[0]?.fileCount ?? 0,
      size: totals[0]?.size ?? 0,
      timeStart: first?.timeCoverage?.start ?? null,
      timeEnd: last?.timeCoverage?.end ?? null,
    };
  }
}
