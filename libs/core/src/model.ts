/**
 * Records as the repositories store and return them. They never leave the
 * service layer directly: controllers answer with DTOs made by mappers.
 */
import type { AccessControl } from './principal';

export type DatasetKind = 'standard' | 'derived' | 'scratch';
export const DATASET_KINDS: readonly DatasetKind[] = ['standard', 'derived', 'scratch'];

export type DatasetStatus = 'latest' | 'superseded' | 'retracted';
export const DATASET_STATUSES: readonly DatasetStatus[] = ['latest', 'superseded', 'retracted'];

export type Availability = 'online' | 'offline' | 'partial';
export const AVAILABILITIES: readonly Availability[] = ['online', 'offline', 'partial'];

/** ESGF facet names (CMIP5 + CORDEX) that can be filtered and counted. */
export const FACET_NAMES = [
  'project',
  'product',
  'institute',
  'model',
  'experiment',
  'time_frequency',
  'realm',
  'cmor_table',
  'ensemble',
  'variable',
  'cf_standard_name',
  'version',
  'domain',
  'driving_model',
  'rcm_name',
  'rcm_version',
] as const;
export type FacetName = (typeof FACET_NAMES)[number];

export function isFacetName(name: string): name is FacetName {
  return (FACET_NAMES as readonly string[]).includes(name);
}

/** Facet name → value(s). `variable` and `cf_standard_name` are usually lists. */
export type Facets = Partial<Record<FacetName, string | string[]>>;

export interface VariableInfo {
  name: string;
  standardName?: string;
  longName?: string;
  units?: string;
}

/** Times are `YYYY-MM-DDTHH:MM:SS` in the data's own calendar (a 360_day 2005-02-30 is valid). */
export interface TimeCoverage {
  start: string;
  end: string;
  calendar: string;
  frequency?: string;
}

/** [west, south, east, north] in degrees; west > east means the box crosses the antimeridian. */
export type BBox = [number, number, number, number];

export interface Provenance {
  derivedFrom: string[];
  software?: string;
  softwareVersion?: string;
  script?: string;
  parameters?: Record<string, unknown>;
  author?: string;
}

export interface Contact {
  name: string;
  email?: string;
  role?: string;
}

/** A problem with a dataset's files as a whole, shown in the catalog. */
export interface DatasetWarning {
  /**
   * `aggregation-refused`: the files disagree (no aggregation); `time-gap`, `time-overlap` between two files;
   * `checksum-mismatch`: a file's SHA256 changed while its size and mtime (ETag) did not (bit rot, a silent rewrite).
   */
  code: 'aggregation-refused' | 'time-gap' | 'time-overlap' | 'checksum-mismatch';
  message: string;
  /** The file concerned, as its /thredds path (`<root>/<path>`). */
  file?: string;
}

export interface DatasetRecord {
  /** Instance id: ESGF dataset id + `.v<version>` for DRS data, a generated slug otherwise. */
  id: string;
  datasetId: string;
  version: string;
  kind: DatasetKind;
  project: string;
  facets: Facets;
  variables: VariableInfo[];
  timeCoverage: TimeCoverage | null;
  bbox: BBox | null;
  gridType?: string;
  size: number;
  fileCount: number;
  access: AccessControl;
  status: DatasetStatus;
  statusReason?: string;
  availability: Availability;
  title: string;
  description: string;
  keywords: string[];
  license?: string;
  citation?: string;
  contacts?: Contact[];
  provenance?: Provenance;
  warnings?: string[];
  /**
   * What joining the dataset's files along time found (a refused join, gaps,
   * overlaps); recomputed when the aggregation is planned (after scans, on
   * first use), absent when the files join cleanly.
   */
  aggregationWarnings?: DatasetWarning[];
  /**
   * `checksum-mismatch` warnings, one per file, set by the checksum stage of
   * ingestion (DatasetRules.setChecksumWarning); absent when every file verifies.
   */
  checksumWarnings?: DatasetWarning[];
  createdAt: string;
  updatedAt: string;
  /** Incremented on every write; the ETag of optimistic concurrency. */
  revision: number;
}

