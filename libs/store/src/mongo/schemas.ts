/**
 * Mongoose schemas: the stored shape of each collection. Documents never leave
 * the repositories; they are read with `lean()` and mapped to plain records
 * (see `toRecord`), dropping `_id`, `__v` and the derived `search` keys.
 *
 * Conventions: `strict: 'throw'` so a record field the schema does not know
 * fails loudly instead of being dropped; `minimize: false` so empty objects
 * round-trip; arrays default to undefined so absent optional arrays stay absent.
 */
import { Schema, type mongo } from 'mongoose';
import {
  AVAILABILITIES,
  DATASET_KINDS,
  DATASET_STATUSES,
  type ApiKeyRecord,
  type AuditEntry,
  type DatasetRecord,
  type FileRecord,
  type PromotionRecord,
  type PurgedFileRecord,
  type PurgePlanEntry,
  type QuotaExemption,
  type QuotaRecord,
  type QuotaUsageState,
  type ScanRecord,
  type UsageDrift,
  type UsagePoint,
} from '@climcat/core';
import type { GenerationDocument } from './mongo-count-cache';

export const COLLECTIONS = {
  datasets: 'datasets',
  files: 'files',
  audit: 'audit',
  apiKeys: 'api_keys',
  scans: 'scans',
  quotas: 'quotas',
  quotaState: 'quota_state',
  quotaExemptions: 'quota_exemptions',
  promotions: 'promotions',
  purgePlan: 'purge_plan',
  purgedFiles: 'purged_files',
  leases: 'leases',
  usageHistory: 'usage_history',
  usageDrift: 'usage_drift',
} as const;

export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];

/**
 * climcat's own bookkeeping, one document per purpose, found by `_id` (no
 * declared index): `schema` (the migrated version) and `datasets` (the write
 * generation search counts are cached under, mongo-count-cache.ts).
 */
export const META_COLLECTION = 'climcat_meta';

/**
 * Every index, in one place: what `climcat migrate` builds and app start
 * verifies. Each query and the index serving it are listed in README.md, and
 * the index-coverage test (test/store) fails when a query of the contract
 * suite has none. Changing an index's keys means a new name: MongoDB refuses
 * a second definition under an existing name (errors 85/86), and the
 * migration drops the old name as obsolete.
 */
