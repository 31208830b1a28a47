import {
  ConflictError,
  NO_FILES,
  PreconditionFailedError,
  type FileAggregate,
  type FileAvailability,
  type FileChecksum,
  type FileRecord,
  type FileRegistration,
  type FileRepository,
  type FileRetirement,
  type FileState,
  type FileUpsertOutcome,
  type Page,
  type Paged,
  type RegisterOptions,
  type StorageLocation,
  type TotalsRefresh,
} from '@climcat/core';
import type { ClientSession, FilterQuery, Model } from 'mongoose';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_FILE_BATCH,
  fileUpsertPlan,
  pathOrderedBatches,
  pathPrefixRange,
  type FileUpsertPlan,
} from '../shared/file-rules';
import type { MongoAuditRepository } from './mongo-audit.repository';
import type { MongoDatasetRepository } from './mongo-dataset.repository';
import { compareCodePoints } from '../shared/facet-order';
import { chunked, isDuplicateKey } from './mongo-support';
import { toRecord, type FileDocument, type PendingTotals } from './schemas';

/** Compare-and-set attempts of one dataset refresh against concurrent writers. */
const REFRESH_ATTEMPTS = 8;
/** Reads and conditional writes of one upsert against concurrent writers of the same location. */
const UPSERT_ATTEMPTS = 8;
/** Pending files read per batch by settlePending. */
const PENDING_BATCH = 500;

/** The fields of a FileState (`_id` left out): less to send for each of millions of files. */
const STATE_FIELDS: Record<string, 0 | 1> = {
  _id: 0,
  id: 1,
  datasetId: 1,
  location: 1,
  size: 1,
  mtime: 1,
  etag: 1,
  status: 1,
};

function toFile(doc: object): FileRecord {
  return toRecord<FileRecord>(doc, 'pending');
}

/** The state fields alone, whether or not the server applied the projection. */
function toState(doc: object): FileState {
  const { id, datasetId, location, size, mtime, etag, status } = doc as FileRecord;
  return { id, datasetId, location, size, mtime, ...(etag === undefined ? {} : { etag }), status };
}

function locationFilter(location: StorageLocation) {
  return { 'location.root': location.root, 'location.path': location.path };
}

/** Matches the stored file only while it still holds what the upsert plan was computed from. */
function asRead(existing: FileRecord): FilterQuery<FileDocument> {
  return {
    ...locationFilter(existing.location),
    id: existing.id,
    status: existing.status,
    size: existing.size,
    mtime: existing.mtime,
    etag: existing.etag ?? { $exists: false },
    datasetId: existing.datasetId,
    updatedAt: existing.updatedAt,
  };
}

/**
 * Files; `register`, `retire` and `settlePending` also refresh the owning
 * datasets. Without transactions (the MongoDB-wire test server has none) the
 * guarantee comes from a pending mark written with the file in one document
 * write and cleared only after the datasets are recomputed: a crash in between
 * leaves the mark, and the next `settlePending` (every scan runs one) redoes
 * the recomputation, which is idempotent.
 */
export class MongoFileRepository implements FileRepository {
  constructor(
    private readonly model: Model<FileDocument>,
    private readonly datasets: MongoDatasetRepository,
    private readonly audit: MongoAuditRepository,
    /** Most ids per `$in`: bulk removals are cut into calls of this size (16 MB command limit). */
    private readonly idsPerCall: number,
  ) {}

  async get(id: string): Promise<FileRecord | null> {
    return this.findOne({ id });
  }

  async findByLocation(location: StorageLocation): Promise<FileRecord | null> {
    return this.findOne(locationFilter(location));
  }

  async upsert(record: FileRecord): Promise<FileUpsertOutcome> {
    return (await this.write(record)).plan.outcome;
  }

