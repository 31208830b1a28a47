/**
 * Promotion of S3 scratch objects: a server-side copy (no bytes through the
 * service) to the derived prefix, verified before anything is deleted: the
 * copy must have the size and ETag the object had when the promotion was
 * planned, and the source must still be that object afterwards. The SHA-256
 * is streamed from the copy. The source is only deleted by `commitS3Move`.
 */
import { ConflictError } from '@climcat/core';
import { CopyConditions, type Client } from 'minio';
import { createHash } from 'node:crypto';
import type { MovedFile } from './file-move';
import { VerificationError } from './file-move';

/** An object as planned. */
export interface CheckedObject {
  bucket: string;
  key: string;
  size: number;
  etag: string;
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Bucket and key of an `s3://` move end, or undefined for a POSIX path. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

export function isS3Move(moved: { source: string }): boolean {
  return moved.source.startsWith('s3://');
}

const clean = (etag: string) => etag.replace(/"/g, '');

export async function copyS3Verified(
  client: Client,
  source: CheckedObject,
  targetKey: string,
  onBytes: (n: number) => void,
): Promise<MovedFile & { lastModified: Date }> {
  const target = s3Url(source.bucket, targetKey);
  const exists = await client.statObject(source.bucket, targetKey).then(
    () => true,
    () => false,
  );
  if (exists) throw new ConflictError(`${target} exists already; a promotion never overwrites derived data`);
  const conditions = new CopyConditions();
  // Stores that honour it refuse the copy of an object replaced since the plan.
  conditions.setMatchETag(source.etag);
  await client.copyObject(source.bucket, targetKey, `${source.bucket}/${source.key}`, conditions);
  try {
    const copy = await client.statObject(source.bucket, targetKey);
    if (copy.size !== source.size || clean(copy.etag) !== source.etag)
      throw new VerificationError(
        `copy of ${s3Url(source.bucket, source.key)} does not verify: ${copy.size} bytes ETag ${clean(copy.etag)}, ` +
          `expected ${source.size} bytes ETag ${source.etag}`,
      );
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of await client.getObject(source.bucket, targetKey)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      onBytes((chunk as Buffer).length);
    }
    if (size !== source.size)
      throw new VerificationError(`copy of ${s3Url(source.bucket, source.key)} read back ${size} bytes`);
    // The source must still be the planned object: one written during the copy fails the promotion.
    const now = await client.statObject(source.bucket, source.key);
    if (now.size !== source.size || clean(now.etag) !== source.etag)
      throw new ConflictError(`${s3Url(source.bucket, source.key)} changed while it was being promoted`);
    return {
      source: s3Url(source.bucket, source.key),
      target,
      mode: 'copy',
      size,
      sha256: hash.digest('hex'),
      lastModified: copy.lastModified,
    };
  } catch (error) {
    await client.removeObject(source.bucket, targetKey).catch(() => undefined);
    throw error;
  }
}

/** Removes the copy while the source is still there (after a commit the copy is the only one). */
export async function undoS3Move(client: Client, moved: MovedFile): Promise<void> {
  const from = parseS3Url(moved.source)!;
  const to = parseS3Url(moved.target)!;
  const kept = await client.statObject(from.bucket, from.key).then(
    (st) => st.size === moved.size,
    () => false,
  );
  if (!kept) throw new Error(`${moved.source} is gone; ${moved.target} is kept as the only copy`);
  await client.removeObject(to.bucket, to.key);
}

/** The scratch object goes once the promotion is recorded. */
export async function commitS3Move(client: Client, moved: MovedFile): Promise<void> {
  const from = parseS3Url(moved.source)!;
  await client.removeObject(from.bucket, from.key);
}
