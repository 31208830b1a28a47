import type { FileState } from '@climcat/core';
import type { StoredObject } from '@climcat/platform';

/** One path of a scan: listed and unknown (new), listed and known, or known and no longer listed. */
export type PathPair = { listed: StoredObject; known: FileState | null } | { listed: null; known: FileState };

/**
 * Merge-join by path of a listing and the catalog's files under the same root,
 * both in path order: for each listed file, the known files before it that are
 * no longer listed, then its own pair; at the end, the known files after the
 * last listed one. The catalog is read in batches, the next one asked for as
 * soon as the current one is taken (on a remote store it arrives while the
 * caller works). Each listed file's pairs are given as soon as it is listed, so
 * a stalled listing still leaves the caller with everything before it.
 */
export async function* mergeByPath(
  listed: AsyncIterable<StoredObject>,
  known: AsyncIterable<FileState[]>,
): AsyncGenerator<PathPair[]> {
  const catalog = new ReadAhead(known);
  try {
    let b = await catalog.take();
    let j = 0;
    for await (const object of listed) {
      const pairs: PathPair[] = [];
      let match: FileState | null = null;
      while (b) {
        if (j >= b.length) {
          b = await catalog.take();
          j = 0;
          continue;
        }
        const file = b[j]!;
        const path = file.location.path;
        if (path < object.path) {
          pairs.push({ listed: null, known: file });
          j++;
        } else {
          if (path === object.path) {
            match = file;
            j++;
          }
          break;
        }
      }
      pairs.push({ listed: object, known: match });
      yield pairs;
    }
    while (b) {
      const rest = b.slice(j).map((file): PathPair => ({ listed: null, known: file }));
      if (rest.length) yield rest;
      b = await catalog.take();
      j = 0;
    }
  } finally {
    await catalog.close();
  }
}

/** Batches of one side, the next one asked for while the current one is used. */
class ReadAhead<T> {
  private readonly iterator: AsyncIterator<T[]>;
  private pending: Promise<IteratorResult<T[]>> | null;

  constructor(iterable: AsyncIterable<T[]>) {
    this.iterator = iterable[Symbol.asyncIterator]();
    this.pending = this.ask();
  }

  /** The next batch, or null at the end. */
  async take(): Promise<T[] | null> {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return null;
    const result = await pending;
    if (result.done) return null;
    this.pending = this.ask();
    return result.value;
  }

  async close(): Promise<void> {
    this.pending = null;
    await this.iterator.return?.();
  }

  private ask(): Promise<IteratorResult<T[]>> {
    const next = this.iterator.next();
    // Not awaited until taken: a failure meanwhile is thrown by take, not left unhandled.
    next.catch(() => undefined);
    return next;
  }
}
