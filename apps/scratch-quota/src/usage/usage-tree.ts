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
  type DirectoryListing,
  type DirectoryUsage,
  type ScanPath,
  type ScanProblem,
  type IdleCriterion,
  type TreeScanner,
  type TreeScanResult,
  type TreeUsage,
} from './tree-scan';

export interface UsageTreeOptions {
  /** Time from a directory's first change until changed directories are re-listed (default 100 ms). */
  debounceMs?: number;
  /** Watch directories for changes (default true). */
  watch?: boolean;
  /**
   * The most directories to watch (one inotify watch each). Past it, or when
   * the kernel's fs.inotify.max_user_watches runs out (ENOSPC), the tree stops
   * watching and calls `onDegraded`: its owner falls back to scans.
   */
  maxWatches?: number;
  onDegraded?: (reason: string) => void;
}

export interface Reconciliation {
  /** Usage the live view held, and what the full scan found. */
  before: TreeUsage;
  after: TreeUsage;
  at: Date;
  /** The same per top-level directory (per user), for what the scan covered. */
  beforeByTop: Map<string, TreeUsage>;
  afterByTop: Map<string, TreeUsage>;
  /** The scan itself (its idle files when asked for). */
  scan: TreeScanResult;
}

function emptyUsage(): TreeUsage {
  return { bytes: 0, apparentBytes: 0, files: 0, directories: 0 };
}

function topOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

function parentOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
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
  private paused = false;
  private degradedReason: string | undefined;
  /** Directories re-listed while a reconciliation scan runs: listed again once its result is in. */
  private changedDuringScan: Map<string, ScanPath> | undefined;
  /** Increases after each applied change, for callers waiting on fresh numbers. */
  generation = 0;

  constructor(
    private readonly scanner: TreeScanner,
    readonly root: string,
    private readonly options: UsageTreeOptions = {},
  ) {}

  /**
   * Full scan of the tree, or of one directory under it (`prefix`, e.g. a
   * user's); replaces that part of the live view and returns what it corrected.
   * Changes applied while the scan ran are listed again afterwards, so a
   * scan's older view of them does not stick.
   */
  async reconcile(
    now = new Date(),
    options: { prefix?: string; idle?: IdleCriterion } = {},
  ): Promise<Reconciliation> {
    const prefix = options.prefix ?? '';
    const changed = new Map<string, ScanPath>();
    this.changedDuringScan = changed;
    let result: TreeScanResult;
    try {
      result = await this.scanner.scan(this.root, prefix, options.idle ? { idle: options.idle } : {});
    } finally {
      if (this.changedDuringScan === changed) this.changedDuringScan = undefined;
    }
    const beforeByTop = this.usageByTop(prefix);
    const before = this.usageUnder(prefix);
    if (prefix === '') {
      this.directories = result.directories;
      this.problems = result.problems;
    } else {
      for (const key of [...this.directories.keys()]) if (isUnder(key, prefix)) this.directories.delete(key);
      for (const [key, d] of result.directories) this.directories.set(key, d);
      this.problems = [...this.problems.filter((p) => !isUnder(p.path, prefix)), ...result.problems];
    }
    this.syncWatchers();
    this.generation++;
    for (const [key, path] of changed) this.markDirty(key, path);
    return {
      before,
      after: result.totals,
      at: now,
      beforeByTop,
      afterByTop: this.usageByTop(prefix),
      scan: result,
    };
  }

  /** Whether the tree holds a directory (relative key, e.g. a user's name). */
  has(key: string): boolean {
    return this.directories.has(key);
  }

  /** False once watching stopped for good (watch limit): usage is then only as fresh as the last scan. */
  get live(): boolean {
    return this.options.watch !== false && this.degradedReason === undefined && !this.closed;
  }

  get degraded(): string | undefined {
    return this.degradedReason;
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  /** Usage per top-level directory (per user) under a prefix, in one pass. */
  usageByTop(prefix = ''): Map<string, TreeUsage> {
    const out = new Map<string, TreeUsage>();
    for (const [key, d] of this.directories) {
      if (key === '' || !isUnder(key, prefix)) continue;
      const top = topOf(key);
      const u = out.get(top) ?? emptyUsage();
      u.bytes += d.bytes;
      u.apparentBytes += d.apparentBytes;
      u.files += d.files;
      u.directories++;
      out.set(top, u);
    }
    return out;
  }

  /**
   * Stops applying changes until `resume` (watches are closed): what changes
   * meanwhile is drift that only a reconciliation finds, as after a restart
   * or an inotify queue overflow.
   */
  pause(): void {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  resume(): void {
    this.paused = false;
    this.syncWatchers();
  }

  /** A directory changed (e.g. the service wrote into it): re-list it soon. */
  touch(key: string, path: ScanPath = key): void {
    this.markDirty(key, path);
  }

  /** Usage under a relative directory ('' for everything). */
  usageUnder(prefix: string): TreeUsage {
    const out = emptyUsage();
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
    if (!this.live || this.paused) return;
    for (const [key, w] of this.watchers)
      if (!this.directories.has(key)) {
        w.close();
        this.watchers.delete(key);
      }
    for (const [key, d] of this.directories) {
      if (this.watchers.has(key)) continue;
      if (this.options.maxWatches !== undefined && this.watchers.size >= this.options.maxWatches) {
        this.degrade(`more than SCRATCH_MAX_WATCHES=${this.options.maxWatches} directories to watch`);
        return;
      }
      this.watchDirectory(key, d.path);
      if (!this.live) return;
    }
  }

  /** Stops watching for good; the owner is told once and scans instead. */
  private degrade(reason: string): void {
    if (this.degradedReason !== undefined) return;
    this.degradedReason = reason;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.options.onDegraded?.(reason);
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
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOSPC from inotify_add_watch: fs.inotify.max_user_watches is used up (EMFILE: instances).
      if (code === 'ENOSPC' || code === 'EMFILE')
        this.degrade(`the kernel refused another inotify watch (${code}; see fs.inotify.max_user_watches)`);
      // Otherwise unreadable or vanished: the scan reported it; nothing to watch.
    }
  }

  private markDirty(key: string, path: ScanPath): void {
    if (this.closed || this.paused) return;
    this.dirty.set(key, path);
    // A batch is flushed this long after its first change, not after the last: under a steady stream
    // of writes re-listing keeps pace instead of waiting for quiet.
    if (this.timer) return;
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
    try {
      await this.applyBatch(batch);
    } catch (error) {
      // A flush under way when the service closed meets a closed scanner: nothing is left to update.
      if (this.closed) return;
      throw error;
    }
    this.syncWatchers();
    this.generation++;
  }

  private async applyBatch(batch: [string, ScanPath][]): Promise<void> {
    const listings = await this.scanner.listMany(
      this.root,
      batch.map(([, path]) => path),
    );
    // Each directory's known subdirectories, once per batch: a batch re-lists
    // a large share of the tree when many files change at once.
    const known = new Map<string, string[]>();
    for (const k of this.directories.keys()) {
      if (k === '') continue;
      const parent = parentOf(k);
      const siblings = known.get(parent);
      if (siblings) siblings.push(k);
      else known.set(parent, [k]);
    }
    await Promise.all(
      batch.map(async ([key, path], i) => {
        const listing = listings[i] as DirectoryListing;
        this.changedDuringScan?.set(key, path);
        if (listing.missing) {
          this.dropSubtree(key); // gone with everything under it
          return;
        }
        const own: DirectoryUsage = {
          path: listing.dir,
          bytes: listing.bytes + listing.links.reduce((n, l) => n + l.bytes, 0),
          apparentBytes: listing.apparentBytes + listing.links.reduce((n, l) => n + l.apparentBytes, 0),
          files: listing.files + listing.links.length,
        };
        this.directories.set(key, own);
        // The directory's own problems (itself unreadable, an entry that could not be stat'ed) are current now.
        this.problems = [
          ...this.problems.filter(
            (p) => p.path !== key && (parentOf(p.path) !== key || this.directories.has(p.path)),
          ),
          ...listing.problems.map((p) => ({ path: pathKey(p.path), reason: p.reason })),
        ];
        const children = new Set(listing.subdirectories.map(pathKey));
        // Subdirectories that disappeared (renamed or deleted) leave with their subtree.
        for (const child of known.get(key) ?? []) if (!children.has(child)) this.dropSubtree(child);
        for (const sub of listing.subdirectories) {
          if (this.directories.has(pathKey(sub))) continue;
          const scanned = await this.scanner.scan(this.root, sub);
          for (const [k, d] of scanned.directories) this.directories.set(k, d);
          this.problems.push(...scanned.problems);
        }
      }),
    );
  }

  private dropSubtree(key: string): void {
    for (const k of [...this.directories.keys()]) if (isUnder(k, key)) this.directories.delete(k);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
