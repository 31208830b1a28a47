/**
 * Promotion of S3 scratch objects: a server-side copy (no bytes through the
 * service) to the derived prefix, verified before anything is deleted: the
 * copy must have the size and ETag the object had when the promotion was
 * planned, and the source must still be that object afterwards. The SHA-256
 * is streamed from the copy. The source is only deleted by `commitS3Move`,
 * and only while it is still the object that was copied.
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

/**
 * Removes the copy while the source is still the object that was copied (after
 * a commit the copy is the only one; a source written again since leaves the
 * copy as the only holder of the promoted version).
 */
export async function undoS3Move(client: Client, moved: MovedFile): Promise<void> {
  const from = parseS3Url(moved.source)!;
  const to = parseS3Url(moved.target)!;
  const source = await statOrNull(client, from.bucket, from.key);
  if (!source) throw new Error(`${moved.source} is gone; ${moved.target} is kept as the only copy`);
  const copy = await statOrNull(client, to.bucket, to.key);
  // Undone already (by a recovery that stopped before it saved the job).
  if (!copy) return;
  if (!sameObject(source, copy))
    throw new Error(
      `${moved.source} changed since it was copied; the copied version is kept at ${moved.target}`,
    );
  await client.removeObject(to.bucket, to.key);
}

/**
 * The scratch object goes once the promotion is recorded, unless it is no
 * longer the object that was copied (written again since, or its copy is
 * missing): then it stays, and the reason is returned.
 */
export async function commitS3Move(client: Client, moved: MovedFile): Promise<string | undefined> {
  const from = parseS3Url(moved.source)!;
  const to = parseS3Url(moved.target)!;
  const source = await statOrNull(client, from.bucket, from.key);
  // Deleted already (by a commit a crash interrupted).
  if (!source) return undefined;
  const copy = await statOrNull(client, to.bucket, to.key);
  if (!copy) return `${moved.source} was kept in scratch: its copy ${moved.target} is missing`;
  if (!sameObject(source, copy))
    return `${moved.source} changed since it was copied to ${moved.target}; it was kept in scratch`;
  await client.removeObject(from.bucket, from.key);
  return undefined;
}

/** A verified copy has the size and ETag of its source: while the source has them, it is that object. */
function sameObject(a: { size: number; etag: string }, b: { size: number; etag: string }): boolean {
  return a.size === b.size && clean(a.etag) === clean(b.etag);
}

async function statOrNull(
  client: Client,
  bucket: string,
  key: string,
): Promise<{ size: number; etag: string } | null> {
  try {
    return await client.statObject(bucket, key);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'NotFound' || code === 'NoSuchKey') return null;
    throw error;
  }
}
