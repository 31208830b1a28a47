/**
 * Rows written before locations were (root name, path) carried a storage
 * kind, and S3 rows named the bucket instead of the root (with the root's
 * key prefix dropped from the path). Both adapters upgrade them with these rules.
 */

/** What a store must know of the configured roots to upgrade old rows (RootConfig fits). */
export interface StoreRoot {
  name: string;
  kind: 'posix' | 's3';
  bucket?: string;
  prefix?: string;
}

/**
 * Bucket → root name for old S3 rows. When several roots share a bucket, the
 * one with the empty prefix wins (old paths were relative to the root that
 * wrote them, and only a prefix-less root's paths are also plain keys), else
 * the first configured.
 */
export function legacyBucketRoots(roots: readonly StoreRoot[]): Map<string, string> {
  const chosen = new Map<string, StoreRoot>();
  for (const root of roots) {
    if (root.kind !== 's3' || !root.bucket) continue;
    const current = chosen.get(root.bucket);
    if (!current || (current.prefix && !root.prefix)) chosen.set(root.bucket, root);
  }
  return new Map([...chosen].map(([bucket, root]) => [bucket, root.name]));
}

/**
 * Where old S3 rows go when no configured root holds their bucket (or the
 * mapped root already has a file at the same path): `s3:<bucket>`, a name no
 * configured root can have (root names never contain `:`), so such rows are
 * kept but never mix with a root's files.
 */
export function orphanRoot(bucket: string): string {
  return `s3:${bucket}`;
}