export const INDEXES: Record<CollectionName, mongo.IndexDescription[]> = {
  datasets: [
    { key: { id: 1 }, name: 'id', unique: true },
    { key: { datasetId: 1, id: 1 }, name: 'sort_datasetId' },
    { key: { createdAt: 1, id: 1 }, name: 'sort_createdAt' },
    { key: { updatedAt: 1, id: 1 }, name: 'sort_updatedAt' },
    { key: { size: 1, id: 1 }, name: 'sort_size' },
    { key: { 'search.facets.n': 1, 'search.facets.v': 1 }, name: 'search_facets' },
    { key: { 'search.tokens': 1 }, name: 'search_tokens' },
    { key: { 'search.timeStart': 1, 'search.timeEnd': 1 }, name: 'search_time' },
    { key: { 'search.south': 1, 'search.north': 1 }, name: 'search_lat' },
    { key: { 'search.lon.min': 1, 'search.lon.max': 1 }, name: 'search_lon' },
    { key: { 'access.ownerGroup': 1 }, name: 'access_ownerGroup' },
    { key: { 'access.accessGroups': 1 }, name: 'access_accessGroups' },
    { key: { 'access.public': 1 }, name: 'access_public' },
    { key: { 'provenance.derivedFrom': 1 }, name: 'provenance_derivedFrom' },
    { key: { kind: 1, project: 1 }, name: 'kind_project' },
    // `latest=true` (status) is the most frequent ESGF parameter.
    { key: { status: 1 }, name: 'status' },
    { key: { availability: 1 }, name: 'availability' },
  ],
  files: [
    { key: { id: 1 }, name: 'id', unique: true },
    // Not `location`: that name was the old (kind, root, path) index, which mongo-upgrades.ts drops.
    { key: { 'location.root': 1, 'location.path': 1 }, name: 'root_path', unique: true },
    // listByDataset's equality (datasetId, status) then its sort (path, id): no blocking sort.
    { key: { datasetId: 1, status: 1, 'location.path': 1, id: 1 }, name: 'dataset_listing' },
    { key: { datasetId: 1, status: 1, 'timeCoverage.start': 1 }, name: 'dataset_time_start' },
    { key: { datasetId: 1, status: 1, 'timeCoverage.end': 1 }, name: 'dataset_time_end' },
    // Only files whose totals refresh has not finished carry `pending`: settlePending's keyset on id
    // walks just those.
    {
      key: { id: 1 },
      name: 'pending_id',
      partialFilterExpression: { 'pending.token': { $exists: true } },
    },
  ],
  audit: [
    { key: { id: 1 }, name: 'id', unique: true },
    // `latest` and listings break ties within a millisecond by insertion order (_id; ids are random).
    { key: { entityType: 1, entityId: 1, at: -1, _id: -1 }, name: 'entity_latest' },
  ],
  api_keys: [
    { key: { id: 1 }, name: 'id', unique: true },
    { key: { hash: 1 }, name: 'hash', unique: true },
    { key: { createdAt: -1, id: -1 }, name: 'newest' },
  ],
  scans: [
    { key: { id: 1 }, name: 'id', unique: true },
    { key: { createdAt: -1, id: -1 }, name: 'newest' },
  ],
  quotas: [{ key: { kind: 1, name: 1 }, name: 'subject', unique: true }],
  quota_state: [{ key: { kind: 1, name: 1 }, name: 'subject', unique: true }],
  quota_exemptions: [
    { key: { id: 1 }, name: 'id', unique: true },
    // A subject's active exemptions, newest first: equality, then the sort (expiresAt is checked on the documents).
    { key: { kind: 1, name: 1, createdAt: -1, id: -1 }, name: 'subject_newest' },
  ],
  promotions: [
    { key: { id: 1 }, name: 'id', unique: true },
    { key: { user: 1, createdAt: -1, id: -1 }, name: 'user_newest' },
    // Recovery's queued and running jobs, oldest first ($in on state merges the sorted runs).
    { key: { state: 1, createdAt: 1 }, name: 'state_created' },
  ],
  purge_plan: [{ key: { user: 1, path: 1, generation: 1 }, name: 'user_path_generation', unique: true }],
  purged_files: [
    { key: { id: 1 }, name: 'id', unique: true },
    { key: { user: 1, purgedAt: -1, id: -1 }, name: 'user_newest' },
    { key: { purgedAt: 1 }, name: 'purged_at' },
  ],
  leases: [{ key: { name: 1 }, name: 'name', unique: true }],
  usage_history: [
    { key: { kind: 1, name: 1, day: 1 }, name: 'subject_day', unique: true },
    { key: { day: 1 }, name: 'day' },
  ],
  usage_drift: [
    { key: { id: 1 }, name: 'id', unique: true },
    // Drift listings, newest first, ties by insertion order: per user and for everyone.
    { key: { user: 1, at: -1, _id: -1 }, name: 'user_newest' },
    { key: { at: -1, _id: -1 }, name: 'newest' },
  ],
};

const nested = { _id: false, minimize: false, strict: 'throw' } as const;

function topLevel(collection: string) {
  return {
    collection,
    minimize: false,
    strict: 'throw',
    versionKey: false,
    id: false,
    autoCreate: false,
    autoIndex: false,
  } as const;
}

const strings = { type: [String], default: undefined };

/** Derived keys the dataset search queries (see README for the indexes). */
export interface DatasetSearchDocument {
  tokens: string[];
  facets: { n: string; v: string }[];
  lon: { min: number; max: number }[];
  south?: number;
  north?: number;
  timeStart?: string;
  timeEnd?: string;
}

export type DatasetDocument = DatasetRecord & { search: DatasetSearchDocument };

const timeCoverageSchema = new Schema(
  { start: String, end: String, calendar: String, frequency: String },
  nested,
);

export const datasetSchema = new Schema<DatasetDocument>(
  {
    id: { type: String, required: true },
    datasetId: String,
    version: String,
    kind: { type: String, enum: DATASET_KINDS },
    project: String,
    facets: Schema.Types.Mixed,
    variables: {
      type: [new Schema({ name: String, standardName: String, longName: String, units: String }, nested)],
      default: undefined,
    },
    timeCoverage: timeCoverageSchema,
    bbox: { type: [Number], default: undefined },
    gridType: String,
    size: Number,
    fileCount: Number,
    access: new Schema({ public: Boolean, ownerGroup: String, accessGroups: strings }, nested),
    status: { type: String, enum: DATASET_STATUSES },
    statusReason: String,
    availability: { type: String, enum: AVAILABILITIES },
    title: String,
    description: String,
    keywords: strings,
    license: String,
    citation: String,
    contacts: {
      type: [new Schema({ name: String, email: String, role: String }, nested)],
      default: undefined,
    },
    provenance: new Schema(
      {
        derivedFrom: strings,
        software: String,
        softwareVersion: String,
        script: String,
        parameters: Schema.Types.Mixed,
        author: String,
      },
      nested,
    ),
    warnings: strings,
    aggregationWarnings: {
      type: [new Schema({ code: String, message: String, file: String }, nested)],
      default: undefined,
    },
    checksumWarnings: {
      type: [new Schema({ code: String, message: String, file: String }, nested)],
      default: undefined,
    },
    createdAt: String,
    updatedAt: String,
    revision: Number,
    search: new Schema(
      {
        tokens: strings,
        facets: { type: [new Schema({ n: String, v: String }, nested)], default: undefined },
        lon: { type: [new Schema({ min: Number, max: Number }, nested)], default: undefined },
        south: Number,
        north: Number,
        timeStart: String,
        timeEnd: String,
      },
      nested,
    ),
  },
  topLevel(COLLECTIONS.datasets),
);

