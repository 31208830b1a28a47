/**
 * Usage accounting for a directory tree, the way `du` counts it: allocated
 * blocks, hard links once, symlinks never followed, no file contents read.
 * Directories are listed by a small pool of worker threads; the result keeps
 * one small record per directory (its own usage), so memory grows with the
 * number of directories, not files, and a watcher can re-list a single
 * directory to keep totals current.
 */
import { isUtf8 } from 'node:buffer';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorkerEntry } from '@climcat/netcdf';
import type {
  DirectoryListing,
  IdleCriterion,
  IdleFile,
  ListReply,
  ListRequest,
  ScanPath,
} from './tree-scan.protocol';

export type { DirectoryListing, IdleCriterion, IdleFile, ScanPath } from './tree-scan.protocol';

/** One directory's own usage (entries directly in it, plus its own blocks). */
export interface DirectoryUsage {
  /** Path relative to the scanned root ('' for the root), as bytes when the name is not UTF-8. */
  path: ScanPath;
  bytes: number;
  apparentBytes: number;
  files: number;
}

export interface ScanProblem {
  /** Relative path, printable (bytes that are not UTF-8 as \xNN). */
  path: string;
  reason: string;
}

export interface TreeUsage {
  bytes: number;
  apparentBytes: number;
  files: number;
  directories: number;
}

export interface TreeScanResult {
  totals: TreeUsage;
  /** Own usage per directory, keyed by `pathKey`. */
  directories: Map<string, DirectoryUsage>;
  problems: ScanProblem[];
  /** Regular files unused since the requested time (only when asked for). */
  idle: IdleFile[];
}

/**
 * A printable, unambiguous form of a relative path: UTF-8 names as they are
 * (backslashes doubled), names that are not UTF-8 with their non-ASCII bytes
 * as \\xNN. Prefixes agree with the parent directories' forms.
 */
export function displayPath(path: ScanPath): string {
  if (typeof path === 'string') return path.replaceAll('\\', '\\\\');
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path[i] !== 0x2f) continue;
    const part = Buffer.from(path.subarray(start, i));
    if (isUtf8(part)) parts.push(part.toString('utf8').replaceAll('\\', '\\\\'));
    else {
      let out = '';
      for (const byte of part) {
        if (byte === 0x5c) out += '\\\\';
        else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
        else out += `\\x${byte.toString(16).padStart(2, '0')}`;
      }
      parts.push(out);
    }
    start = i + 1;
  }
  return parts.join('/');
}

/**
 * Orders printable paths by UTF-16 code units (as `LC_ALL=C ls` orders
 * ASCII names): the same on every host, and far cheaper than a locale
 * comparison when a plan of 100,000 files shares one due date.
 */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The map key of a path (its printable form, which is one-to-one). */
export function pathKey(path: ScanPath): string {
  return displayPath(path);
}

export interface TreeScannerOptions {
  /** Worker threads listing directories (default: available cores, at most 4). */
  workers?: number;
  /** Directories requested from each worker at a time (default 4): keeps every worker busy. */
  perWorkerInFlight?: number;
  /**
   * Entries a worker lists per request, walking on into subdirectories
   * (default 4096): a message per directory cost as much as listing its
   * 100 files. The subdirectories it did not reach come back to be shared out.
   */
  walkEntries?: number;
  /**
   * SCRATCH_ROOT, when scans start above the user directories (the live view): the service's
   * status file is then recognised in `<serviceRoot>/<user>/`, whatever the scan root.
   * Without it, only in the scan root itself (scans of one user directory).
   */
  serviceRoot?: string;
}

/** Directories per message in listMany. */
const LIST_GROUP = 32;

interface Pending {
  resolve: (reply: ListReply) => void;
  reject: (error: Error) => void;
}

/** A pool of directory-listing workers; one instance serves many scans. */
export class TreeScanner {
  private readonly threads: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private turn = 0;
  private closed = false;
  private readonly size: number;
  readonly inFlight: number;
  private readonly walkEntries: number;

  private readonly serviceRoot?: string;

  constructor(options: TreeScannerOptions = {}) {
    this.serviceRoot = options.serviceRoot;
    this.size = Math.max(1, options.workers ?? Math.min(4, availableParallelism()));
    this.inFlight = this.size * (options.perWorkerInFlight ?? 4);
    this.walkEntries = Math.max(1, options.walkEntries ?? 4096);
  }

  private worker(): Worker {
    if (this.closed) throw new Error('the tree scanner is closed');
    if (this.threads.length < this.size) {
      const worker = startWorkerEntry(__dirname, 'tree-scan.worker');
      worker.on('message', (reply: ListReply) => {
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        p?.resolve(reply);
        if (this.pending.size === 0) for (const t of this.threads) t.unref();
      });
      worker.on('error', (error) => this.fail(worker, error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(worker, new Error(`tree-scan worker exited with code ${code}`));
      });
      this.threads.push(worker);
      return worker;
    }
    return this.threads[this.turn++ % this.threads.length] as Worker;
  }

