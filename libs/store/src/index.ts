/**
 * Persistence adapters for the domain ports in `@climcat/core`: an embedded
 * SQLite store (standalone mode) and a MongoDB store (production), with the
 * same observable behaviour.
 */
import type { Store } from '@climcat/core';
import { MongoStore } from './mongo/mongo-store';
import { SqliteStore } from './sqlite/sqlite-store';

export type StoreOptions =
  | { adapter: 'sqlite'; /** File path, or ':memory:'. */ path: string }
  | { adapter: 'mongo'; uri: string; dbName?: string };

export async function createStore(options: StoreOptions): Promise<Store> {
  switch (options.adapter) {
    case 'sqlite':
      return SqliteStore.open(options.path);
    case 'mongo':
      return MongoStore.connect(options.uri, options.dbName);
  }
}
