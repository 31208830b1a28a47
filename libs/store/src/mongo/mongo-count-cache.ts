/**
 * Search totals and facet counts, cached per canonical filter signature.
 *
 * A count visits every matching dataset (a curator's unfiltered search: all
 * of them), so counting once per page and per request does not scale; the
 * answers only change when a dataset is written. Several processes (replicas)
 * share one database, so a process cannot know of another's writes by itself:
 * every dataset write bumps a generation counter, one document in
 * `climcat_meta` (`{_id: 'datasets', generation}`, `$inc` after the write), and
 * a search reads it (one findOne by `_id`) before trusting a cached count.
 *
 * Why this is safe: the counter moves after the write it stands for, and a
 * cached count is computed after its generation was read, so a count filed
 * under generation G includes every write whose bump G includes. A write that
 * completed before a search started has bumped the counter past G, or is
 * within G: the search never misses it. The max age bounds what bypasses the
 * counter (a process dying between write and bump, a replica of an older
 * release during a rolling upgrade, an operator editing the collection).
 *
 * Snapshot searches (transactions enabled) also need to know that no write
 * is in flight: `pending`, `$inc`ed before each write and decremented by its
 * bump (see MongoDatasetRepository.search and the README's Consistency).
 *
 * The price: two `$inc`s on one document per dataset write (`begin` and
 * `bump`; MongoDB serialises them on that document, thousands per second),
 * and one indexed findOne per counted search (in its snapshot, or before the
 * page query without transactions).
 */
import { isDuplicateKey } from './mongo-support';
import type { ClientSession, Model } from 'mongoose';

/** The generation counter document (`climcat_meta`). */
export interface GenerationDocument {
  _id: string;
  generation: number;
  /** Dataset writes begun and not yet bumped (absent: written by an older release, taken as 0). */
  pending?: number;
}

/** How long a cached count may be trusted at all, whatever the counter says. */
export const DEFAULT_COUNT_MAX_AGE_MS = 60_000;
/** Most cached counts per store (least recently used are dropped). */
export const DEFAULT_COUNT_ENTRIES = 1_000;

/** The write generation of one collection, shared through the database by every process. */
export class WriteGeneration {
  /** The unsettled state first seen, and when (see `settle`). */
  private unsettled: { generation: number; pending: number; since: number } | null = null;

  constructor(
    private readonly model: Model<GenerationDocument>,
    private readonly name: string,
    private readonly maxAgeMs = DEFAULT_COUNT_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<number> {
    return (await this.state()).generation;
  }

  /** With `session`: as its snapshot transaction sees it. */
  async state(session?: ClientSession): Promise<GenerationState> {
    const doc = await this.model
      .findOne({ _id: this.name }, { generation: 1, pending: 1 })
      .session(session ?? null)
      .lean<GenerationDocument>()
      .exec();
    return { generation: doc?.generation ?? 0, pending: doc?.pending ?? 0 };
  }

  /** Before a dataset write: one more write in flight. */
  async begin(): Promise<void> {
    // `generation: 0` creates the field on a first write, for `settle`'s condition to match.
    await this.upsert({ $inc: { pending: 1, generation: 0 } });
  }

  /** After a dataset write (done or failed): the generation moves on, one write fewer in flight. */
  async bump(): Promise<void> {
    await this.upsert({ $inc: { generation: 1, pending: -1 } });
  }

  /**
   * A state with writes in flight that has not changed for the max age (as
   * this process has seen it) is a write that died between `begin` and `bump`
   * (a crashed process): `pending` is reset to 0, so snapshot searches use
   * the cache again. Conditional on the state, so a write that moved it
   * meanwhile is kept; and the reset bumps the generation too, so another
   * process holding the same stale sighting cannot reset a write begun since
   * (its condition no longer matches). Only a quiet minute settles: while
   * writes keep moving the state, a stuck `pending` stays (searches are right,
   * their counts uncached). Returns whether it reset the counter.
   */
  async settle(seen: GenerationState): Promise<boolean> {
    const at = this.now();
    const last = this.unsettled;
    if (!last || last.generation !== seen.generation || last.pending !== seen.pending) {
      this.unsettled = { ...seen, since: at };
      return false;
    }
    if (at - last.since <= this.maxAgeMs) return false;
    this.unsettled = null;
    const result = await this.model
      .updateOne(
        { _id: this.name, generation: seen.generation, pending: seen.pending },
        { $set: { pending: 0 }, $inc: { generation: 1 } },
      )
      .exec();
    return result.modifiedCount === 1;
  }

  private async upsert(update: Record<string, unknown>): Promise<void> {
    const write = () => this.model.updateOne({ _id: this.name }, update, { upsert: true }).exec();
    try {
      await write();
    } catch (error) {
      // Two first upserts at once: the loser's insert collides, and its update now finds the document.
      if (!isDuplicateKey(error)) throw error;
      await write();
    }
  }
}

/** The counter document as one read sees it: `pending` writes have begun and not bumped. */
export interface GenerationState {
  generation: number;
  pending: number;
}

interface Entry {
  generation: number;
  at: number;
  value: Promise<unknown>;
}

/** Counts by key and generation; concurrent misses of one key share one computation. */
export class CountCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxAgeMs = DEFAULT_COUNT_MAX_AGE_MS,
    private readonly maxEntries = DEFAULT_COUNT_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value cached for `key` at `generation` (and not older than the max age), else `compute()`'s. */
  async through<T>(key: string, generation: number, compute: () => Promise<T>): Promise<T> {
    const at = this.now();
    let entry = this.entries.get(key);
    if (entry && (entry.generation !== generation || at - entry.at > this.maxAgeMs)) entry = undefined;
    if (entry) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      const value = compute();
      entry = { generation, at, value };
      this.entries.set(key, entry);
      this.evict();
      // A failed count is not cached (the caller still sees the error).
      const stored = entry;
      value.catch(() => {
        if (this.entries.get(key) === stored) this.entries.delete(key);
      });
    }
    // Callers may change what they get; the cached value stays as computed.
    return structuredClone((await entry.value) as T);
  }

  clear(): void {
    this.entries.clear();
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) return;
      this.entries.delete(key);
    }
  }
}

/**
 * A canonical text for a MongoDB filter: object keys sorted, and the operands
 * of `$in`, `$and` and `$or` (whose order does not change the match) sorted,
 * so equal filters built in another order share one cache entry.
 */
export function filterSignature(filter: unknown): string {
  return JSON.stringify(canonical(filter, false));
}

const UNORDERED = new Set(['$in', '$and', '$or']);

function canonical(value: unknown, unordered: boolean): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item, false));
    return unordered ? items.map((item) => JSON.stringify(item)).sort() : items;
  }
  if (value instanceof RegExp) return String(value);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key], UNORDERED.has(key))]),
  );
}