/**
 * Where a file lives: a configured root name and a path under it. What the
 * root is (a directory, or an S3 bucket and key prefix) is the root's config,
 * never part of the record; StorageService resolves one to the other.
 */
export interface StorageLocation {
  /** Configured root name (`data`, `scratch`, a ROOTS entry, S3_BUCKET). */
  root: string;
  /** Path relative to the root, `/`-separated, no leading slash. */
  path: string;
}

export interface FileRecord {
  id: string;
  datasetId: string;
  location: StorageLocation;
  size: number;
  mtime: string;
  etag?: string;
  sha256?: string;
  /** What `sha256` was computed from (absent: given by an ingest record, not verified yet). */
  checksum?: FileChecksum;
  format: string;
  timeCoverage: TimeCoverage | null;
  variables: string[];
  status: 'present' | 'removed';
  /**
   * Whether the availability plan keeps the file online (absent: online). Set
   * only by `FileRepository.setAvailability`; a changed file re-ingested is
   * online again until the plan is applied anew.
   */
  availability?: FileAvailability;
  createdAt: string;
  updatedAt: string;
}

export type FileAvailability = 'online' | 'offline';

/**
 * The file state a stored `sha256` belongs to: while size and mtime (and ETag)
 * are still these, the checksum is current and the stage does not read the file again.
 */
export interface FileChecksum {
  size: number;
  mtime: string;
  etag?: string;
  /** When it was computed or taken (ISO). */
  at: string;
  /** `computed`: read and hashed here; `object`: the S3 object's own SHA256 metadata. */
  source: 'computed' | 'object';
  /** Set when re-reading the unchanged file gave another SHA256 (this one); `sha256` keeps the first. */
  mismatch?: string;
}

