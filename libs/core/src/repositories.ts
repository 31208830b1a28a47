/**
 * Persistence ports, owned by the domain. Adapters (`libs/store`: sqlite,
 * mongo) implement them with identical observable behaviour; the contract
 * suite in `test/store/` runs unchanged against both.
 *
 * Conventions every adapter follows:
 * - records are returned as plain objects (no driver types, no `_id`);
 * - a duplicate unique key throws `ConflictError`;
 * - a stale `expectedRevision` throws `PreconditionFailedError`;
 * - a missing record on update/delete throws `NotFoundError`.
 */
import type {
  ApiKeyRecord,
  AuditEntry,
  DatasetKind,
  DatasetRecord,
  FileAvailability,
  FileChecksum,
  FileRecord,
  PromotionRecord,
  PurgedFileRecord,
  PurgePlanEntry,
  QuotaExemption,
  QuotaRecord,
  QuotaUsageState,
  QuotaSubjectKind,
  ScanRecord,
  StorageLocation,
  UsageDrift,
  UsagePoint,
  TimeCoverage,
} from './model';
import type { DatasetQuery, DatasetSearchResult, Page, Paged } from './query';

export interface DatasetRepository {
  get(id: string): Promise<DatasetRecord | null>;
  getMany(ids: string[]): Promise<DatasetRecord[]>;
  /** The stored totals of these datasets (unknown ids left out), without decoding whole records. */
  totalsOf(ids: string[]): Promise<DatasetTotals[]>;
  /** Inserts with revision 1. ConflictError if the id exists. */
  create(record: Omit<DatasetRecord, 'revision'>): Promise<DatasetRecord>;
  /**
   * Replaces the record if its stored revision equals `expectedRevision`
   * (compare-and-set); returns it with revision + 1.
   */
  replace(record: DatasetRecord, expectedRevision: number): Promise<DatasetRecord>;
  delete(id: string, expectedRevision?: number): Promise<void>;
  search(query: DatasetQuery): Promise<DatasetSearchResult>;
  /** Bytes, datasets and files per kind and project (all datasets, no access filter). */
  capacity(): Promise<CapacityRow[]>;
}

export interface CapacityRow {
  kind: DatasetKind;
  project: string;
  datasets: number;
  files: number;
  bytes: number;
}

/**
 * A dataset's members that its present files determine, as stored: what a totals check
 * compares with the files' aggregate (see DatasetRules.repairTotals).
 */
export interface DatasetTotals {
  id: string;
  size: number;
  fileCount: number;
  availability: DatasetRecord['availability'];
  /** The stored time coverage's start and end; null without a coverage. */
  timeStart: string | null;
  timeEnd: string | null;
}

export type FileUpsertOutcome = 'new' | 'changed' | 'unchanged';

export interface FileAggregate {
  fileCount: number;
  size: number;
  /** Earliest start / latest end over present files with a coverage (string order). */
  timeStart: string | null;
  timeEnd: string | null;
}

/**
 * What a dataset's derived members (size, file count, time coverage,
 * availability) become given its present files; `null` when nothing changes.
 * The domain decides (DatasetRules.totalsRefresh); stores only apply it.
 * `latestAudit` is the dataset's newest audit entry, so a run of ingestion
 * writes can extend one entry instead of adding one per file.
 */
export type TotalsRefresh = (
  current: DatasetRecord,
  files: FileAggregate,
  latestAudit: AuditEntry | null,
) => TotalsUpdate | null;

export interface TotalsUpdate {
  /** The dataset to store (its revision is the one it was computed from). */
  record: DatasetRecord;
  audit?: AuditEntry;
  /** The id of `latestAudit` when `audit` takes its place. */
  replacesAudit?: string;
}

export interface RegisterOptions {
  /**
   * Bulk writers (scans): a store that cannot refresh within the write's own
   * transaction (mongo) leaves the refresh to the caller's next
   * `settlePending`; the file's pending mark keeps that crash-safe. The
   * sqlite adapter refreshes in the transaction regardless.
   */
  deferRefresh?: boolean;
}

export interface FileRegistration {
  outcome: FileUpsertOutcome;
  /** The stored id (an existing row at the location keeps its id). */
  fileId: string;
  /** The dataset the file belonged to before, when it moved. */
  previousDatasetId?: string;
}

export interface FileRetirement {
  /** Files that changed from present to removed. */
  removed: number;
  /** Their datasets, refreshed. */
  datasetIds: string[];
}

/** What a scan compares a listed file with: a file record without the fields only readers need. */
export type FileState = Pick<
  FileRecord,
  'id' | 'datasetId' | 'location' | 'size' | 'mtime' | 'etag' | 'status'
>;

