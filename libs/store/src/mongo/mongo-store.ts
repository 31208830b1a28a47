import { UnavailableError, type Store } from '@climcat/core';
import mongoose, { type Connection } from 'mongoose';
import { API_KEY_INDEXES, MongoApiKeyRepository } from './mongo-api-key.repository';
import { AUDIT_INDEXES, MongoAuditRepository } from './mongo-audit.repository';
import { DATASET_INDEXES, MongoDatasetRepository } from './mongo-dataset.repository';
import { FILE_INDEXES, MongoFileRepository } from './mongo-file.repository';
import {
  LEASE_INDEXES,
  MongoQuotaRepository,
  PURGE_PLAN_INDEXES,
  PURGED_FILE_INDEXES,
  QUOTA_EXEMPTION_INDEXES,
  QUOTA_INDEXES,
  QUOTA_STATE_INDEXES,
} from './mongo-quota.repository';
import { MongoPromotionRepository, PROMOTION_INDEXES } from './mongo-promotion.repository';
import { MongoScanRepository, SCAN_INDEXES } from './mongo-scan.repository';
import {
  MongoUsageHistoryRepository,
  USAGE_DRIFT_INDEXES,
  USAGE_HISTORY_INDEXES,
} from './mongo-usage-history.repository';
import { ensureIndexes, MAX_IDS_PER_CALL } from './mongo-support';
import { upgradeFileLocations } from './mongo-upgrades';
import type { StoreRoot } from '../shared/legacy-locations';
import {
  apiKeySchema,
  auditSchema,
  COLLECTIONS,
  datasetSchema,
  fileSchema,
  promotionSchema,
  leaseSchema,
  purgedFileSchema,
  purgePlanSchema,
  quotaExemptionSchema,
  quotaSchema,
  quotaStateSchema,
  scanSchema,
  usageDriftSchema,
  usagePointSchema,
} from './schemas';

export interface MongoStoreOptions {
  /** Most ids per `$in` / by-id write (default and maximum MAX_IDS_PER_CALL). */
  idsPerCall?: number;
}

/** The production store: one mongoose connection, indexes created explicitly at start. */
export class MongoStore implements Store {
  readonly adapter = 'mongo';
  readonly datasets: MongoDatasetRepository;
  readonly files: MongoFileRepository;
  readonly audit: MongoAuditRepository;
  readonly apiKeys: MongoApiKeyRepository;
  readonly scans: MongoScanRepository;
  readonly quotas: MongoQuotaRepository;
  readonly promotions: MongoPromotionRepository;
  readonly usageHistory: MongoUsageHistoryRepository;

  private constructor(
    private readonly connection: Connection,
    idsPerCall: number,
  ) {
    const datasets = connection.model('Dataset', datasetSchema);
    const files = connection.model('File', fileSchema);
    const audit = connection.model('AuditEntry', auditSchema);
    const apiKeys = connection.model('ApiKey', apiKeySchema);
    const scans = connection.model('Scan', scanSchema);
    this.datasets = new MongoDatasetRepository(datasets, idsPerCall);
    this.audit = new MongoAuditRepository(audit);
    this.files = new MongoFileRepository(files, this.datasets, this.audit, idsPerCall);
    this.apiKeys = new MongoApiKeyRepository(apiKeys);
    this.scans = new MongoScanRepository(scans);
    this.quotas = new MongoQuotaRepository(
      connection.model('Quota', quotaSchema),
      connection.model('QuotaState', quotaStateSchema),
      connection.model('QuotaExemption', quotaExemptionSchema),
      connection.model('PurgePlanEntry', purgePlanSchema),
      connection.model('PurgedFile', purgedFileSchema),
      connection.model('Lease', leaseSchema),
      idsPerCall,
    );
    this.promotions = new MongoPromotionRepository(connection.model('Promotion', promotionSchema));
    this.usageHistory = new MongoUsageHistoryRepository(
      connection.model('UsagePoint', usagePointSchema),
      connection.model('UsageDrift', usageDriftSchema),
    );
  }

  /** `roots` upgrade file documents written before locations were (root name, path). */
  static async connect(
    uri: string,
    dbName?: string,
    roots: readonly StoreRoot[] = [],
    options: MongoStoreOptions = {},
  ): Promise<MongoStore> {
    const idsPerCall = options.idsPerCall ?? MAX_IDS_PER_CALL;
    if (!Number.isInteger(idsPerCall) || idsPerCall < 1 || idsPerCall > MAX_IDS_PER_CALL) {
      throw new RangeError(`idsPerCall must be an integer in 1..${MAX_IDS_PER_CALL}, got ${idsPerCall}`);
    }
    // autoCreate/autoIndex off: collections appear on first write and indexes are built below,
    // explicitly, so start-up never depends on `create` or on mongoose's background index builds.
    const connection = await mongoose
      .createConnection(uri, { dbName, autoCreate: false, autoIndex: false })
      .asPromise();
    try {
      const store = new MongoStore(connection, idsPerCall);
      await upgradeFileLocations(connection.collection(COLLECTIONS.files), roots);
      await store.ensureIndexes();
      return store;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async ping(): Promise<void> {
    const db = this.connection.db;
    if (!db) throw new UnavailableError('MongoDB connection is not open');
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private async ensureIndexes(): Promise<void> {
    const c = (name: string) => this.connection.collection(name);
    await Promise.all([
      ensureIndexes(c(COLLECTIONS.datasets), DATASET_INDEXES),
      ensureIndexes(c(COLLECTIONS.files), FILE_INDEXES),
      ensureIndexes(c(COLLECTIONS.audit), AUDIT_INDEXES),
      ensureIndexes(c(COLLECTIONS.apiKeys), API_KEY_INDEXES),
      ensureIndexes(c(COLLECTIONS.scans), SCAN_INDEXES),
      ensureIndexes(c(COLLECTIONS.quotas), QUOTA_INDEXES),
      ensureIndexes(c(COLLECTIONS.quotaState), QUOTA_STATE_INDEXES),
      ensureIndexes(c(COLLECTIONS.quotaExemptions), QUOTA_EXEMPTION_INDEXES),
      ensureIndexes(c(COLLECTIONS.promotions), PROMOTION_INDEXES),
      ensureIndexes(c(COLLECTIONS.purgePlan), PURGE_PLAN_INDEXES),
      ensureIndexes(c(COLLECTIONS.purgedFiles), PURGED_FILE_INDEXES),
      ensureIndexes(c(COLLECTIONS.leases), LEASE_INDEXES),
      ensureIndexes(c(COLLECTIONS.usageHistory), USAGE_HISTORY_INDEXES),
      ensureIndexes(c(COLLECTIONS.usageDrift), USAGE_DRIFT_INDEXES),
    ]);
  }
}