export interface AuditChange {
  /** JSON pointer of the changed member, e.g. `/title` or `/access/accessGroups`. */
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface AuditEntry {
  id: string;
  entityType: 'dataset' | 'file' | 'api-key' | 'scan' | 'quota';
  entityId: string;
  action: 'create' | 'update' | 'delete' | 'bulk-update' | 'ingest';
  actor: string;
  at: string;
  changes: AuditChange[];
  requestId?: string;
  note?: string;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** sha256 of the secret part, hex. The secret itself is never stored. */
  hash: string;
  /** First characters of the key, shown in listings to recognise it. */
  prefix: string;
  roles: string[];
  groups: string[];
  /** The holder's user name (scratch directory); keys created without one use their name. */
  user?: string;
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  revokedAt?: string;
}

export type ScanState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface ScanCounts {
  seen: number;
  new: number;
  changed: number;
  unchanged: number;
  removed: number;
  failed: number;
}

/** The checksum stage of a scan, run after the scan itself (its own queue job). */
export interface ScanChecksums {
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  /** Re-read files whose checksum is current too, comparing (bit-rot check). */
  verify: boolean;
  /** Present files under the scan's root and prefix looked at. */
  files: number;
  /** Hashed now (read in full). */
  hashed: number;
  /** Taken from the S3 object's SHA256 metadata without reading it. */
  fromObject: number;
  /** Already current (size and mtime/ETag unchanged since their checksum): not read. */
  current: number;
  /** Re-read and found to differ from the stored checksum. */
  mismatched: number;
  failed: number;
  /** Bytes read for hashing. */
  bytes: number;
  /** Files still to hash when the stage (re)started. */
  pending: number;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export interface ScanRecord {
  id: string;
  root: string;
  prefix: string;
  state: ScanState;
  counts: ScanCounts;
  bytes: number;
  /** The first errors (bounded); `counts.failed` has the total. */
  errors: { path: string; reason: string }[];
  /** Datasets whose totals disagreed with their files and were recomputed (set on completion). */
  repaired?: number;
  /** The checksum stage (absent: not queued, e.g. CHECKSUM_ENABLED=false or the scan did not complete). */
  checksums?: ScanChecksums;
  requestedBy: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

/** Whose scratch quota: one user, or a group (its limits apply to members without their own). */
export type QuotaSubjectKind = 'user' | 'group';

/** A quota set by an admin for one user or group (a limit left out is unlimited). */
export interface QuotaRecord {
  kind: QuotaSubjectKind;
  name: string;
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  graceSeconds?: number;
  reason: string;
  updatedAt: string;
  updatedBy: string;
}

/** Bytes (and files) an upload grant holds back until it completes or expires. */
export interface QuotaReservation {
  id: string;
  /** Path relative to the user's scratch directory (or S3 prefix). */
  path: string;
  bytes: number;
  files: number;
  target: 'posix' | 's3';
  createdAt: string;
  expiresAt: string;
}

/** What the service knows of one user's scratch use; changed only through `QuotaRepository.update`. */
export interface QuotaUsageState {
  kind: QuotaSubjectKind;
  name: string;
  usage: { bytes: number; files: number };
  /** When usage was last measured by a scan (absent: never scanned). */
  scannedAt?: string;
  /** When usage went over each soft limit (ISO); kept until it falls back under. */
  softSince: { bytes?: string; files?: string };
  reservations: QuotaReservation[];
  /**
   * Users: the groups they last called with, so group quotas, group
   * exemptions and reports hold in every process, before they call it again.
   */
  groups?: string[];
}

/** One day of a user's or group's scratch usage (the last value measured that day). */
export interface UsagePoint {
  kind: QuotaSubjectKind;
  name: string;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  bytes: number;
  files: number;
  /** When the value was measured (ISO); a later measurement of the same day replaces it. */
  at: string;
  /** A user's groups when measured (what a group's point sums over). */
  groups?: string[];
}

/** What a reconciliation (full scan) found the live usage view had drifted by, for one user. */
export interface UsageDrift {
  id: string;
  user: string;
  at: string;
  before: { bytes: number; files: number };
  after: { bytes: number; files: number };
}

/** A time-limited exemption from scratch rules (e.g. the purge) for a user or group. */
export interface QuotaExemption {
  id: string;
  kind: QuotaSubjectKind;
  name: string;
  scope: 'purge' | 'quota';
  /**
   * Purge exemptions: a glob relative to the user's directory (`results/**`);
   * absent = the whole directory.
   */
  pattern?: string;
  /** Requested by the user and not yet approved (absent = approved: admins create them directly). */
  status?: 'requested' | 'approved';
  reason: string;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
  approvedAt?: string;
  approvedBy?: string;
}

/**
 * One file on a user's stored purge plan. Its notice period counts from
 * `notifiedAt` (when the user was told), and the entry holds only while the
 * file keeps the size and times it had when planned.
 */
export interface PurgePlanEntry {
  user: string;
  /** Relative to the user's directory, printable (bytes that are not UTF-8 as \xNN). */
  path: string;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  /** When the file first appeared on the plan (ISO). */
  plannedAt: string;
  /** When the "entered the plan" notice went out (absent: not delivered yet). */
  notifiedAt?: string;
  /** When the "deleted in one day" notice went out. */
  dueSoonNotifiedAt?: string;
}

/** A file the fair-use purge deleted (kept for the retention period). */
export interface PurgedFileRecord {
  id: string;
  user: string;
  path: string;
  size: number;
  atime: string;
  mtime: string;
  purgedAt: string;
  reason: string;
  runId: string;
}

/** A promotion of scratch files to a derived dataset, as its job runs (scratch-quota). */
export type PromotionState = 'queued' | 'running' | 'done' | 'failed';

/** One file moved by a promotion: enough to put it back after a crash. */
export interface PromotionMove {
  /** Absolute paths on the service's filesystems (never shown to clients). */
  source: string;
  target: string;
  mode: 'rename' | 'copy';
  size: number;
  sha256: string;
}

export interface PromotionRecord {
  id: string;
  user: string;
  datasetId: string;
  state: PromotionState;
  /** Where a running job is: moving files, recording the dataset, deleting copied sources (past the point of no return). */
  phase: 'moving' | 'recording' | 'committing' | 'finished';
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** `derived/<project>/<group>/<user>/<title>/v<version>`. */
  directory: string;
  moved: { renamed: number; copied: number };
  /** Files moved so far (and the one being moved), for roll-back after a crash. */
  moves: PromotionMove[];
  current?: { source: string; target: string };
  datasetCreated: boolean;
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Bumped while the job runs: a running job not updated for a while was abandoned by its process. */
  updatedAt: string;
}
