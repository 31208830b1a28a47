import { UnavailableError, type AuditEntry, type Store } from '@climcat/core';
import mongoose, { type Connection } from 'mongoose';
import { MongoApiKeyRepository } from './mongo-api-key.repository';
import { MongoAuditRepository } from './mongo-audit.repository';
import { MongoDatasetRepository } from './mongo-dataset.repository';
import { MongoFileRepository } from './mongo-file.repository';
import { MongoQuotaRepository } from './mongo-quota.repository';
import { MongoPromotionRepository } from './mongo-promotion.repository';
import { MongoScanRepository } from './mongo-scan.repository';
import { MongoUsageHistoryRepository } from './mongo-usage-history.repository';
import { MAX_IDS_PER_CALL } from './mongo-support';
import { migrateSchema, verifySchema } from './mongo-migrations';
import {
  connectionOptions,
  detectTransactions,
  MongoTransactions,
  type TransactionSetting,
} from './mongo-consistency';
import { CountCache, WriteGeneration } from './mongo-count-cache';
import { DEFAULT_MAX_TIME_MS, limitReads, maxTimePlugin } from './mongo-max-time';
import type { StoreRoot } from '../shared/legacy-locations';
import {
  apiKeySchema,
  auditSchema,
  datasetSchema,
  fileSchema,
  generationSchema,
  META_COLLECTION,
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
import * as schemaModule from './schemas';

export interface MongoStoreOptions {
  /** Most ids per `$in` / by-id write (default and maximum MAX_IDS_PER_CALL). */
  idsPerCall?: number;
  /**
   * `auto` (default; standalone, dev, tests): run the migration at connect.
   * `verify` (production, where `climcat migrate` runs as a Job): only check; a
   * missing index keeps `ping` (readiness) failing with what is missing.
   */
  migrate?: 'auto' | 'verify';
  /** Server-side limit of every read and aggregation in ms (default DEFAULT_MAX_TIME_MS). */
  maxTimeMS?: number;
  /**
   * `auto` (default): the delete cascade and audit batches run as transactions
   * when the server accepts one (replica set, mongos); `off`: sequential writes.
   */
  transactions?: TransactionSetting;
  /** Hears what the store decided at connect (transaction mode) and the migration's steps. */
  log?: (message: string) => void;
}

// Once per process, before any model is compiled, on every schema the module declares (a schema
// added there is limited too); the limit itself is per connection.
for (const value of Object.values(schemaModule)) if (value instanceof mongoose.Schema) maxTimePlugin(value);

/** The production store: one mongoose connection; indexes built by the migration (mongo-migrations.ts). */
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

  /** Why the store cannot serve yet (verify mode): rechecked by `ping` until empty. */
  private schemaProblems: string[] = [];

  private constructor(
    private readonly connection: Connection,
    idsPerCall: number,
    private readonly transactions: MongoTransactions,
  ) {
    const datasets = connection.model('Dataset', datasetSchema);
    const files = connection.model('File', fileSchema);
    const audit = connection.model('AuditEntry', auditSchema);
    const apiKeys = connection.model('ApiKey', apiKeySchema);
    const scans = connection.model('Scan', scanSchema);
    this.datasets = new MongoDatasetRepository(
      datasets,
      idsPerCall,
      new WriteGeneration(connection.model('Generation', generationSchema), 'datasets'),
      new CountCache(),
      transactions,
    );
    this.audit = new MongoAuditRepository(audit, transactions);
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
    const maxTimeMS = options.maxTimeMS ?? DEFAULT_MAX_TIME_MS;
    if (!Number.isInteger(maxTimeMS) || maxTimeMS < 1) {
      throw new RangeError(`maxTimeMS must be a positive integer, got ${maxTimeMS}`);
    }
    const log = options.log ?? (() => undefined);
    // Write concern majority, primary reads, read concern majority, whatever the URI says.
    const connection = await mongoose.createConnection(uri, connectionOptions(dbName)).asPromise();
    limitReads(connection, maxTimeMS);
    try {
      const support = await detectTransactions(connection, options.transactions ?? 'auto', META_COLLECTION);
      log(
        support.enabled
          ? `MongoDB ${support.reason}: dataset delete cascades and audit batches run as transactions`
          : `MongoDB ${support.reason}: dataset delete cascades and audit batches run as sequential writes (a failure part-way leaves the writes before it)`,
      );
      log(
        support.enabled
          ? 'MongoDB searches read total, page and facet counts in one snapshot transaction'
          : 'MongoDB searches read total, page and facet counts side by side, each at its own moment',
      );
      const store = new MongoStore(
        connection,
        idsPerCall,
        new MongoTransactions(connection, support.enabled),
      );
      const db = store.db();
      if ((options.migrate ?? 'auto') === 'auto') await migrateSchema(db, roots, log);
      else store.schemaProblems = await verifySchema(db);
      return store;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async deleteDataset(
    id: string,
    expectedRevision: number | undefined,
    audit: AuditEntry[],
  ): Promise<number> {
    // The compare-and-set delete first: it decides whether anything happens at all. The generation
    // bump comes once the transaction has committed (or failed), as for every dataset write.
    await this.datasets.beginWrite();
    try {
      return await this.transactions.run(async (session) => {
        await this.datasets.delete(id, expectedRevision, session);
        const files = await this.files.deleteByDataset(id, session);
        await this.audit.appendIn(audit, session);
        return files;
      });
    } finally {
      await this.datasets.changed();
    }
  }

  async ping(): Promise<void> {
    const db = this.db();
    await db.command({ ping: 1 });
    if (this.schemaProblems.length) this.schemaProblems = await verifySchema(db);
    if (this.schemaProblems.length) {
      throw new UnavailableError(
        `MongoDB schema not ready (${this.schemaProblems.join('; ')}): run \`climcat migrate\` (npm run migrate)`,
      );
    }
  }

  private db() {
    const db = this.connection.db;
    if (!db) throw new UnavailableError('MongoDB connection is not open');
    return db;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
