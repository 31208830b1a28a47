import type { mongo } from 'mongoose';
import { legacyBucketRoots, orphanRoot, type StoreRoot } from '../shared/legacy-locations';

/** Server answers meaning "this server lacks the command" (the MongoDB-wire test server has no dropIndexes). */
const UNSUPPORTED_CODES = new Set([59 /* CommandNotFound */, 115 /* CommandNotSupported */]);
const NAMESPACE_NOT_FOUND = 26;

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/**
 * Upgrades file documents written before a location was (root name, path):
 * drops `location.kind` and the old unique (kind, root, path) index, and
 * renames old S3 rows' bucket to the bucket's configured root
 * (legacyBucketRoots), else to `s3:<bucket>` (orphanRoot). Ids stay. Runs at
 * every connect before the indexes are built; a finished upgrade finds
 * nothing to do, and an interrupted one resumes (old rows still have a kind).
 */
export async function upgradeFileLocations(
  files: mongo.Collection,
  roots: readonly StoreRoot[],
): Promise<void> {
  // A fresh database has nothing to upgrade: skip the unindexed legacy queries (collection scans).
  if ((await files.estimatedDocumentCount()) === 0) return;
  await dropOldLocationIndex(files);
  const upgraded = { 'location.kind': { $exists: false } };
  // POSIX rows already named their root.
  await files.updateMany({ 'location.kind': 'posix' }, { $unset: { 'location.kind': '' } });
  const buckets = await files
    .aggregate<{ _id: string }>([
      { $match: { 'location.kind': 's3' } },
      { $group: { _id: '$location.root' } },
    ])
    .toArray();
  const mapping = legacyBucketRoots(roots);
  for (const { _id: bucket } of buckets) {
    const old = { 'location.kind': 's3', 'location.root': bucket };
    const target = mapping.get(bucket);
    const moveAll = async (root: string) =>
      files.updateMany(old, { $set: { 'location.root': root }, $unset: { 'location.kind': '' } });
    if (!target) {
      await moveAll(orphanRoot(bucket));
      continue;
    }
    if (!(await files.findOne({ ...upgraded, 'location.root': target }, { projection: { _id: 1 } }))) {
      await moveAll(target);
      continue;
    }
    // The target root already has files (e.g. a POSIX root by that name once existed, or an upgrade
    // was interrupted): one by one, so a path the root already holds goes to the orphan root.
    for await (const doc of files.find(old, { projection: { _id: 1, 'location.path': 1 } })) {
      const path = (doc as { location?: { path?: string } }).location?.path;
      const taken = await files.findOne(
        { ...upgraded, 'location.root': target, 'location.path': path },
        { projection: { _id: 1 } },
      );
      await files.updateOne(
        { _id: doc._id },
        { $set: { 'location.root': taken ? orphanRoot(bucket) : target }, $unset: { 'location.kind': '' } },
      );
    }
  }
}

async function dropOldLocationIndex(files: mongo.Collection): Promise<void> {
  let indexes: { name?: string; key?: Record<string, unknown> }[];
  try {
    indexes = (await files.listIndexes().toArray()) as typeof indexes;
  } catch (error) {
    if (codeOf(error) === NAMESPACE_NOT_FOUND) return;
    throw error;
  }
  const old = indexes.find((ix) => ix.key && 'location.kind' in ix.key);
  if (!old) return;
  try {
    await files.dropIndex(String(old.name));
  } catch (error) {
    // Without dropIndexes the old index stays: unique on (absent kind, root, path), so no stricter
    // than the new (root, path) one.
    const code = codeOf(error);
    if (typeof code === 'number' && UNSUPPORTED_CODES.has(code)) return;
    throw error;
  }
}
