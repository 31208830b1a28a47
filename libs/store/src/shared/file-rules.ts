/** File-registration rules both adapters apply identically. */
import type { FileRecord, FileUpsertOutcome } from '@climcat/core';

export interface FileUpsertPlan {
  outcome: FileUpsertOutcome;
  /** What to write: a new row, an update of the row at the same location, or nothing. */
  write: 'insert' | 'update' | 'none';
  record: FileRecord;
}

/**
 * Decides an upsert from the record stored at the same location. A file that
 * is registered is present; the stored id and createdAt survive re-registration
 * so references to the file stay valid.
 */
export function fileUpsertPlan(existing: FileRecord | null, incoming: FileRecord): FileUpsertPlan {
  if (!existing) return { outcome: 'new', write: 'insert', record: { ...incoming, status: 'present' } };
  const record: FileRecord = {
    ...incoming,
    id: existing.id,
    createdAt: existing.createdAt,
    status: 'present',
  };
  if (existing.status === 'removed') return { outcome: 'new', write: 'update', record };
  const changed =
    existing.size !== incoming.size ||
    existing.mtime !== incoming.mtime ||
    existing.etag !== incoming.etag ||
    existing.datasetId !== incoming.datasetId;
  return changed
    ? { outcome: 'changed', write: 'update', record }
    : { outcome: 'unchanged', write: 'none', record: existing };
}

export interface PathPrefix {
  /** A file named exactly like the prefix directory. */
  exact: string;
  /** Paths below the prefix directory are in [from, to). */
  from: string;
  to: string;
}

/**
 * A prefix selects a directory, not a string: `a/b` matches `a/b` and
 * `a/b/...`, never `a/bc/...`, so a scan of one sub-tree never touches its
 * siblings. Leading and trailing slashes are ignored; '' (null here) selects everything.
 */
export function pathPrefixRange(prefix: string): PathPrefix | null {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (p === '') return null;
  // '0' is the character after '/', so [p/, p0) holds exactly the paths below p/.
  return { exact: p, from: `${p}/`, to: `${p}0` };
}

/** Files per batch of `iterateByRoot` unless the caller asks otherwise. */
export const DEFAULT_FILE_BATCH = 1000;

/**
 * Batches of files in path order, keyset-paged on the path: `fetch(after)`
 * returns at most `batchSize` files whose path sorts after `after`. Each batch
 * is one short query, so memory stays bounded and no cursor or read
 * transaction outlives a batch.
 */
export async function* pathOrderedBatches<T extends Pick<FileRecord, 'location'>>(
  batchSize: number,
  fetch: (after: string) => T[] | Promise<T[]>,
): AsyncGenerator<T[]> {
  let after = '';
  for (;;) {
    const batch = await fetch(after);
    const last = batch[batch.length - 1];
    if (!last) return;
    after = last.location.path;
    yield batch;
    if (batch.length < batchSize) return;
  }
}
