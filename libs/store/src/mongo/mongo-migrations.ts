/**
 * Indexes as a migration: `climcat migrate` (or a store opened with
 * `migrate: 'auto'`) diffs the declared indexes against `listIndexes`, builds
 * the missing ones, drops the ones climcat once declared and no longer does,
 * and records the schema version. A store opened with `migrate: 'verify'`
 * only checks, so a populated collection never blocks start-up on an index
 * build. Every step is idempotent, so replicas or Jobs running it at once are
 * safe: concurrent createIndex of one spec is a no-op, a second drop finds
 * nothing, and the version only moves forward.
 */
import type { mongo } from 'mongoose';
import { INDEXES, META_COLLECTION, type CollectionName } from './schemas';
import { upgradeFileLocations } from './mongo-upgrades';
import type { StoreRoot } from '../shared/legacy-locations';

/** Bumped whenever INDEXES or a stored shape changes. */
export const SCHEMA_VERSION = 3;

/**
 * Index names climcat declared once and no longer does: the only ones a
 * migration drops (an operator's own indexes are never touched).
 */
export const RETIRED_INDEXES: Partial<Record<CollectionName, string[]>> = {
  // Replaced by dataset_listing (id tie-breaker for the sort) and pending_id (partial, on id).
  files: ['dataset_path', 'pending'],
  // Listings now break ties by insertion order, as `latest` does: entity_latest serves both.
  audit: ['entity_newest'],
  // Schema 3: the listings' sort keys (and tie-breakers) follow their equality keys.
  quota_exemptions: ['subject_expiry'],
  promotions: ['state'],
  purged_files: ['user_purged_at'],
  usage_drift: ['user_at', 'at'],
};

/** Server answers meaning "this server cannot do that at all" (the MongoDB-wire test server). */
const UNSUPPORTED_CODES = new Set([59 /* CommandNotFound */, 115 /* CommandNotSupported */, 238]);
const INDEX_NOT_FOUND = 27;
const NAMESPACE_NOT_FOUND = 26;
const NAMESPACE_EXISTS = 48;
const DUPLICATE_KEY = 11000;

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

interface StoredIndex {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Record<string, unknown>;
}

/** What a collection's indexes lack or carry beyond the declaration. */
export interface IndexDiff {
  collection: CollectionName;
  missing: mongo.IndexDescription[];
  /** Declared names stored with other keys or options: a human must decide (error 85/86 otherwise). */
  conflicting: { name: string; stored: StoredIndex; declared: mongo.IndexDescription }[];
  retired: string[];
}

export interface MigrationReport {
  fromVersion: number;
  toVersion: number;
  /** Collections this run created (with the simple collation); empty where the server cannot `create`. */
  collections: string[];
  created: string[];
  dropped: string[];
}

/**
 * Binary (code-point) string comparison: what the index bounds, the prefix
 * ranges and the sorts of the contract rely on, the same as sqlite's.
 */
const SIMPLE_COLLATION = { locale: 'simple' } as const;

/**
 * Creates climcat's collections with an explicit simple collation, before any
 * index (createIndexes would create them with the server's default), and
 * refuses collections an operator created with another collation: their
 * string order and equality differ from what the queries assume. A server
 * without `create` (the MongoDB-wire test server) is logged and skipped: its
 * collections appear on first write, with simple comparison.
 */
async function createCollections(db: mongo.Db, log: (message: string) => void): Promise<string[]> {
  const names = [...Object.keys(INDEXES), META_COLLECTION];
  const created: string[] = [];
  for (const name of names) {
    try {
      await db.createCollection(name, { collation: SIMPLE_COLLATION });
      created.push(name);
      log(`created collection ${name} (simple collation)`);
    } catch (error) {
      const code = codeOf(error);
      if (code === NAMESPACE_EXISTS) continue; // exists (another process, or an earlier run): checked below
      if (typeof code === 'number' && UNSUPPORTED_CODES.has(code)) {
        log(
          `server cannot create collections (code ${code}): they appear on first write, not with an explicit collation`,
        );
        return created;
      }
      throw error;
    }
  }
  const infos = (await db.listCollections({}, { nameOnly: false }).toArray()) as {
    name: string;
    options?: { collation?: { locale?: string } };
  }[];
  const foreign = infos.filter(
    (info) => names.includes(info.name) && (info.options?.collation?.locale ?? 'simple') !== 'simple',
  );
  if (foreign.length) {
    throw new Error(
      `collections ${foreign.map((f) => `${f.name} (collation ${JSON.stringify(f.options?.collation)})`).join(', ')} ` +
        'do not use the simple collation that climcat queries and indexes assume: recreate them without a collation',
    );
  }
  return created;
}

function sameSpec(stored: StoredIndex, declared: mongo.IndexDescription): boolean {
  return (
    JSON.stringify(stored.key) === JSON.stringify(declared.key) &&
    !!stored.unique === !!declared.unique &&
    !!stored.sparse === !!declared.sparse &&
    JSON.stringify(stored.partialFilterExpression ?? null) ===
      JSON.stringify(declared.partialFilterExpression ?? null)
  );
}

