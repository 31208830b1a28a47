/**
 * Persistence adapters for the domain ports in `@climcat/core`: an embedded
 * SQLite store (standalone mode) and a MongoDB store (production), with the
 * same observable behaviour.
 */
import type { Store } from '@climcat/core';
import mongoose from 'mongoose';
import { migrateSchema, type MigrationReport } from './mongo/mongo-migrations';
import { connectionOptions } from './mongo/mongo-consistency';
import { MongoStore } from './mongo/mongo-store';
import type { StoreRoot } from './shared/legacy-locations';
import { SqliteStore } from './sqlite/sqlite-store';

export type { StoreRoot } from './shared/legacy-locations';
/** The mongo adapter's declared indexes per collection (what migrations build and start verifies). */
export { INDEXES as MONGO_INDEXES } from './mongo/schemas';
export { SCHEMA_VERSION as MONGO_SCHEMA_VERSION } from './mongo/mongo-migrations';

export type StoreOptions = (
  | { adapter: 'sqlite'; /** File path, or ':memory:'. */ path: string }
  | {
      adapter: 'mongo';
      uri: string;
      dbName?: string;
      /** Most ids per `$in` / by-id write (default and maximum 10,000); lowered by tests. */
      idsPerCall?: number;
      /** Server-side limit of every read and aggregation, in ms (default 30,000); MaxTimeMSExpired → UnavailableError. */
      maxTimeMS?: number;
      /** `auto` (default): migrate at connect; `verify`: only check (see migrateStore). */
      migrate?: 'auto' | 'verify';
      /** `auto` (default): transactions where the server accepts them (delete cascade, audit batches); `off`: sequential. */
      transactions?: 'auto' | 'off';
      /** Hears what the store decided at connect (transaction mode, migration steps). */
      log?: (message: string) => void;
    }
) & {
  /**
   * The configured storage roots. Opening a store written before locations
   * were (root name, path) upgrades its file rows: S3 rows named a bucket and
   * now name that bucket's root (see legacyBucketRoots).
   */
  roots?: readonly StoreRoot[];
};

export async function createStore(options: StoreOptions): Promise<Store> {
  const roots = options.roots ?? [];
  switch (options.adapter) {
    case 'sqlite':
      return SqliteStore.open(options.path, roots);
    case 'mongo':
      return MongoStore.connect(options.uri, options.dbName, roots, {
        idsPerCall: options.idsPerCall,
        migrate: options.migrate,
        maxTimeMS: options.maxTimeMS,
        transactions: options.transactions,
        log: options.log,
      });
  }
}

export type { MigrationReport } from './mongo/mongo-migrations';

/**
 * `climcat migrate`: brings the store's schema to this release's. MongoDB:
 * builds missing indexes, drops retired ones, upgrades legacy rows, records
 * the schema version (safe to run from several processes at once). SQLite
 * migrates itself whenever it opens, so this only opens and closes it.
 */
export async function migrateStore(
  options: StoreOptions,
  log: (message: string) => void = () => undefined,
): Promise<MigrationReport | null> {
  if (options.adapter === 'sqlite') {
    await SqliteStore.open(options.path, options.roots ?? []).close();
    return null;
  }
  const connection = await mongoose
    .createConnection(options.uri, connectionOptions(options.dbName))
    .asPromise();
  try {
    if (!connection.db) throw new Error('MongoDB connection is not open');
    return await migrateSchema(connection.db, options.roots ?? [], log);
  } finally {
    await connection.close();
  }
}
