import { ConflictError, type Page, type Paged } from '@climcat/core';
import type { ClientSession, FilterQuery, Model } from 'mongoose';
import { toRecord } from './schemas';

export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 11000;
}

/** Runs `fn`, turning MongoDB's duplicate-key error (11000) into `ConflictError`. */
export async function conflictOnDuplicate<T>(fn: () => Promise<T>, message: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isDuplicateKey(error)) throw new ConflictError(message);
    throw error;
  }
}

/**
 * Most ids one command carries in an `$in` (or one `updateMany` touches by id):
 * 10k 36-character ids are ~0.5 MB of BSON, far below the 16 MB command limit
 * that an unbounded list (a scan removing ~370k files) exceeds.
 */
export const MAX_IDS_PER_CALL = 10_000;

/** `items` in consecutive slices of at most `size` (none for an empty list). */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Escapes a string for use inside a regular expression (anchored prefix search). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The record matching `filter`, or null. */
export async function findRecord<T extends object>(
  model: Model<T>,
  filter: FilterQuery<T>,
): Promise<T | null> {
  const doc = await model.findOne(filter).lean<T>().exec();
  return doc ? toRecord<T>(doc) : null;
}

/**
 * How many documents match `filter`. No filter at all is answered from the
 * collection's metadata (`count` without a query reads no document); any
 * filter is an index-backed `countDocuments`. Inside a transaction (`session`)
 * always `countDocuments`: MongoDB refuses the `count` command there, and the
 * metadata is not part of the snapshot.
 */
export async function countMatching<T>(
  model: Model<T>,
  filter: FilterQuery<T>,
  session?: ClientSession,
): Promise<number> {
  if (session) return model.countDocuments(filter).session(session).exec();
  if (Object.keys(filter).length === 0) return model.estimatedDocumentCount().exec();
  return model.countDocuments(filter).exec();
}

/** One page of the records matching `filter` in `sort` order, with the total count. */
export async function findPage<T extends object>(
  model: Model<T>,
  filter: FilterQuery<T>,
  sort: Record<string, 1 | -1>,
  page: Page,
): Promise<Paged<T>> {
  const [total, docs] = await Promise.all([
    countMatching(model, filter),
    model.find(filter).sort(sort).skip(page.offset).limit(page.limit).lean<T[]>().exec(),
  ]);
  return { total, items: docs.map((doc) => toRecord<T>(doc)) };
}
