/**
 * Opened files kept between requests, like TDS's file cache: a bounded LRU of
 * opened datasets (parsed headers, open handles) plus values derived from them
 * (DDS/DAS text, the DAP2 view, CF summaries), each computed once per file
 * version. Entries are leased: an entry evicted or replaced while a response
 * still reads it is closed when its last lease is released, never before.
 */
import type { NetcdfDataset } from '../dataset';
import { Netcdf4File } from '../hdf5/netcdf4-reader';
import type { ByteSource } from '../io/byte-source';
import type { NcAttribute, NcMetadata } from '../model';
import { openNetcdf, type OpenOptions } from '../open';

/**
 * One version of one file. `id` names the file (root + path), `version` its
 * bytes (size + mtime + inode, or an ETag): a new version never gets an entry
 * opened for an older one.
 */
export interface DatasetKey {
  id: string;
  version: string;
}

/** What an opener gives the cache: the value, how to close it, and how much memory it holds. */
export interface CacheableDataset<T> {
  value: T;
  close(): Promise<void>;
  /** Estimated bytes of memory the open value holds (headers, metadata); counts against `maxBytes`. */
  bytes?: number;
  /** False once the value cannot serve any more (e.g. its HDF5 worker was restarted): it is reopened. */
  usable?(): boolean;
}

/** Names a derived value kept per entry; `V` is its type (a promise for async values). */
export class MemoKey<V> {
  declare private readonly type?: V;
  constructor(readonly name: string) {}
}

export interface DatasetLease<T> {
  readonly key: DatasetKey;
  readonly value: T;
  /**
   * The value `compute` gives, computed once per entry (file version). A
   * rejected promise or a throw is not remembered, so the next caller retries.
   */
  memo<V>(key: MemoKey<V>, compute: () => V): V;
  /** Gives the entry back (idempotent); an entry no longer cached closes on its last release. */
  release(): Promise<void>;
}

export interface DatasetCacheOptions {
  /** Opened files kept; 0 disables caching (every lease opens and closes its own). */
  maxEntries: number;
  /** Estimated memory of kept entries (metadata + memoised text); unbounded when absent. */
  maxBytes?: number;
  /** Told about a close that failed (the entry is gone either way). */
  onCloseError?: (error: unknown, key: DatasetKey) => void;
}

export interface AcquireOptions {
  /**
   * false: use a cached entry when there is one, otherwise open one for this
   * lease only, neither kept nor counted as recent use (for scans that read
   * every file once and must not flush what clients are reading).
   */
  admit?: boolean;
}

export interface DatasetCacheStats {
  entries: number;
  bytes: number;
  /** Leases currently held (cached and uncached entries). */
  leased: number;
  hits: number;
  misses: number;
  evictions: number;
}

class Entry<T> {
  refs = 0;
  /** True while the cache's map holds it. */
  cached = false;
  opened?: CacheableDataset<T>;
  bytes = 0;
  readonly memos = new Map<string, unknown>();
  ready!: Promise<void>;
  closing?: Promise<void>;
  constructor(readonly key: DatasetKey) {}
}

/** Bounded, ref-counted LRU of opened datasets; see the module comment. */
export class DatasetCache<T = NetcdfDataset> {
  /** Insertion order is recency order: first = least recently used. */
  private readonly entries = new Map<string, Entry<T>>();
  private totalBytes = 0;
  private leases = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private closed = false;