async function storedIndexes(collection: mongo.Collection): Promise<StoredIndex[]> {
  try {
    return (await collection.listIndexes().toArray()) as StoredIndex[];
  } catch (error) {
    if (codeOf(error) === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

/** The difference between the declared and the stored indexes of every collection. */
export async function diffIndexes(db: mongo.Db): Promise<IndexDiff[]> {
  return Promise.all(
    (Object.entries(INDEXES) as [CollectionName, mongo.IndexDescription[]][]).map(
      async ([name, declared]) => {
        const stored = await storedIndexes(db.collection(name));
        const byName = new Map(stored.map((ix) => [ix.name, ix]));
        const diff: IndexDiff = { collection: name, missing: [], conflicting: [], retired: [] };
        for (const index of declared) {
          const found = byName.get(String(index.name));
          if (!found) diff.missing.push(index);
          else if (!sameSpec(found, index))
            diff.conflicting.push({ name: String(index.name), stored: found, declared: index });
        }
        diff.retired = (RETIRED_INDEXES[name] ?? []).filter((n) => byName.has(n));
        return diff;
      },
    ),
  );
}

/** The recorded schema version (0 for a database no migration has run on). */
export async function schemaVersion(db: mongo.Db): Promise<number> {
  const doc = await db
    .collection<{ _id: string; version: number }>(META_COLLECTION)
    .findOne({ _id: 'schema' });
  return typeof doc?.version === 'number' ? doc.version : 0;
}

/**
 * What keeps a store from serving: missing or conflicting indexes, or a
 * schema newer than this code. Empty when ready.
 */
export async function verifySchema(db: mongo.Db): Promise<string[]> {
  const problems: string[] = [];
  const version = await schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    problems.push(`database schema version ${version} is newer than this climcat's (${SCHEMA_VERSION})`);
  }
  for (const diff of await diffIndexes(db)) {
    for (const index of diff.missing)
      problems.push(`index ${diff.collection}.${String(index.name)} is missing`);
    for (const c of diff.conflicting) {
      problems.push(
        `index ${diff.collection}.${c.name} has keys ${JSON.stringify(c.stored.key)}, declared ${JSON.stringify(c.declared.key)}`,
      );
    }
  }
  return problems;
}

/** Runs the migration; `log` hears each step. Throws on conflicts and on a newer schema. */
export async function migrateSchema(
  db: mongo.Db,
  roots: readonly StoreRoot[],
  log: (message: string) => void = () => undefined,
): Promise<MigrationReport> {
  const fromVersion = await schemaVersion(db);
  if (fromVersion > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${fromVersion} is newer than this climcat's (${SCHEMA_VERSION}): ` +
        'run the newer release (an older one would drop indexes it does not know)',
    );
  }
  const collections = await createCollections(db, log);
  // Version 1 made file locations (root name, path); older rows are upgraded in place.
  if (fromVersion < 1) await upgradeFileLocations(db.collection('files'), roots);

  const diffs = await diffIndexes(db);
  const conflicts = diffs.flatMap((d) => d.conflicting.map((c) => `${d.collection}.${c.name}`));
  if (conflicts.length) {
    throw new Error(
      `indexes ${conflicts.join(', ')} exist with other keys or options than declared: drop them (climcat builds them again)`,
    );
  }
  // Replica sets build with every voting member before the index counts as ready.
  const hello = (await db.command({ hello: 1 })) as { setName?: string };
  const created: string[] = [];
  const dropped: string[] = [];
  for (const diff of diffs) {
    for (const index of diff.missing) {
      log(`creating index ${diff.collection}.${String(index.name)}`);
      try {
        await db.command({
          createIndexes: diff.collection,
          indexes: [index],
          ...(hello.setName ? { commitQuorum: 'votingMembers' } : {}),
        });
        created.push(`${diff.collection}.${String(index.name)}`);
      } catch (error) {
        const code = codeOf(error);
        // The test server lacks some index kinds; real servers refusing an index are fatal.
        if (typeof code === 'number' && UNSUPPORTED_CODES.has(code)) {
          log(`server cannot build ${diff.collection}.${String(index.name)} (code ${code}): skipped`);
          continue;
        }
        throw error;
      }
    }
    for (const name of diff.retired) {
      log(`dropping retired index ${diff.collection}.${name}`);
      try {
        await db.collection(diff.collection).dropIndex(name);
        dropped.push(`${diff.collection}.${name}`);
      } catch (error) {
        const code = codeOf(error);
        if (code === INDEX_NOT_FOUND) continue; // another process dropped it first
        if (typeof code === 'number' && UNSUPPORTED_CODES.has(code)) {
          log(`server cannot drop ${diff.collection}.${name} (code ${code}): kept`);
          continue;
        }
        throw error;
      }
    }
  }
  await recordVersion(db);
  return { fromVersion, toVersion: SCHEMA_VERSION, collections, created, dropped };
}

/** Moves the recorded version forward only; a concurrent or newer writer wins the race harmlessly. */
async function recordVersion(db: mongo.Db): Promise<void> {
  try {
    await db
      .collection<{ _id: string; version: number; migratedAt: string }>(META_COLLECTION)
      .replaceOne(
        { _id: 'schema', version: { $lt: SCHEMA_VERSION } },
        { version: SCHEMA_VERSION, migratedAt: new Date().toISOString() },
        { upsert: true },
      );
  } catch (error) {
    // The document is at this version or newer already (the upsert's insert collided).
    if (codeOf(error) !== DUPLICATE_KEY) throw error;
  }
}
