import type {
  FileAggregate,
  FileRecord,
  FileRepository,
  FileUpsertOutcome,
  Page,
  Paged,
  StorageLocation,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import {
  DEFAULT_FILE_BATCH,
  fileUpsertPlan,
  pathOrderedBatches,
  pathPrefixRange,
  type PathPrefix,
} from '../shared/file-rules';
import { conflictOnDuplicate, type Db } from './sqlite-database';

interface FileRow {
  pk: number;
  doc: string;
}

type FileColumns = Record<
  | 'id'
  | 'dataset_id'
  | 'root'
  | 'path'
  | 'status'
  | 'size'
  | 'mtime'
  | 'etag'
  | 'time_start'
  | 'time_end'
  | 'doc',
  string | number | null
>;

interface IterateParams {
  root: string;
  after: string;
  limit: number;
}

const PRESENT = "status = 'present'";

export class SqliteFileRepository implements FileRepository {
  private readonly byId: Statement<[string], FileRow>;
  private readonly byLocation: Statement<[string, string], FileRow>;
  private readonly insertRow: Statement<[FileColumns]>;
  private readonly updateRow: Statement<[FileColumns & { pk: number }]>;
  private readonly countByDataset: Statement<[string], number>;
  private readonly pageByDataset: Statement<[string, number, number], FileRow>;
  private readonly iterateAll: Statement<[IterateParams], FileRow>;
  private readonly iterateUnder: Statement<[IterateParams & PathPrefix], FileRow>;
  private readonly removeMany: Statement<[string, string]>;
  private readonly deleteByDatasetId: Statement<[string]>;
  private readonly aggregateDataset: Statement<[string], FileAggregate>;

  constructor(private readonly db: Db) {
    this.byId = db.prepare('SELECT pk, doc FROM files WHERE id = ?');
    this.byLocation = db.prepare('SELECT pk, doc FROM files WHERE root = ? AND path = ?');
    this.insertRow = db.prepare(
      'INSERT INTO files (id, dataset_id, root, path, status, size, mtime, etag, time_start, time_end, doc)' +
        ' VALUES (@id, @dataset_id, @root, @path, @status, @size, @mtime, @etag, @time_start, @time_end, @doc)',
    );
    this.updateRow = db.prepare(
      'UPDATE files SET id = @id, dataset_id = @dataset_id, status = @status, size = @size, mtime = @mtime,' +
        ' etag = @etag, time_start = @time_start, time_end = @time_end, doc = @doc WHERE pk = @pk',
    );
    this.countByDataset = db
      .prepare(`SELECT count(*) FROM files WHERE dataset_id = ? AND ${PRESENT}`)
      .pluck() as Statement<[string], number>;
    this.pageByDataset = db.prepare(
      `SELECT pk, doc FROM files WHERE dataset_id = ? AND ${PRESENT} ORDER BY path, id LIMIT ? OFFSET ?`,
    );
    // Keyset on path within unique(root, path): @after is the last path of the previous batch.
    const base = 'SELECT pk, doc, path FROM files' + ` WHERE root = @root AND ${PRESENT} AND path > @after`;
    this.iterateAll = db.prepare(`${base} ORDER BY path LIMIT @limit`);
    this.iterateUnder = db.prepare(
      `SELECT * FROM (${base} AND path = @exact UNION ALL ${base} AND path >= @from AND path < @to)` +
        ' ORDER BY path LIMIT @limit',
    );
    this.removeMany = db.prepare(
      "UPDATE files SET status = 'removed', doc = json_set(doc, '$.status', 'removed', '$.updatedAt', ?)" +
        ` WHERE id IN (SELECT value FROM json_each(?)) AND ${PRESENT}`,
    );
    this.deleteByDatasetId = db.prepare('DELETE FROM files WHERE dataset_id = ?');
    this.aggregateDataset = db.prepare(
      'SELECT count(*) AS fileCount, coalesce(sum(size), 0) AS size, min(time_start) AS timeStart,' +
        ` max(time_end) AS timeEnd FROM files WHERE dataset_id = ? AND ${PRESENT}`,
    );
  }

  async get(id: string): Promise<FileRecord | null> {
    const row = this.byId.get(id);
    return row ? parse(row) : null;
  }

  async findByLocation(location: StorageLocation): Promise<FileRecord | null> {
    const row = this.byLocation.get(location.root, location.path);
    return row ? parse(row) : null;
  }

  async upsert(record: FileRecord): Promise<FileUpsertOutcome> {
    return this.db.transaction((): FileUpsertOutcome => {
      const { root, path } = record.location;
      const row = this.byLocation.get(root, path);
      const plan = fileUpsertPlan(row ? parse(row) : null, record);
      if (plan.write === 'insert') {
        conflictOnDuplicate(
          () => this.insertRow.run(columns(plan.record)),
          `file ${record.id} already exists at another location`,
        );
      } else if (plan.write === 'update' && row) {
        this.updateRow.run({ ...columns(plan.record), pk: row.pk });
      }
      return plan.outcome;
    })();
  }

  async listByDataset(datasetId: string, page: Page): Promise<Paged<FileRecord>> {
    return this.db.transaction(() => ({
      total: this.countByDataset.get(datasetId)!,
      items: this.pageByDataset.all(datasetId, page.limit, page.offset).map(parse),
    }))();
  }

  async *iterateByRoot(
    root: string,
    prefix: string,
    batchSize = DEFAULT_FILE_BATCH,
  ): AsyncIterable<FileRecord[]> {
    const range = pathPrefixRange(prefix);
    yield* pathOrderedBatches(batchSize, (after) => {
      const params: IterateParams = { root, after, limit: batchSize };
      return (range ? this.iterateUnder.all({ ...params, ...range }) : this.iterateAll.all(params)).map(
        parse,
      );
    });
  }

  async markRemoved(ids: string[], at: string): Promise<number> {
    return this.removeMany.run(at, JSON.stringify(ids)).changes;
  }

  async deleteByDataset(datasetId: string): Promise<number> {
    return this.deleteByDatasetId.run(datasetId).changes;
  }

  async aggregate(datasetId: string): Promise<FileAggregate> {
    return this.aggregateDataset.get(datasetId)!;
  }
}

function parse(row: FileRow): FileRecord {
  return JSON.parse(row.doc) as FileRecord;
}

function columns(record: FileRecord): FileColumns {
  return {
    id: record.id,
    dataset_id: record.datasetId,
    root: record.location.root,
    path: record.location.path,
    status: record.status,
    size: record.size,
    mtime: record.mtime,
    etag: record.etag ?? null,
    time_start: record.timeCoverage?.start ?? null,
    time_end: record.timeCoverage?.end ?? null,
    doc: JSON.stringify(record),
  };
}