/**
 * Set on a file in the same write that registers or removes it, cleared once
 * its datasets' totals are recomputed: what a crash in between leaves for
 * `settlePending`. `datasets` are refreshed besides the file's own (the one it moved from).
 */
export interface PendingTotals {
  token: string;
  datasets: string[];
}

export type FileDocument = FileRecord & { pending?: PendingTotals };

export const fileSchema = new Schema<FileDocument>(
  {
    id: { type: String, required: true },
    datasetId: String,
    location: new Schema({ root: String, path: String }, nested),
    size: Number,
    mtime: String,
    etag: String,
    sha256: String,
    checksum: new Schema(
      {
        size: Number,
        mtime: String,
        etag: String,
        at: String,
        source: { type: String, enum: ['computed', 'object'] },
        mismatch: String,
      },
      nested,
    ),
    format: String,
    timeCoverage: timeCoverageSchema,
    variables: strings,
    status: { type: String, enum: ['present', 'removed'] },
    availability: { type: String, enum: ['online', 'offline'] },
    createdAt: String,
    updatedAt: String,
    pending: new Schema({ token: String, datasets: strings }, nested),
  },
  topLevel(COLLECTIONS.files),
);

export const auditSchema = new Schema<AuditEntry>(
  {
    id: { type: String, required: true },
    entityType: String,
    entityId: String,
    action: String,
    actor: String,
    at: String,
    changes: {
      type: [new Schema({ path: String, from: Schema.Types.Mixed, to: Schema.Types.Mixed }, nested)],
      default: undefined,
    },
    requestId: String,
    note: String,
  },
  topLevel(COLLECTIONS.audit),
);

export const apiKeySchema = new Schema<ApiKeyRecord>(
  {
    id: { type: String, required: true },
    name: String,
    hash: String,
    prefix: String,
    roles: strings,
    groups: strings,
    // Absent on keys created before users had names: they go by their name (see the auth service).
    user: String,
    createdAt: String,
    createdBy: String,
    expiresAt: String,
    revokedAt: String,
  },
  topLevel(COLLECTIONS.apiKeys),
);

