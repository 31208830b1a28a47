/**
 * The fair-use purge of a user's S3 scratch prefix (`scratch/<user>/`): the
 * same rules as POSIX, judged by the object's last modification (S3 keeps no
 * access time), each object re-checked (size, last modified, etag) right
 * before it is deleted. Plan paths are `s3://<bucket>/<key>`, which no path
 * relative to a directory can be.
 */
import type { PurgePolicy } from '@climcat/core';
import type { Client } from 'minio';
import type { IdleFile } from '../usage/tree-scan';
import type { PlannedFile, PurgeRun } from './purge-planner';

export function s3PlanPath(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** The object key of an S3 plan path, or undefined for a POSIX one. */
export function s3KeyOf(bucket: string, path: string): string | undefined {
  const head = `s3://${bucket}/`;
  return path.startsWith(head) ? path.slice(head.length) : undefined;
}

/** Objects under `prefix` last modified before `beforeMs`, as idle files (atime = mtime = last modified). */
export async function listS3Idle(
  client: Client,
  bucket: string,
  prefix: string,
  beforeMs: number,
): Promise<IdleFile[]> {
  const idle: IdleFile[] = [];
  const stream = client.listObjectsV2(bucket, prefix, true);
  for await (const item of stream as AsyncIterable<{ name?: string; size?: number; lastModified?: Date }>) {
    if (!item.name || item.name.endsWith('/') || !item.lastModified) continue;
    const at = item.lastModified.getTime();
    if (at < beforeMs)
      idle.push({ path: s3PlanPath(bucket, item.name), size: item.size ?? 0, atimeMs: at, mtimeMs: at });
  }
  return idle;
}

/** Deletes the plan's due S3 objects that are still what the plan saw; what changed is kept. */
export async function runS3Purge(
  client: Client,
  bucket: string,
  files: readonly PlannedFile[],
  now: Date,
  options: { dryRun: boolean; policy: PurgePolicy },
): Promise<PurgeRun> {
  const run: PurgeRun = { purged: [], kept: [], dryRun: options.dryRun };
  for (const f of files) {
    if (f.action !== 'purge' || f.dueMs > now.getTime()) continue;
    const key = s3KeyOf(bucket, String(f.rawPath)) as string;
    try {
      const st = await client.statObject(bucket, key);
      if (st.size !== f.size || st.lastModified.getTime() !== f.mtimeMs) {
        run.kept.push({ path: f.path, why: 'used or changed after the plan was made' });
        continue;
      }
      if (!options.dryRun) await client.removeObject(bucket, key);
      run.purged.push({
        path: f.path,
        size: f.size,
        atime: new Date(f.atimeMs),
        mtime: new Date(f.mtimeMs),
        purgedAt: now,
        reason: `not modified for ${options.policy.maxIdleDays} days (S3 last modified ${new Date(f.mtimeMs).toISOString()})`,
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? String(error);
      run.kept.push({
        path: f.path,
        why: code === 'NotFound' || code === 'NoSuchKey' ? 'already gone' : `could not be checked (${code})`,
      });
    }
  }
  return run;
}