  async register(
    record: FileRecord,
    refresh: TotalsRefresh,
    options: RegisterOptions = {},
  ): Promise<FileRegistration> {
    const token = randomUUID();
    const { plan, existing, inherited } = await this.write(record, (datasets) => ({ token, datasets }));
    const moved = existing && existing.datasetId !== plan.record.datasetId ? existing.datasetId : undefined;
    if (plan.write !== 'none' && !options.deferRefresh) {
      await this.refreshDatasets([plan.record.datasetId, ...(moved ? [moved] : []), ...inherited], refresh);
      await this.clearPending([plan.record.id], token);
    }
    return { outcome: plan.outcome, fileId: plan.record.id, ...(moved ? { previousDatasetId: moved } : {}) };
  }

  async retire(ids: string[], at: string, refresh: TotalsRefresh): Promise<FileRetirement> {
    // One pending token for every slice: a crash mid-way leaves marks settlePending finishes.
    const token = randomUUID();
    const pending: PendingTotals = { token, datasets: [] };
    const datasetIds = new Set<string>();
    let removed = 0;
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      const present = { id: { $in: slice }, status: 'present' };
      const owners = await this.model.find(present, { datasetId: 1 }).lean<{ datasetId: string }[]>().exec();
      for (const owner of owners) datasetIds.add(owner.datasetId);
      const result = await this.model
        .updateMany(present, { $set: { status: 'removed', updatedAt: at, pending } })
        .exec();
      removed += result.modifiedCount;
    }
    await this.refreshDatasets(datasetIds, refresh);
    await this.clearPending(ids, token);
    return { removed, datasetIds: [...datasetIds] };
  }

  async settlePending(refresh: TotalsRefresh): Promise<string[]> {
    const changed = new Set<string>();
    // Keyset on id: marks that cannot be cleared (a refresh that throws) are not read twice.
    for (let after = ''; ;) {
      const docs = await this.model
        .find({ 'pending.token': { $exists: true }, id: { $gt: after } }, { id: 1, datasetId: 1, pending: 1 })
        .sort({ id: 1 })
        .limit(PENDING_BATCH)
        .lean<Pick<FileDocument, 'id' | 'datasetId' | 'pending'>[]>()
        .exec();
      const last = docs[docs.length - 1];
      if (!last) break;
      after = last.id;
      const ids = docs.flatMap((d) => [d.datasetId, ...(d.pending?.datasets ?? [])]);
      for (const id of await this.refreshDatasets(ids, refresh)) changed.add(id);
      // Only the marks read: a file written again since carries a new token and keeps its mark.
      await this.model
        .updateMany(
          { id: { $in: docs.map((d) => d.id) }, 'pending.token': { $in: docs.map((d) => d.pending?.token) } },
          { $unset: { pending: 1 } },
        )
        .exec();
      if (docs.length < PENDING_BATCH) break;
    }
    return [...changed];
  }

  async listByDataset(datasetId: string, page: Page): Promise<Paged<FileRecord>> {
    const filter = { datasetId, status: 'present' };
    const [total, docs] = await Promise.all([
      this.model.countDocuments(filter).exec(),
      this.model
        .find(filter)
        .sort({ 'location.path': 1, id: 1 })
        .skip(page.offset)
        .limit(page.limit)
        .lean<FileDocument[]>()
        .exec(),
    ]);
    return { total, items: docs.map(toFile) };
  }

  async *iterateByRoot(
    root: string,
    prefix: string,
    batchSize = DEFAULT_FILE_BATCH,
  ): AsyncIterable<FileRecord[]> {
    yield* this.pathBatches(root, prefix, batchSize, null, toFile);
  }

  async *iterateStatesByRoot(
    root: string,
    prefix: string,
    batchSize = DEFAULT_FILE_BATCH,
  ): AsyncIterable<FileState[]> {
    yield* this.pathBatches(root, prefix, batchSize, STATE_FIELDS, toState);
  }

  /** Present files under root and prefix in path order, each document as `projection` keeps it. */
  private pathBatches<T extends Pick<FileRecord, 'location'>>(
    root: string,
    prefix: string,
    batchSize: number,
    projection: Record<string, 0 | 1> | null,
    map: (doc: object) => T,
  ): AsyncGenerator<T[]> {
    const range = pathPrefixRange(prefix);
    const present = { 'location.root': root, status: 'present' };
    // Keyset on path over root_path: each query is one index range (root =, path in (after, to)),
    // not an `$or`. The directory's own path sorts before everything below it, so it is looked up
    // first by itself; siblings such as `p.nc` or `p-old/` that sort between `p` and `p/` are never walked.
    return pathOrderedBatches(batchSize, async (after) => {
      const out: T[] = [];
      if (range && after < range.exact) {
        const own = await this.model
          .findOne({ ...present, 'location.path': range.exact }, projection)
          .lean<FileDocument>()
          .exec();
        if (own) out.push(map(own));
        // limit(0) would mean no limit.
        if (out.length >= batchSize) return out;
      }
      const bounds: Record<string, string> = { $gt: after };
      if (range) Object.assign(bounds, { $gte: range.from, $lt: range.to });
      const docs = await this.model
        .find({ ...present, 'location.path': bounds }, projection)
        .sort({ 'location.path': 1 })
        .limit(batchSize - out.length)
        .lean<FileDocument[]>()
        .exec();
      return [...out, ...docs.map(map)];
    });
  }

  async markRemoved(ids: string[], at: string): Promise<number> {
    let removed = 0;
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      const result = await this.model
        .updateMany({ id: { $in: slice }, status: 'present' }, { $set: { status: 'removed', updatedAt: at } })
        .exec();
      removed += result.modifiedCount;
    }
    return removed;
  }

  async setChecksum(id: string, sha256: string, checksum: FileChecksum): Promise<boolean> {
    const result = await this.model
      .updateOne(
        {
          id,
          status: 'present',
          size: checksum.size,
          mtime: checksum.mtime,
          etag: checksum.etag ?? { $exists: false },
        },
        { $set: { sha256, checksum } },
      )
      .exec();
    return result.matchedCount === 1;
  }

  async setAvailability(ids: string[], availability: FileAvailability): Promise<number> {
    if (!ids.length) return 0;
    // Absent counts as online: going online matches only files marked offline.
    const differs = availability === 'online' ? 'offline' : { $ne: 'offline' };
    let changed = 0;
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      const result = await this.model
        .updateMany({ id: { $in: slice }, availability: differs }, { $set: { availability } })
        .exec();
      changed += result.modifiedCount;
    }
    return changed;
  }

  /** With `session`, inside its transaction (the dataset delete cascade). */
  async deleteByDataset(datasetId: string, session?: ClientSession): Promise<number> {
    const result = await this.model
      .deleteMany({ datasetId })
      .session(session ?? null)
      .exec();
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

  async aggregateMany(datasetIds: string[]): Promise<Map<string, FileAggregate>> {
    // One streamed read of the present files per slice, summed here: the test server has no
    // $min/$max accumulators, and the per-dataset lookups of `aggregate` are three reads each.
    const aggregates = new Map<string, FileAggregate>();
    for (const slice of chunked([...new Set(datasetIds)], this.idsPerCall)) {
      const present = this.model
        .find(
          { datasetId: { $in: slice }, status: 'present' },
          { _id: 0, datasetId: 1, size: 1, 'timeCoverage.start': 1, 'timeCoverage.end': 1 },
        )
        .lean<Pick<FileRecord, 'datasetId' | 'size' | 'timeCoverage'>>()
        .cursor();
      for await (const file of present) {
        const into = aggregates.get(file.datasetId) ?? { ...NO_FILES };
        into.fileCount++;
        into.size += file.size;
        const { start, end } = file.timeCoverage ?? {};
        if (
          typeof start === 'string' &&
          (into.timeStart === null || compareCodePoints(start, into.timeStart) < 0)
        )
          into.timeStart = start;
        if (typeof end === 'string' && (into.timeEnd === null || compareCodePoints(end, into.timeEnd) > 0))
          into.timeEnd = end;
        aggregates.set(file.datasetId, into);
      }
    }
    return aggregates;
  }

  private async findOne(filter: FilterQuery<FileDocument>): Promise<FileRecord | null> {
    const doc = await this.model.findOne(filter).lean<FileDocument>().exec();
    return doc ? toFile(doc) : null;
  }

  /**
   * The upsert write; with `pending`, the document carries the mark it returns
   * (given the datasets whose totals it leaves to recompute). Every write is
   * conditional on what was read: the insert on the location index, the
   * replace on the stored fields the plan compared (id, status, size, mtime,
   * etag, datasetId, updatedAt). A concurrent writer of the same location
   * makes ours match nothing; we read again and plan against what it wrote,
   * so neither write is lost, as under sqlite's serialised transactions.
   */
  private async write(
    record: FileRecord,
    pending?: (datasets: string[]) => PendingTotals,
  ): Promise<{ plan: FileUpsertPlan; existing: FileRecord | null; inherited: string[] }> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.model.findOne(locationFilter(record.location)).lean<FileDocument>().exec();
      const existing = stored ? toFile(stored) : null;
      const plan = fileUpsertPlan(existing, record);
      // An unsettled mark's datasets (a writer that crashed before recomputing) stay marked.
      const inherited = stored?.pending?.datasets ?? [];
      if (plan.write === 'none') return { plan, existing, inherited: [] };
      const moved = existing && existing.datasetId !== plan.record.datasetId ? [existing.datasetId] : [];
      const doc: FileDocument = pending
        ? { ...plan.record, pending: pending([...new Set([...moved, ...inherited])]) }
        : plan.record;
      try {
        if (plan.write === 'insert') {
          await this.model.create(doc);
          return { plan, existing, inherited };
        }
        const result = await this.model.replaceOne(asRead(existing!), doc).exec();
        if (result.matchedCount === 1) return { plan, existing, inherited };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        // The insert collided: on the location (a concurrent first registration; plan again)
        // or on the id (another location has it).
        if ((await this.findByLocation(record.location)) === null) {
          throw new ConflictError(`file ${record.id} already exists at another location`);
        }
      }
      if (attempt >= UPSERT_ATTEMPTS) {
        throw new ConflictError(
          `file ${record.location.root}:${record.location.path} was changed by ${UPSERT_ATTEMPTS} concurrent writers while registering it: retry`,
        );
      }
    }
  }

  private async clearPending(ids: string[], token: string): Promise<void> {
    for (const slice of chunked([...new Set(ids)], this.idsPerCall)) {
      await this.model
        .updateMany({ id: { $in: slice }, 'pending.token': token }, { $unset: { pending: 1 } })
        .exec();
    }
  }

  /** Applies `refresh` to each dataset (compare-and-set); the ids of those that changed. */
  private async refreshDatasets(ids: Iterable<string>, refresh: TotalsRefresh): Promise<string[]> {
    const changed: string[] = [];
    for (const id of new Set(ids)) {
      for (let attempt = 1; ; attempt++) {
        // The files are read after the dataset: a refresh computed from files older than the
        // revision it replaces could otherwise overwrite a newer writer's correct totals.
        const current = await this.datasets.get(id);
        if (!current) break;
        const [files, latest] = await Promise.all([this.aggregate(id), this.audit.latest('dataset', id)]);
        const update = refresh(current, files, latest);
        if (!update) break;
        try {
          await this.datasets.replace(update.record, current.revision);
        } catch (error) {
          if (error instanceof PreconditionFailedError && attempt < REFRESH_ATTEMPTS) continue;
          throw error;
        }
        if (update.audit && update.replacesAudit) await this.audit.replace(update.audit);
        else if (update.audit) await this.audit.append([update.audit]);
        changed.push(id);
        break;
      }
    }
    return changed;
  }
}
