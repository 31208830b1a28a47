import type { AuditEntry, Store } from '@climcat/core';
import type { StoreRoot } from '../shared/legacy-locations';
import { openDatabase, type Db } from './sqlite-database';
import { SqliteApiKeyRepository } from './sqlite-api-key.repository';
import { SqliteAuditRepository } from './sqlite-audit.repository';
import { SqliteDatasetRepository } from './sqlite-dataset.repository';
import { SqliteFileRepository } from './sqlite-file.repository';
import { SqlitePromotionRepository } from './sqlite-promotion.repository';
import { SqliteQuotaRepository } from './sqlite-quota.repository';
import { SqliteScanRepository } from './sqlite-scan.repository';
import { SqliteUsageHistoryRepository } from './sqlite-usage-history.repository';

/** The embedded store of standalone mode: one better-sqlite3 connection, WAL journal. */
export class SqliteStore implements Store {
  readonly adapter = 'sqlite';
  readonly datasets: SqliteDatasetRepository;
  readonly files: SqliteFileRepository;
  readonly audit: SqliteAuditRepository;
  readonly apiKeys: SqliteApiKeyRepository;
  readonly scans: SqliteScanRepository;
  readonly quotas: SqliteQuotaRepository;
  readonly promotions: SqlitePromotionRepository;
  readonly usageHistory: SqliteUsageHistoryRepository;

  private constructor(private readonly db: Db) {
    this.datasets = new SqliteDatasetRepository(db);
    this.audit = new SqliteAuditRepository(db);
    this.files = new SqliteFileRepository(db, this.datasets, this.audit);
    this.apiKeys = new SqliteApiKeyRepository(db);
    this.scans = new SqliteScanRepository(db);
    this.quotas = new SqliteQuotaRepository(db);
    this.promotions = new SqlitePromotionRepository(db);
    this.usageHistory = new SqliteUsageHistoryRepository(db);
  }

  /** `roots` upgrade rows written before locations were (root name, path). */
  static open(path: string, roots: readonly StoreRoot[] = []): SqliteStore {
    return new SqliteStore(openDatabase(path, { roots }));
  }

  async deleteDataset(
    id: string,
    expectedRevision: number | undefined,
    audit: AuditEntry[],
  ): Promise<number> {
    return this.db
      .transaction(() => {
        this.datasets.deleteNow(id, expectedRevision);
        const files = this.files.deleteByDatasetNow(id);
        this.audit.appendNow(audit);
        return files;
      })
      .immediate();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
