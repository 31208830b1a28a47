import Database from 'better-sqlite3';
import { ConflictError } from '@climcat/core';
import { MIGRATIONS, type MigrationContext } from './sqlite-migrations';

export type Db = Database.Database;

/** Opens (creating if needed) and migrates the database file. */
export function openDatabase(path: string, context: MigrationContext): Db {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -65536');
    db.pragma('mmap_size = 268435456');
    migrate(db, context);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function migrate(db: Db, context: MigrationContext): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length)
    throw new Error(
      `database schema version ${current} is newer than this build supports (${MIGRATIONS.length})`,
    );
  MIGRATIONS.slice(current).forEach((step, i) => {
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step);
      else step(db, context);
      db.pragma(`user_version = ${current + i + 1}`);
    })();
  });
}

function isUniqueViolation(error: unknown): boolean {
  // Duck-typed: under jest the native module's errors come from another realm.
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}

/** Runs `fn`, turning a unique-key violation into `ConflictError`. */
export function conflictOnDuplicate<T>(fn: () => T, message: string): T {
  try {
    return fn();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(message);
    throw error;
  }
}

/** Keeps prepared statements per SQL text (search builds SQL from the query's shape). */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Db,
    private readonly capacity = 256,
  ) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      // Refresh recency.
      this.statements.delete(sql);
    } else {
      statement = this.db.prepare(sql);
      if (this.statements.size >= this.capacity) {
        const oldest = this.statements.keys().next();
        if (!oldest.done) this.statements.delete(oldest.value);
      }
    }
    this.statements.set(sql, statement);
    return statement;
  }
}