export interface FileRepository {
  get(id: string): Promise<FileRecord | null>;
  findByLocation(location: StorageLocation): Promise<FileRecord | null>;
  /**
   * Idempotent on (location.root, location.path): `new` when
   * absent (or previously removed), `changed` when size, mtime, etag or
   * dataset differ, else `unchanged` (nothing written).
   */
  upsert(record: FileRecord): Promise<FileUpsertOutcome>;
  listByDataset(datasetId: string, page: Page): Promise<Paged<FileRecord>>;
  /** Present files under a root (and optional path prefix), in path order, in batches. */
  iterateByRoot(root: string, prefix: string, batchSize?: number): AsyncIterable<FileRecord[]>;
  /**
   * The same files and batches as `iterateByRoot`, as their states only: a
   * rescan of millions of unchanged files need not decode whole records.
   */
  iterateStatesByRoot(root: string, prefix: string, batchSize?: number): AsyncIterable<FileState[]>;
  /** Marks files removed; returns how many changed state. */
  markRemoved(ids: string[], at: string): Promise<number>;
  /**
   * Stores a file's SHA256 and what it was computed from, only while the file
   * is present with `checksum.size`, `.mtime` and `.etag` (none when absent):
   * a file rewritten during hashing keeps no stale checksum. True when written.
   */
  setChecksum(id: string, sha256: string, checksum: FileChecksum): Promise<boolean>;
  /** Sets the availability of files (absent counts as online); returns how many changed. */
  setAvailability(ids: string[], availability: FileAvailability): Promise<number>;
  deleteByDataset(datasetId: string): Promise<number>;
  aggregate(datasetId: string): Promise<FileAggregate>;
  /** `aggregate` of each of these datasets that has present files (the others left out), in few reads. */
  aggregateMany(datasetIds: string[]): Promise<Map<string, FileAggregate>>;
  /**
   * `upsert`, then `refresh` applied to the dataset the file belongs to (and
   * the one it moved from) against its present files. Totals never disagree
   * with the file rows a reader or a restart sees: the sqlite adapter does
   * both in one transaction; the mongo adapter (its test server has no
   * transactions) writes the file with a pending mark, recomputes, and clears
   * the mark, so `settlePending` redoes whatever a crash interrupted.
   */
  register(record: FileRecord, refresh: TotalsRefresh, options?: RegisterOptions): Promise<FileRegistration>;
  /** `markRemoved` and the refresh of those files' datasets, with the same guarantee as `register`. */
  retire(ids: string[], at: string, refresh: TotalsRefresh): Promise<FileRetirement>;
  /**
   * Refreshes the datasets of writes whose recomputation a crash interrupted
   * (mongo; sqlite has none by construction). Idempotent; returns the ids of
   * datasets whose stored members changed.
   */
  settlePending(refresh: TotalsRefresh): Promise<string[]>;
}

export interface AuditRepository {
  append(entries: AuditEntry[]): Promise<void>;
  /** Newest first. */
  list(entityType: AuditEntry['entityType'], entityId: string, page: Page): Promise<Paged<AuditEntry>>;
}

export interface ApiKeyRepository {
  create(record: ApiKeyRecord): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  get(id: string): Promise<ApiKeyRecord | null>;
  list(page: Page): Promise<Paged<ApiKeyRecord>>;
  revoke(id: string, at: string): Promise<ApiKeyRecord>;
}

export interface ScanRepository {
  create(record: ScanRecord): Promise<ScanRecord>;
  get(id: string): Promise<ScanRecord | null>;
  /** Shallow-merges `changes` into the stored record. */
  update(id: string, changes: Partial<Omit<ScanRecord, 'id'>>): Promise<ScanRecord>;
  /** Newest first. */
  list(page: Page): Promise<Paged<ScanRecord>>;
}

/**
 * Scratch quotas, per-user usage state (with upload reservations) and exemptions.
 * `update` is the one way to change a state: it is atomic per subject across
 * processes sharing the store (sqlite: an IMMEDIATE transaction; mongo: a
 * compare-and-set on a revision, retried), so concurrent grants never add up
 * past a limit.
 */