  private fail(worker: Worker, error: Error): void {
    const i = this.threads.indexOf(worker);
    if (i >= 0) this.threads.splice(i, 1);
    // Which requests that worker held is not tracked: fail them all, the scan is retried as a whole.
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  /**
   * Lists directories (relative to `root`: each one's own usage and its
   * subdirectories), in order, in groups of {@link LIST_GROUP} per
   * message shared among the workers (a watcher's batch can name thousands).
   */
  async listMany(root: string, dirs: readonly ScanPath[]): Promise<DirectoryListing[]> {
    const groups: ScanPath[][] = [];
    for (let i = 0; i < dirs.length; i += LIST_GROUP) groups.push(dirs.slice(i, i + LIST_GROUP));
    const replies = await Promise.all(
      groups.map(([dir, ...more]) => this.request({ root, dir: dir as ScanPath, more })),
    );
    return replies.flatMap((r) => r.listings);
  }

  private request(request: Omit<ListRequest, 'id' | 'serviceRoot'>): Promise<ListReply> {
    const worker = this.worker();
    const id = this.nextId++;
    return new Promise<ListReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const service = this.serviceRoot ? { serviceRoot: this.serviceRoot } : {};
      worker.postMessage({ id, ...request, ...service } satisfies ListRequest);
    });
  }

  /**
   * Scans the tree under `root/start` breadth-first with `inFlight`
   * directory listings running at once.
   */
  async scan(
    root: string,
    start: ScanPath = '',
    options: { idle?: IdleCriterion } = {},
  ): Promise<TreeScanResult> {
    const result: TreeScanResult = {
      totals: { bytes: 0, apparentBytes: 0, files: 0, directories: 0 },
      directories: new Map<string, DirectoryUsage>(),
      problems: [],
      idle: [],
    };
    const seenLinks = new Set<string>();
    const queue: ScanPath[] = [start];
    let running = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        while (running < this.inFlight && queue.length > 0) {
          const dir = queue.pop() as ScanPath;
          running++;
          const idleOption = options.idle ? { idle: options.idle } : {};
          this.request({ root, dir, ...idleOption, walkEntries: this.walkEntries }).then((reply) => {
            running--;
            for (const listing of reply.listings) this.add(listing, result, seenLinks);
            for (const sub of reply.pending) queue.push(sub);
            if (running === 0 && queue.length === 0) resolve();
            else pump();
          }, reject);
        }
      };
      pump();
    });
    return result;
  }

  /** One listing's own usage into the scan's result (hard links counted once per scan). */
  private add(listing: DirectoryListing, result: TreeScanResult, seenLinks: Set<string>): void {
    if (listing.missing) return;
    const own: DirectoryUsage = {
      path: listing.dir,
      bytes: listing.bytes,
      apparentBytes: listing.apparentBytes,
      files: listing.files,
    };
    for (const link of listing.links) {
      if (seenLinks.has(link.key)) continue;
      seenLinks.add(link.key);
      own.bytes += link.bytes;
      own.apparentBytes += link.apparentBytes;
      own.files++;
    }
    result.directories.set(pathKey(listing.dir), own);
    result.totals.bytes += own.bytes;
    result.totals.apparentBytes += own.apparentBytes;
    result.totals.files += own.files;
    result.totals.directories++;
    for (const p of listing.problems) result.problems.push({ path: displayPath(p.path), reason: p.reason });
    if (!listing.idle) return;
    const { paths, numbers } = listing.idle;
    for (let i = 0; i < paths.length; i++)
      result.idle.push({
        path: paths[i] as ScanPath,
        size: numbers[3 * i] as number,
        atimeMs: numbers[3 * i + 1] as number,
        mtimeMs: numbers[3 * i + 2] as number,
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((t) => t.terminate()));
    for (const p of this.pending.values()) p.reject(new Error('the tree scanner was closed'));
    this.pending.clear();
  }
}

/** Subtree totals of the largest directories, from per-directory own usage (no second walk). */
export function largestDirectories(
  directories: Iterable<DirectoryUsage>,
  options: { limit?: number; maxDepth?: number } = {},
): { path: string; bytes: number; files: number }[] {
  const maxDepth = options.maxDepth ?? 3;
  const subtree = new Map<string, { path: string; bytes: number; files: number }>();
  for (const d of directories) {
    const parts = displayPath(d.path).split('/').filter(Boolean);
    for (let depth = 1; depth <= Math.min(parts.length, maxDepth); depth++) {
      const key = parts.slice(0, depth).join('/');
      const entry = subtree.get(key) ?? { path: key, bytes: 0, files: 0 };
      entry.bytes += d.bytes;
      entry.files += d.files;
      subtree.set(key, entry);
    }
  }
  return [...subtree.values()]
    .sort((a, b) => b.bytes - a.bytes || comparePaths(a.path, b.path))
    .slice(0, options.limit ?? 10);
}
