/**
 * Live usage of a scratch tree: the scan's per-directory records, kept
 * current by watching each directory (one inotify watch per directory, no
 * per-file state) and re-listing only the directories that changed.
 *
 * Between full scans a hard link created or removed in a watched directory
 * can be counted once per directory holding it; the periodic reconciliation
 * (a full scan) corrects that and reports the drift it found.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import {
  pathKey,
  type DirectoryUsage,
  type ScanPath,
  type ScanProblem,
  type TreeScanner,
  type TreeUsage,
} from './tree-scan';

export interface UsageTreeOptions {
  /** Quiet time before changed directories are re-listed (default 100 ms). */
  debounceMs?: number;
  /** Watch directories for changes (default true). */
  watch?: boolean;
}

export interface Reconciliation {
  /** Usage the live view held, and what the full scan found. */
  before: TreeUsage;
  after: TreeUsage;
  at: Date;
}

function isUnder(key: string, prefix: string): boolean {
  return prefix === '' || key === prefix || key.startsWith(`${prefix}/`);
}

function toBuffer(path: ScanPath): Buffer {
  return typeof path === 'string' ? Buffer.from(path) : Buffer.from(path);
}

export class UsageTree {
  private directories = new Map<string, DirectoryUsage>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirty = new Map<string, ScanPath>();
  private problems: ScanProblem[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Increases after each applied change, for callers waiting on fresh numbers. */
  generation = 0;

  constructor(
    private readonly scanner: TreeScanner,
    readonly root: string,
    private readonly options: UsageTreeOptions = {},
  ) {}

  /** Full scan; replaces the live view and returns what it corrected. */
  async reconcile(now = new Date()): Promise<Reconciliation> {
    const before = this.totals();
    const result = await this.scanner.scan(this.root);
    this.directories = result.directories;
    this.problems = result.problems;
    this.syncWatchers();
    this.generation++;
    return { before, after: result.totals, at: now };
  }

  /** Usage under a relative directory ('' for everything). */
  usageUnder(prefix: string): TreeUsage {
    const out: TreeUsage = { bytes: 0, apparentBytes: 0, files: 0, directories: 0 };
    for (const [key, d] of this.directories) {
      if (!isUnder(key, prefix)) continue;
      out.bytes += d.bytes;
      out.apparentBytes += d.apparentBytes;
      out.files += d.files;
      out.directories++;
    }
    return out;
  }

  totals(): TreeUsage {
    return this.usageUnder('');
  }

  /** Own usage of each directory under a prefix, for largest-directory views. */
  directoriesUnder(prefix: string): DirectoryUsage[] {
    return [...this.directories].filter(([key]) => isUnder(key, prefix)).map(([, d]) => d);
  }

  problemsUnder(prefix: string): ScanProblem[] {
    return this.problems.filter((p) => isUnder(p.path, prefix));
  }

  /** Resolves once changes seen so far have been applied. */
  async settled(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }
    await this.flushing;
  }

  private syncWatchers(): void {
    if (this.options.watch === false || this.closed) return;
    for (const [key, w] of this.watchers)
      if (!this.directories.has(key)) {
        w.close();
        this.watchers.delete(key);
      }
    for (const [key, d] of this.directories) if (!this.watchers.has(key)) this.watchDirectory(key, d.path);
  }

  private watchDirectory(key: string, path: ScanPath): void {
    const absolute =
      typeof path === 'string'
        ? join(this.root, path)
        : Buffer.concat([Buffer.from(`${this.root}/`), toBuffer(path)]);
    try {
      const w = watch(absolute, { persistent: false }, () => this.markDirty(key, path));
      w.on('error', () => {
        // The directory went away: its parent's change event re-lists it.
        w.close();
        this.watchers.delete(key);
      });
      this.watchers.set(key, w);
    } catch {
      // Unreadable or vanished: the scan reported it; nothing to watch.
    }
  }

  private markDirty(key: string, path: ScanPath): void {
    if (this.closed) return;
    this.dirty.set(key, path);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, this.options.debounceMs ?? 100);
  }

  /** Re-lists changed directories; new subdirectories are scanned whole, vanished ones dropped. */
  private async flush(): Promise<void> {
    const batch = [...this.dirty.entries()];
    this.dirty.clear();
    if (batch.length === 0 || this.closed) return;
    await Promise.all(
      batch.map(async ([key, path]) => {
        const listing = await this.scanner.list(this.root, path);
        if (listing.missing) {
          // Gone with everything under it.
          for (const k of [...this.directories.keys()]) if (isUnder(k, key)) this.directories.delete(k);
          return;
        }
        const own: DirectoryUsage = {
          path: listing.dir,
          bytes: listing.bytes + listing.links.reduce((n, l) => n + l.bytes, 0),
          apparentBytes: listing.apparentBytes + listing.links.reduce((n, l) => n + l.apparentBytes, 0),
          files: listing.files + listing.links.length,
        };
        this.directories.set(key, own);
        const children = new Set(listing.subdirectories.map(pathKey));
        // Subdirectories that disappeared (renamed or deleted) leave with their subtree.
        for (const k of [...this.directories.keys()]) {
          if (k === key || !isUnder(k, key)) continue;
          const child = key === '' ? k.split('/')[0]! : `${key}/${k.slice(key.length + 1).split('/')[0]!}`;
          if (!children.has(child)) this.directories.delete(k);
        }
        for (const sub of listing.subdirectories) {
          if (this.directories.has(pathKey(sub))) continue;
          const scanned = await this.scanner.scan(this.root, sub);
          for (const [k, d] of scanned.directories) this.directories.set(k, d);
        }
      }),
    );
    this.syncWatchers();
    this.generation++;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