export interface QuotaRepository {
  getQuota(kind: QuotaSubjectKind, name: string): Promise<QuotaRecord | null>;
  /** Quotas of several subjects of one kind (e.g. a caller's groups). */
  getQuotas(kind: QuotaSubjectKind, names: readonly string[]): Promise<QuotaRecord[]>;
  /** Creates or replaces; returns the record it replaced (null when new). */
  putQuota(record: QuotaRecord): Promise<QuotaRecord | null>;
  getState(kind: QuotaSubjectKind, name: string): Promise<QuotaUsageState | null>;
  /**
   * Reads the state (an empty one when absent), applies the synchronous, pure
   * `change` and stores what it returns as `state`, atomically. `change` may run
   * more than once (retries); it must not have side effects. `state: null` stores nothing.
   */
  update<T>(
    kind: QuotaSubjectKind,
    name: string,
    change: (current: QuotaUsageState) => { state: QuotaUsageState | null; result: T },
  ): Promise<T>;
  /** Every quota of one kind set by an admin, in name order (the table filesystem quotas are generated from). */
  listQuotas(kind: QuotaSubjectKind): Promise<QuotaRecord[]>;
  /** Every stored usage state of one kind, in name order (reports and tier totals; small: one per user). */
  listStates(kind: QuotaSubjectKind): Promise<QuotaUsageState[]>;
  createExemption(record: QuotaExemption): Promise<QuotaExemption>;
  /** Exemptions of a subject that have not expired at `now`, newest first (requested ones too). */
  listExemptions(kind: QuotaSubjectKind, name: string, now: Date): Promise<QuotaExemption[]>;
  getExemption(id: string): Promise<QuotaExemption | null>;
  /** Approves a requested exemption; null when it does not exist or is not awaiting approval. */
  approveExemption(id: string, by: string, at: string): Promise<QuotaExemption | null>;

  /** A user's stored purge plan, in no particular order. */
  listPurgePlan(user: string): Promise<PurgePlanEntry[]>;
  /** Replaces a user's stored plan with `entries` (files left out leave the plan). */
  savePurgePlan(user: string, entries: readonly PurgePlanEntry[]): Promise<void>;
  recordPurged(records: readonly PurgedFileRecord[]): Promise<void>;
  /** A user's purged files, newest first. */
  listPurged(user: string, page: Page): Promise<Paged<PurgedFileRecord>>;
  /** Forgets records of files purged before `before`; returns how many. */
  prunePurged(before: Date): Promise<number>;

  /**
   * Takes (or renews) the named lease for `holder` until `until`, if no other
   * holder's lease runs past `now`; atomic across processes sharing the store.
   */
  acquireLease(name: string, holder: string, until: Date, now: Date): Promise<boolean>;
  /** Gives the lease up if `holder` still holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Scratch promotion jobs (scratch-quota), so progress and roll-back survive the process that ran them. */
export interface PromotionRepository {
  create(record: PromotionRecord): Promise<PromotionRecord>;
  get(id: string): Promise<PromotionRecord | null>;
  /** Shallow-merges `changes` into the stored record. NotFoundError when absent. */
  update(id: string, changes: Partial<Omit<PromotionRecord, 'id'>>): Promise<PromotionRecord>;
  /** One user's jobs, newest first. */
  listByUser(user: string, page: Page): Promise<Paged<PromotionRecord>>;
  /** Jobs still queued or running (to recover the abandoned ones). */
  listUnfinished(): Promise<PromotionRecord[]>;
}

/** Daily usage history per user and group, and the drift reconciliations found. */
export interface UsageHistoryRepository {
  /** Creates or replaces the subject's point of `point.day`, unless the stored one was measured later. */
  putPoint(point: UsagePoint): Promise<void>;
  /** Points of one subject with `from <= day <= to` (days `YYYY-MM-DD`), oldest first. */
  points(kind: QuotaSubjectKind, name: string, from: string, to: string): Promise<UsagePoint[]>;
  /** Every subject's point of one day (of one kind). */
  pointsOfDay(kind: QuotaSubjectKind, day: string): Promise<UsagePoint[]>;
  /** Deletes points of days before `day`; returns how many went. */
  prune(day: string): Promise<number>;
  recordDrift(entries: readonly UsageDrift[]): Promise<void>;
  /** Newest first; one user's when `user` is given. */
  listDrift(options: { user?: string; limit: number }): Promise<UsageDrift[]>;
}

/** An empty usage state of a subject (what `update` starts from when none is stored). */
export function emptyQuotaState(kind: QuotaSubjectKind, name: string): QuotaUsageState {
  return { kind, name, usage: { bytes: 0, files: 0 }, softSince: {}, reservations: [] };
}

/** Everything a store adapter provides, plus lifecycle. */
export interface Store {
  readonly adapter: 'sqlite' | 'mongo';
  readonly datasets: DatasetRepository;
  readonly files: FileRepository;
  readonly audit: AuditRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly scans: ScanRepository;
  readonly quotas: QuotaRepository;
  readonly promotions: PromotionRepository;
  readonly usageHistory: UsageHistoryRepository;
  /**
   * The dataset delete cascade: deletes the dataset (compare-and-set as
   * `datasets.delete`), its file rows, and appends `audit`, as one unit: if
   * any write fails, none took effect (sqlite: one transaction; mongo: one
   * transaction where the server supports them, else sequential writes in
   * that order). Returns how many file rows went.
   */
  deleteDataset(id: string, expectedRevision: number | undefined, audit: AuditEntry[]): Promise<number>;
  /** Throws if the backing database cannot answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Injection token for the `Store`. */
export const STORE = Symbol('climcat.store');

export type { TimeCoverage };
