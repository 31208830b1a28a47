/**
 * Persistence adapters for the domain ports in `@climcat/core`: an embedded
 * SQLite store (standalone mode) and a MongoDB store (production), with the
 * same observable behaviour.
 */
import type { Store } from '@climcat/core';
import { MongoStore } from './mongo/mongo-store';
import type { StoreRoot } from './shared/legacy-locations';
import { SqliteStore } from './sqlite/sqlite-store';

export type { StoreRoot } from './shared/legacy-locations';
/** The mongo adapter's declared indexes per collection (what migrations build and start verifies). */
export { INDEXES as MONGO_INDEXES } from './mongo/schemas';

export type StoreOptions = (
  | { adapter: 'sqlite'; /** File path, or ':memory:'. */ path: string }
  | {
      adapter: 'mongo';
      uri: string;
      dbName?: string;
      /** Most ids per `$in` / by-id write (default and maximum 10,000); lowered by tests. */
      idsPerCall?: number;
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
      return MongoStore.connect(options.uri, options.dbName, roots, { idsPerCall: options.idsPerCall });
  }
}
