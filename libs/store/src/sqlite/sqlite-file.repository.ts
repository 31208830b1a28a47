import type {
  FileAggregate,
  FileAvailability,
  FileChecksum,
  FileRecord,
  FileRegistration,
  FileRepository,
  FileRetirement,
  FileState,
  FileUpsertOutcome,
  Page,
  Paged,
  StorageLocation,
  TotalsRefresh,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import {
  DEFAULT_FILE_BATCH,
  fileUpsertPlan,
  pathOrderedBatches,
  pathPrefixRange,
  type PathPrefix,
} from '../shared/file-rules';
import type { SqliteAuditRepository } from './sqlite-audit.repository';
import { conflictOnDuplicate, type Db } from './sqlite-database';
import type { SqliteDatasetRepository } from './sqlite-dataset.repository';

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

/** `id, dataset_id, path, status, size, mtime, etag`, as `raw()` statements give them. */
type StateRow = [string, string, string, FileState['status'], number, string, string | null];

/** The keyset walk of one root in path order (`under`: below a prefix), as rows of one shape. */
interface PathWalk<Row> {
  all: Statement<[IterateParams], Row>;
  under: Statement<[IterateParams & PathPrefix], Row>;
}

/** Batches of `walk`'s rows under root and prefix, each row made a `T` by `map`. */
function pathBatches<Row, T extends Pick<FileRecord, 'location'>>(
  walk: PathWalk<Row>,
  root: string,
  prefix: string,
  batchSize: number,
  map: (row: Row) => T,
): AsyncGenerator<T[]> {
  const range = pathPrefixRange(prefix);
  return pathOrderedBatches(batchSize, (after) => {
    const params: IterateParams = { root, after, limit: batchSize };
    return (range ? walk.under.all({ ...params, ...range }) : walk.all.all(params)).map(map);
  });
}

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
  private readonly iterateRecords: PathWalk<FileRow>;
  private readonly iterateStates: PathWalk<StateRow>;
  private readonly removeMany: Statement<[string, string]>;
  private readonly deleteByDatasetId: Statement<[string]>;
  private readonly aggregateDataset: Statement<[string], FileAggregate>;
  private readonly aggregateDatasets: Statement<[string], FileAggregate & { datasetId: string }>;
  private readonly datasetsOf: Statement<[string], string>;

  /** `datasets` and `audit` share `db`: file rows and dataset totals are written in one transaction. */
  constructor(
    private readonly db: Db,
    private readonly datasets: SqliteDatasetRepository,
    private readonly audit: SqliteAuditRepository,
  ) {
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
    const iterate = <Row>(columns: string): PathWalk<Row> => {
      const base = `SELECT ${columns} FROM files WHERE root = @root AND ${PRESENT} AND path > @after`;
      return {
        all: db.prepare<[IterateParams], Row>(`${base} ORDER BY path LIMIT @limit`),
        under: db.prepare<[IterateParams & PathPrefix], Row>(
          `SELECT * FROM (${base} AND path = @exact UNION ALL ${base} AND path >= @from AND path < @to)` +
            ' ORDER BY path LIMIT @limit',
        ),
      };
    };
    this.iterateRecords = iterate<FileRow>('pk, doc, path');
    // The columns hold what the doc holds for these fields (`columns()` writes both, and so
    // does every status change), so the states need no JSON.
    const states = iterate<StateRow>('id, dataset_id, path, status, size, mtime, etag');
    this.iterateStates = { all: states.all.raw(), under: states.under.raw() };
    this.removeMany = db.prepare(
      "UPDATE files SET status = 'removed', doc = json_set(doc, '$.status', 'removed', '$.updatedAt', ?)" +
        ` WHERE id IN (SELECT value FROM json_each(?)) AND ${PRESENT}`,
    );
    this.deleteByDatasetId = db.prepare('DELETE FROM files WHERE dataset_id = ?');
    const aggregates =
      'count(*) AS fileCount, coalesce(sum(size), 0) AS size, min(time_start) AS timeStart,' +
      ` max(time_end) AS timeEnd FROM files WHERE ${PRESENT} AND dataset_id`;
    this.aggregateDataset = db.prepare(`SELECT ${aggregates} = ?`);
    this.aggregateDatasets = db.prepare(
      `SELECT dataset_id AS datasetId, ${aggregates} IN (SELECT value FROM json_each(?)) GROUP BY dataset_id`,
    );
    this.datasetsOf = db
      .prepare(
        `SELECT DISTINCT dataset_id FROM files WHERE id IN (SELECT value FROM json_each(?)) AND ${PRESENT}`,
      )
      .pluck() as Statement<[string], string>;
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
    return this.db.transaction(() => this.upsertNow(record).outcome)();
  }

  /** `deferRefresh` is not needed here: the refresh is part of the write's transaction. */
  async register(record: FileRecord, refresh: TotalsRefresh): Promise<FileRegistration> {
    // IMMEDIATE: the write lock is taken before the reads the refresh is computed from.
    return this.db
      .transaction((): FileRegistration => {
        const { outcome, stored, previous } = this.upsertNow(record);
        const moved = previous && previous.datasetId !== stored.datasetId ? previous.datasetId : undefined;
        if (outcome !== 'unchanged') this.refreshNow([stored.datasetId, ...(moved ? [moved] : [])], refresh);
        return { outcome, fileId: stored.id, ...(moved ? { previousDatasetId: moved } : {}) };
      })
      .immediate();
  }

  async retire(ids: string[], at: string, refresh: TotalsRefresh): Promise<FileRetirement> {
    return this.db
      .transaction((): FileRetirement => {
        const datasetIds = this.datasetsOf.all(JSON.stringify(ids));
        const removed = this.removeMany.run(at, JSON.stringify(ids)).changes;
        this.refreshNow(datasetIds, refresh);
        return { removed, datasetIds };
      })
      .immediate();
  }

  /** Nothing is ever pending: file rows and totals commit together. */
  async settlePending(): Promise<string[]> {
    return [];
  }

  private upsertNow(record: FileRecord): {
    outcome: FileUpsertOutcome;
    stored: FileRecord;
    previous: FileRecord | null;
  } {
    const { root, path } = record.location;
    const row = this.byLocation.get(root, path);
    const previous = row ? parse(row) : null;
    const plan = fileUpsertPlan(previous, record);
    if (plan.write === 'insert') {
      conflictOnDuplicate(
        () => this.insertRow.run(columns(plan.record)),
        `file ${record.id} already exists at another location`,
      );
    } else if (plan.write === 'update' && row) {
      this.updateRow.run({ ...columns(plan.record), pk: row.pk });
    }
    return { outcome: plan.outcome, stored: plan.record, previous };
  }

  /** Applies `refresh` to each dataset against its present files; inside the caller's transaction. */
  private refreshNow(datasetIds: Iterable<string>, refresh: TotalsRefresh): void {
    for (const id of new Set(datasetIds)) {
      const current = this.datasets.getNow(id);
      if (!current) continue;
      const update = refresh(current, this.aggregateDataset.get(id)!, this.audit.latestNow('dataset', id));
      if (!update) continue;
      this.datasets.replaceNow(update.record, current.revision);
      if (update.audit && update.replacesAudit) this.audit.replaceNow(update.audit);
      else if (update.audit) this.audit.appendNow([update.audit]);
    }
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
    yield* pathBatches(this.iterateRecords, root, prefix, batchSize, parse);
  }

  async *iterateStatesByRoot(
    root: string,
    prefix: string,
    batchSize = DEFAULT_FILE_BATCH,
  ): AsyncIterable<FileState[]> {
    yield* pathBatches(
      this.iterateStates,
      root,
      prefix,
      batchSize,
      ([id, datasetId, path, status, size, mtime, etag]): FileState => ({
        id,
        datasetId,
        location: { root, path },
        size,
        mtime,
        ...(etag === null ? {} : { etag }),
        status,
      }),
    );
  }

  async markRemoved(ids: string[], at: string): Promise<number> {
    return this.removeMany.run(at, JSON.stringify(ids)).changes;
  }

  async setChecksum(id: string, sha256: string, checksum: FileChecksum): Promise<boolean> {
    // The doc alone carries the checksum: no column or migration, nothing filters on it.
    return (
      this.db
        .prepare(
          "UPDATE files SET doc = json_set(doc, '$.sha256', ?, '$.checksum', json(?))" +
            ` WHERE id = ? AND ${PRESENT} AND size = ? AND mtime = ? AND etag IS ?`,
        )
        .run(sha256, JSON.stringify(checksum), id, checksum.size, checksum.mtime, checksum.etag ?? null)
        .changes === 1
    );
  }

  async setAvailability(ids: string[], availability: FileAvailability): Promise<number> {
    if (!ids.length) return 0;
    return this.db
      .prepare(
        "UPDATE files SET doc = json_set(doc, '$.availability', ?) WHERE id IN (SELECT value FROM json_each(?))" +
          " AND coalesce(json_extract(doc, '$.availability'), 'online') <> ?",
      )
      .run(availability, JSON.stringify(ids), availability).changes;
  }

  async deleteByDataset(datasetId: string): Promise<number> {
    return this.deleteByDatasetNow(datasetId);
  }

  /** Synchronous, for use inside another repository's transaction. */
  deleteByDatasetNow(datasetId: string): number {
    return this.deleteByDatasetId.run(datasetId).changes;
  }

  async aggregate(datasetId: string): Promise<FileAggregate> {
    return this.aggregateDataset.get(datasetId)!;
  }

  async aggregateMany(datasetIds: string[]): Promise<Map<string, FileAggregate>> {
    const rows = this.aggregateDatasets.all(JSON.stringify(datasetIds));
    return new Map(rows.map(({ datasetId, ...aggregate }) => [datasetId, aggregate]));
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