export const scanSchema = new Schema<ScanRecord>(
  {
    id: { type: String, required: true },
    root: String,
    prefix: String,
    state: { type: String, enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
    counts: new Schema(
      { seen: Number, new: Number, changed: Number, unchanged: Number, removed: Number, failed: Number },
      nested,
    ),
    bytes: Number,
    errors: { type: [new Schema({ path: String, reason: String }, nested)], default: undefined },
    repaired: Number,
    checksums: new Schema(
      {
        state: { type: String, enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
        verify: Boolean,
        files: Number,
        hashed: Number,
        fromObject: Number,
        current: Number,
        mismatched: Number,
        failed: Number,
        bytes: Number,
        pending: Number,
        startedAt: String,
        finishedAt: String,
        message: String,
      },
      nested,
    ),
    requestedBy: String,
    createdAt: String,
    startedAt: String,
    finishedAt: String,
    message: String,
  },
  { ...topLevel(COLLECTIONS.scans), suppressReservedKeysWarning: true },
);

const subjectKind = { type: String, enum: ['user', 'group'], required: true };

export const quotaSchema = new Schema<QuotaRecord>(
  {
    kind: subjectKind,
    name: { type: String, required: true },
    softBytes: Number,
    hardBytes: Number,
    softFiles: Number,
    hardFiles: Number,
    graceSeconds: Number,
    reason: String,
    updatedAt: String,
    updatedBy: String,
  },
  topLevel(COLLECTIONS.quotas),
);

/** A usage state plus the revision its compare-and-set updates go by (never leaves the repository). */
export type QuotaUsageStateDocument = QuotaUsageState & { revision: number };

export const quotaStateSchema = new Schema<QuotaUsageStateDocument>(
  {
    kind: subjectKind,
    name: { type: String, required: true },
    usage: new Schema({ bytes: Number, files: Number }, nested),
    scannedAt: String,
    softSince: new Schema({ bytes: String, files: String }, nested),
    // Replaced whole by each compare-and-set ($push/$pull are not needed, and the test server lacks them).
    reservations: {
      type: [
        new Schema(
          {
            id: String,
            path: String,
            bytes: Number,
            files: Number,
            target: { type: String, enum: ['posix', 's3'] },
            createdAt: String,
            expiresAt: String,
          },
          nested,
        ),
      ],
      default: undefined,
    },
    groups: { type: [String], default: undefined },
    revision: { type: Number, required: true },
  },
  topLevel(COLLECTIONS.quotaState),
);

export const quotaExemptionSchema = new Schema<QuotaExemption>(
  {
    id: { type: String, required: true },
    kind: subjectKind,
    name: { type: String, required: true },
    scope: { type: String, enum: ['purge', 'quota'] },
    pattern: String,
    status: { type: String, enum: ['requested', 'approved'] },
    reason: String,
    expiresAt: String,
    createdAt: String,
    createdBy: String,
    approvedAt: String,
    approvedBy: String,
  },
  topLevel(COLLECTIONS.quotaExemptions),
);

const count = () => new Schema({ done: Number, total: Number }, nested);

export const promotionSchema = new Schema<PromotionRecord>(
  {
    id: { type: String, required: true },
    user: { type: String, required: true },
    datasetId: String,
    state: { type: String, enum: ['queued', 'running', 'done', 'failed'] },
    phase: { type: String, enum: ['moving', 'recording', 'committing', 'finished'] },
    files: count(),
    bytes: count(),
    directory: String,
    moved: new Schema({ renamed: Number, copied: Number }, nested),
    moves: {
      type: [
        new Schema(
          {
            source: String,
            target: String,
            mode: { type: String, enum: ['rename', 'copy'] },
            size: Number,
            sha256: String,
          },
          nested,
        ),
      ],
      default: undefined,
    },
    current: new Schema({ source: String, target: String }, nested),
    datasetCreated: Boolean,
    error: String,
    createdAt: String,
    startedAt: String,
    finishedAt: String,
    updatedAt: String,
  },
  topLevel(COLLECTIONS.promotions),
);

export const generationSchema = new Schema<GenerationDocument>(
  { _id: { type: String, required: true }, generation: Number, pending: Number },
  topLevel(META_COLLECTION),
);

/** A plan entry plus the generation of the save that wrote it (never leaves the repository). */
export type PurgePlanDocument = PurgePlanEntry & { generation: number };

export const purgePlanSchema = new Schema<PurgePlanDocument>(
  {
    user: { type: String, required: true },
    path: { type: String, required: true },
    size: Number,
    atimeMs: Number,
    mtimeMs: Number,
    plannedAt: String,
    notifiedAt: String,
    dueSoonNotifiedAt: String,
    generation: { type: Number, required: true },
  },
  topLevel(COLLECTIONS.purgePlan),
);

export const purgedFileSchema = new Schema<PurgedFileRecord>(
  {
    id: { type: String, required: true },
    user: { type: String, required: true },
    path: String,
    size: Number,
    atime: String,
    mtime: String,
    purgedAt: String,
    reason: String,
    runId: String,
  },
  topLevel(COLLECTIONS.purgedFiles),
);

export interface LeaseDocument {
  name: string;
  holder: string;
  until: string;
}

export const leaseSchema = new Schema<LeaseDocument>(
  { name: { type: String, required: true }, holder: String, until: String },
  topLevel(COLLECTIONS.leases),
);

export const usagePointSchema = new Schema<UsagePoint>(
  {
    kind: subjectKind,
    name: { type: String, required: true },
    day: { type: String, required: true },
    bytes: Number,
    files: Number,
    at: String,
    groups: strings,
  },
  topLevel(COLLECTIONS.usageHistory),
);

const usageSchema = new Schema({ bytes: Number, files: Number }, nested);

export const usageDriftSchema = new Schema<UsageDrift>(
  {
    id: { type: String, required: true },
    user: { type: String, required: true },
    at: String,
    before: usageSchema,
    after: usageSchema,
  },
  topLevel(COLLECTIONS.usageDrift),
);

/** Plain record from a lean document: no `_id`, `__v` or derived keys. */
export function toRecord<T>(doc: object, ...derived: string[]): T {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key !== '_id' && key !== '__v' && !derived.includes(key)) record[key] = value;
  }
  return record as T;
}