  constructor(private readonly options: DatasetCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0)
      throw new RangeError(`maxEntries must be a non-negative integer, got ${options.maxEntries}`);
  }

  /**
   * A lease on the entry of `key`, opening it with `open` on a miss. Concurrent
   * acquires of one key share one open; a failed open is not kept, and every
   * waiter gets its error.
   */
  async acquire(
    key: DatasetKey,
    open: () => Promise<CacheableDataset<T>>,
    options: AcquireOptions = {},
  ): Promise<DatasetLease<T>> {
    const admit = options.admit !== false && !this.closed && this.options.maxEntries > 0;
    let entry = this.entries.get(key.id);
    if (entry && (entry.key.version !== key.version || entry.opened?.usable?.() === false)) {
      this.detach(entry);
      entry = undefined;
    }
    if (entry) {
      this.hits++;
      if (admit) {
        this.entries.delete(key.id);
        this.entries.set(key.id, entry);
      }
    } else {
      this.misses++;
      entry = new Entry<T>(key);
      const opening = entry;
      opening.ready = open().then(
        (opened) => {
          opening.opened = opened;
          this.resize(opening, opened.bytes ?? 0);
        },
        (error: unknown) => {
          if (opening.cached) this.detach(opening);
          throw error;
        },
      );
      if (admit) {
        opening.cached = true;
        this.entries.set(key.id, opening);
      }
    }
    entry.refs++;
    this.leases++;
    try {
      await entry.ready;
    } catch (error) {
      entry.refs--;
      this.leases--;
      throw error;
    }
    this.trim();
    return this.lease(entry);
  }

  /** Drops every entry: idle ones close now, leased ones on their last release; later acquires keep nothing. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const closing: Promise<void>[] = [];
    for (const entry of [...this.entries.values()]) {
      this.detach(entry);
      if (entry.closing) closing.push(entry.closing);
    }
    await Promise.all(closing);
  }

  stats(): DatasetCacheStats {
    return {
      entries: this.entries.size,
      bytes: this.totalBytes,
      leased: this.leases,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }

  private lease(entry: Entry<T>): DatasetLease<T> {
    let released: Promise<void> | undefined;
    const opened = entry.opened as CacheableDataset<T>;
    return {
      key: entry.key,
      value: opened.value,
      memo: <V>(memoKey: MemoKey<V>, compute: () => V): V => {
        if (entry.memos.has(memoKey.name)) return entry.memos.get(memoKey.name) as V;
        const value = compute();
        entry.memos.set(memoKey.name, value);
        if (value instanceof Promise)
          value.then(
            (settled) => this.resize(entry, entry.bytes + weigh(settled)),
            () => {
              if (entry.memos.get(memoKey.name) === value) entry.memos.delete(memoKey.name);
            },
          );
        else this.resize(entry, entry.bytes + weigh(value));
        this.trim();
        return value;
      },
      release: () =>
        (released ??= (async () => {
          entry.refs--;
          this.leases--;
          if (entry.refs === 0 && !entry.cached) await this.close(entry);
        })()),
    };
  }

  /** Takes an entry out of the map; it closes now when idle, else on its last release. */
  private detach(entry: Entry<T>): void {
    if (!entry.cached) return;
    entry.cached = false;
    if (this.entries.get(entry.key.id) === entry) this.entries.delete(entry.key.id);
    this.totalBytes -= entry.bytes;
    if (entry.refs === 0) void this.close(entry);
  }

  private close(entry: Entry<T>): Promise<void> {
    entry.closing ??= (async () => {
      entry.memos.clear();
      try {
        await entry.opened?.close();
      } catch (error) {
        this.options.onCloseError?.(error, entry.key);
      }
    })();
    return entry.closing;
  }

  private resize(entry: Entry<T>, bytes: number): void {
    if (entry.cached) this.totalBytes += bytes - entry.bytes;
    entry.bytes = bytes;
  }

  /**
   * Evicts least recently used entries while over a bound: idle ones first,
   * then leased ones (they leave the map now and close on their last release).
   */
  private trim(): void {
    const max = this.options.maxBytes ?? Infinity;
    while (this.entries.size > this.options.maxEntries || this.totalBytes > max) {
      let victim: Entry<T> | undefined;
      for (const entry of this.entries.values()) {
        if (!entry.opened) continue;
        if (entry.refs === 0) {
          victim = entry;
          break;
        }
        victim ??= entry;
      }
      if (!victim) return;
      this.evictions++;
      this.detach(victim);
    }
  }
}

/** Rough bytes a memoised value holds (strings as UTF-16, anything else as a small object). */
function weigh(value: unknown): number {
  return typeof value === 'string' ? value.length * 2 : 64;
}

/** Rough memory of parsed metadata: names and attribute values plus a per-object overhead. */
export function metadataBytes(metadata: NcMetadata): number {
  const attrs = (list: readonly NcAttribute[]) =>
    list.reduce((sum, a) => {
      const v = a.value;
      const size =
        typeof v === 'string'
          ? v.length * 2
          : Array.isArray(v)
            ? v.reduce((s: number, x: string) => s + x.length * 2 + 16, 0)
            : (v as ArrayBufferView).byteLength;
      return sum + 96 + a.name.length * 2 + size;
    }, 0);
  let bytes = 256 + attrs(metadata.globalAttributes);
  for (const d of metadata.dimensions) bytes += 64 + d.name.length * 2;
  for (const v of metadata.variables)
    bytes += 256 + v.name.length * 2 + v.dimensions.length * 48 + attrs(v.attributes);
  for (const g of metadata.groups ?? []) bytes += 128 + g.name.length * 2 + attrs(g.attributes);
  return bytes;
}

/**
 * Opens a NetCDF file from a byte source as a cache entry: closing it closes
 * the dataset and the source. NetCDF-4 is read by h5wasm through its own path,
 * so the source is closed at once (one descriptor per entry, not two).
 */
export async function cacheableDataset(
  source: ByteSource,
  options: OpenOptions = {},
): Promise<CacheableDataset<NetcdfDataset>> {
  let dataset: NetcdfDataset;
  try {
    dataset = await openNetcdf(source, options);
  } catch (error) {
    await source.close();
    throw error;
  }
  if (dataset instanceof Netcdf4File) await source.close();
  const nc4 = dataset instanceof Netcdf4File ? dataset : undefined;
  return {
    value: dataset,
    close: async () => {
      try {
        await dataset.close();
      } finally {
        await source.close();
      }
    },
    bytes: metadataBytes(dataset.metadata),
    ...(nc4 ? { usable: () => nc4.usable } : {}),
  };
}
