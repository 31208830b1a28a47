import { UnavailableError, type Store } from '@climcat/core';
import mongoose, { type Connection, type mongo } from 'mongoose';
import { MongoApiKeyRepository } from './mongo-api-key.repository';
import { MongoAuditRepository } from './mongo-audit.repository';
import { MongoDatasetRepository } from './mongo-dataset.repository';
import { MongoFileRepository } from './mongo-file.repository';
import { MongoQuotaRepository } from './mongo-quota.repository';
import { MongoPromotionRepository } from './mongo-promotion.repository';
import { MongoScanRepository } from './mongo-scan.repository';
import { MongoUsageHistoryRepository } from './mongo-usage-history.repository';
import { ensureIndexes, MAX_IDS_PER_CALL } from './mongo-support';
import { upgradeFileLocations } from './mongo-upgrades';
import type { StoreRoot } from '../shared/legacy-locations';
import {
  apiKeySchema,
  auditSchema,
  COLLECTIONS,
  INDEXES,
  type CollectionName,
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
    await Promise.all(
      (Object.entries(INDEXES) as [CollectionName, mongo.IndexDescription[]][]).map(([name, indexes]) =>
        ensureIndexes(this.connection.collection(name), indexes),
      ),
    );
  }
}
