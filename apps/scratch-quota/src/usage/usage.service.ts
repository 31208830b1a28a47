import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import {
  InvalidError,
  requireRole,
  STORE,
  userNameProblem,
  type Principal,
  type QuotaSubjectKind,
  type Store,
  type UsageDrift,
} from '@climcat/core';
import { scratchUser } from '../scratch-paths';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CLOCK, type Clock } from '../clock';
import { idleCriterion } from '../purge/purge-planner';
import {
  displayPath,
  largestDirectories,
  TreeScanner,
  type DirectoryUsage,
  type IdleFile,
} from './tree-scan';
import { historyRange, utcDay } from './history-range';
import { UsageTree, type Reconciliation } from './usage-tree';

export interface PurgeSummary {
  files: number;
  bytes: number;
  next: string | null;
}

export interface UserUsage {
  bytes: number;
  files: number;
  largest: { path: string; bytes: number }[];
  /** Entries of the directory that could not be read (printable path relative to it, and why). */
  problems: { path: string; reason: string }[];
}

/** One day of usage, for trends (e.g. capacity). */
export interface UsageDay {
  day: string;
  bytes: number;
  files: number;
}

export interface ReconcileReport {
  at: string;
  before: { bytes: number; files: number };
  after: { bytes: number; files: number };
  /** Users whose live usage differed from the full scan. */
  drift: UsageDrift[];
}

/** S3 key prefix of a user's scratch objects in the configured bucket. */
export function s3ScratchPrefix(user: string): string {
  return `scratch/${user}/`;
}

const DAY_MS = 86_400_000;
/** How often the live view's usage is written to the daily history (a day's last write stays). */
const SAMPLE_MS = 3_600_000;

/**
 * One live view of SCRATCH_ROOT (a UsageTree: full scan, then inotify
 * watches re-listing only changed directories) serves /me, largest
 * directories and rescans; periodic reconciliation (a full scan) corrects
 * and records drift; each user's S3 prefix is listed and kept current by
 * bucket events; usage goes into a daily history per user and group.
 */
@Injectable()
export class UsageService implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('ScratchUsage');
  private readonly scanner: TreeScanner;
  readonly tree: UsageTree;
  private ready: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * Idle files of each user directory (paths relative to it) as of its last
   * scan: the purge summary of /me is the stored plan over these (the live
   * view sees writes, not reads, so it cannot keep them current itself).
   */
  private readonly idleByUser = new Map<string, IdleFile[]>();
  /** Objects under each user's S3 prefix: key → size, from the last listing plus events since. */
  private readonly s3Objects = new Map<string, Map<string, number>>();
  private readonly s3Listings = new Map<string, Promise<void>>();
  /** One rescan per user at a time, one full reconciliation at a time: later callers wait for the running one. */
  private readonly running = new Map<string, Promise<UserUsage>>();
  private reconciling: Promise<ReconcileReport> | undefined;
  /** Groups each user was last seen with (their group claims at /me), for group history. */
  private readonly groupsOf = new Map<string, string[]>();
  /** The last point written per user, so /me writes only when the value or the day changes. */
  private readonly lastPoint = new Map<
    string,
    { day: string; bytes: number; files: number; groups: string | undefined }
  >();
  private closed = false;
  /** Whether a full scan has built the live view yet. */
  private scanned = false;
  /** Created outside any request: see `warn`. */
  private readonly jobContext = new AsyncResource('ScratchUsage');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(STORE) private readonly store: Store,
  ) {
    const { maxWatches } = config.scratch.usage;
    // Scans start at SCRATCH_ROOT, above the user directories that hold the status file.
    this.scanner = new TreeScanner({ workers: 2, serviceRoot: config.scratchRoot });
    this.tree = new UsageTree(this.scanner, config.scratchRoot, {
      ...(maxWatches !== undefined ? { maxWatches } : {}),
      onDegraded: (reason) =>
        this.warn(
          `Live scratch usage stopped watching: ${reason}. Usage now comes from scans ` +
            '(each /me rescans the caller; full reconciliation every SCRATCH_RECONCILE_INTERVAL). ' +
            'Raise fs.inotify.max_user_watches (or SCRATCH_MAX_WATCHES) and restart to watch again.',
        ),
    });
  }

  onModuleInit(): void {
    // The first full scan runs in the background; usage callers wait for it.
    this.ready = mkdir(this.config.scratchRoot, { recursive: true })
      .then(() => this.reconcile())
      .then(
        (report) =>
          this.logger.log(
            `Scratch usage: ${report.after.bytes} bytes in ${report.after.files} files under ${this.config.scratchRoot}` +
              (this.tree.live ? `, ${this.tree.watchCount} directories watched` : ', not watched'),
          ),
        (error: unknown) => {
          if (!this.closed) this.logger.error(`First scratch usage scan failed: ${String(error)}`);
        },
      );
    const every = (ms: number, run: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        run().catch((error: unknown) => this.logger.error(`Scratch usage job failed: ${String(error)}`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.scratch.usage.reconcileIntervalMs, () => this.reconcile());
    every(SAMPLE_MS, () => this.sampleHistory());
  }

  /** SCRATCH_ROOT/<user>, created (mode 0700) on first use. */
  async userDirectory(user: string): Promise<string> {
    const dir = join(this.config.scratchRoot, user);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * A user's usage now, from the live view (changes applied up to this
   * call); measured by a scan when the view does not hold the directory yet
   * or watching stopped. `groups` are the caller's, remembered for group history.
   */
  async current(user: string, groups?: readonly string[]): Promise<UserUsage> {
    if (groups) this.groupsOf.set(user, [...groups]);
    await this.ready;
    await this.userDirectory(user);
    // A directory this process has not scanned yet (new since the last full scan) is scanned once, for
    // its idle files (the purge summary); after that the live view answers.
    if (!this.tree.live || !this.tree.has(user) || !this.idleByUser.has(user)) return this.scan(user);
    await this.tree.settled();
    await this.s3Listed(user);
    const usage = this.usageOf(user);
    await this.maybeRecordPoint(user, usage);
    return usage;
  }

  lastLargest(user: string): { path: string; bytes: number }[] | undefined {
    return this.tree.has(user) ? this.largestOf(user) : undefined;
  }

  /**
   * A user's usage from the live view when it is current (watching, holding
   * the directory, changes seen up to now applied), S3 prefix included;
   * undefined otherwise (the caller decides on the stored usage).
   */
  async liveUsage(user: string): Promise<{ bytes: number; files: number } | undefined> {
    await this.ready;
    if (!this.tree.live || !this.tree.has(user)) return undefined;
    await this.tree.settled();
    if (!this.tree.live) return undefined;
    await this.s3Listed(user);
    const { bytes, files } = this.usageOf(user);
    return { bytes, files };
  }

  /** Idle files of a user's directory (relative paths) from its last scan; undefined when not scanned here. */
  lastIdle(user: string): readonly IdleFile[] | undefined {
    return this.idleByUser.get(user);
  }

  /**
   * Rescans one user now: their directory (replacing that part of the live
   * view; a difference from it is recorded as drift) and their S3 prefix.
   */
  scan(user: string, groups?: readonly string[]): Promise<UserUsage> {
    if (groups) this.groupsOf.set(user, [...groups]);
    const running = this.running.get(user);
    if (running) return running;
    const scan = this.measure(user).finally(() => this.running.delete(user));
    this.running.set(user, scan);
    return scan;
  }

  private async measure(user: string): Promise<UserUsage> {
    await this.ready;
    await this.userDirectory(user);
    const now = this.clock.now();
    // Changes already seen are applied first, so only what the watcher missed counts as drift.
    if (this.tree.live) await this.tree.settled();
    const known = this.tree.has(user);
    const policy = this.config.scratch.purge;
    const result = await this.tree.reconcile(now, { prefix: user, idle: idleCriterion(policy, now) });
    this.setIdle(user, result.scan.idle);
    // A live view that held the directory and disagrees: drift (a directory new to it is not).
    if (known && result.beforeByTop.has(user) && this.tree.live) await this.recordDrift(result, now, [user]);
    await this.listS3(user);
    const usage = this.usageOf(user);
    await this.recordPoints([[user, usage]], now);
    return usage;
  }

  /**
   * Full scan of SCRATCH_ROOT: replaces the live view, records each user's
   * drift (store and log), refreshes purge summaries and S3 tallies, and
   * writes everyone's history point. One at a time; callers share a running one.
   */
  reconcile(): Promise<ReconcileReport> {
    this.reconciling ??= this.reconcileNow().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileNow(): Promise<ReconcileReport> {
    const now = this.clock.now();
    const result = await this.tree.reconcile(now, { idle: idleCriterion(this.config.scratch.purge, now) });
    const idleByUser = new Map<string, IdleFile[]>();
    for (const f of result.scan.idle) {
      const path = displayPath(f.path);
      const user = path.slice(0, path.indexOf('/'));
      idleByUser.set(user, [...(idleByUser.get(user) ?? []), f]);
    }
    const users = this.users();
    for (const user of users) this.setIdle(user, idleByUser.get(user) ?? []);
    // The first scan builds the view: nothing to have drifted from.
    const drift = this.scanned
      ? await this.recordDrift(result, now, [...new Set([...result.beforeByTop.keys(), ...users])])
      : [];
    this.scanned = true;
    for (const user of users)
      await this.listS3(user).catch((error: unknown) =>
        this.logger.warn(`Listing s3 prefix ${s3ScratchPrefix(user)} failed: ${String(error)}`),
      );
    await this.writeHistory(now);
    return {
      at: now.toISOString(),
      before: { bytes: result.before.bytes, files: result.before.files },
      after: { bytes: result.after.bytes, files: result.after.files },
      drift,
    };
  }

  /** Drift per user between what the live view held and what a scan found, stored and logged. */
  private async recordDrift(result: Reconciliation, now: Date, users: string[]): Promise<UsageDrift[]> {
    const drift: UsageDrift[] = [];
    for (const user of users) {
      if (userNameProblem(user)) continue;
      const before = result.beforeByTop.get(user) ?? { bytes: 0, files: 0 };
      const after = result.afterByTop.get(user) ?? { bytes: 0, files: 0 };
      if (before.bytes === after.bytes && before.files === after.files) continue;
      drift.push({
        id: randomUUID(),
        user,
        at: now.toISOString(),
        before: { bytes: before.bytes, files: before.files },
        after: { bytes: after.bytes, files: after.files },
      });
    }
    if (drift.length === 0) return drift;
    await this.store.usageHistory.recordDrift(drift);
    for (const d of drift)
      this.warn(
        `Scratch usage of ${d.user} drifted from the live view: ${d.before.bytes} bytes / ${d.before.files} files ` +
          `became ${d.after.bytes} bytes / ${d.after.files} files on a full scan`,
      );
    return drift;
  }

  /**
   * Warnings of the usage jobs, outside any request's logging context (a
   * reconciliation is a job even when a request started it; the request's
   * bound logger lost these lines).
   */
  private warn(message: string): void {
    this.jobContext.runInAsyncScope(() => this.logger.warn(message));
  }

  /** Drift records, newest first (one user's when given). */
  drift(user: string | undefined, limit: number): Promise<UsageDrift[]> {
    return this.store.usageHistory.listDrift({ ...(user !== undefined ? { user } : {}), limit });
  }

  /** Users with a directory in the live view (top-level names that are valid user names). */
  private users(): string[] {
    return [...this.tree.usageByTop().keys()].filter((name) => !userNameProblem(name));
  }

  /** Keeps a user's idle files from a scan that started at SCRATCH_ROOT (paths `<user>/…`), relative to their directory. */
  private setIdle(user: string, idle: readonly IdleFile[]): void {
    const strip = Buffer.byteLength(user) + 1;
    this.idleByUser.set(
      user,
      idle.map((f) => ({
        ...f,
        path: typeof f.path === 'string' ? f.path.slice(user.length + 1) : f.path.subarray(strip),
      })),
    );
  }

  private usageOf(user: string): UserUsage {
    const posix = this.tree.usageUnder(user);
    let { bytes, files } = posix;
    const largest = this.largestOf(user);
    const objects = this.s3Objects.get(user);
    const bucket = this.config.s3?.bucket;
    if (bucket && objects && objects.size > 0) {
      let s3Bytes = 0;
      for (const size of objects.values()) s3Bytes += size;
      bytes += s3Bytes;
      files += objects.size;
      largest.push({ path: `s3://${bucket}/${s3ScratchPrefix(user)}`, bytes: s3Bytes });
      largest.sort((a, b) => b.bytes - a.bytes);
    }
    const strip = user.length + 1;
    const problems = this.tree
      .problemsUnder(user)
      .map((p) => ({ path: p.path === user ? '.' : p.path.slice(strip), reason: p.reason }));
    return {
      bytes,
      files,
      largest: largest.slice(0, 10),
      problems,
    };
  }

  /** Largest directories of a user, paths relative to their directory. */
  private largestOf(user: string): { path: string; bytes: number }[] {
    const strip = Buffer.byteLength(user) + 1;
    const relative: DirectoryUsage[] = [];
    for (const d of this.tree.directoriesUnder(user)) {
      if (typeof d.path === 'string') {
        if (d.path !== user) relative.push({ ...d, path: d.path.slice(strip) });
      } else if (d.path.length > strip) relative.push({ ...d, path: d.path.subarray(strip) });
    }
    return largestDirectories(relative, { limit: 10 }).map((d) => ({ path: d.path, bytes: d.bytes }));
  }

  // ---- S3 prefix scratch/<user>/ ----

  /** Lists the user's S3 prefix once per process (events and rescans keep it current). */
  private s3Listed(user: string): Promise<void> {
    if (!this.config.s3?.bucket || this.s3Objects.has(user)) return Promise.resolve();
    return this.listS3(user);
  }

  private listS3(user: string): Promise<void> {
    const bucket = this.config.s3?.bucket;
    if (!bucket) return Promise.resolve();
    const running = this.s3Listings.get(user);
    if (running) return running;
    const listing = (async () => {
      const objects = new Map<string, number>();
      const stream = this.storage.s3().listObjectsV2(bucket, s3ScratchPrefix(user), true);
      for await (const item of stream as AsyncIterable<{ name?: string; size?: number }>)
        if (item.name) objects.set(item.name, item.size ?? 0);
      this.s3Objects.set(user, objects);
    })().finally(() => this.s3Listings.delete(user));
    this.s3Listings.set(user, listing);
    return listing;
  }

  /**
   * An object under `scratch/<user>/` of the scratch bucket was created (with
   * its size) or removed (size null): from a bucket event or an upload
   * completed through the service. Keys outside a user prefix are ignored.
   */
  noteS3Object(bucket: string, key: string, size: number | null): void {
    if (bucket !== this.config.s3?.bucket) return;
    const match = /^scratch\/([^/]+)\/./.exec(key);
    const user = match?.[1];
    if (!user || userNameProblem(user)) return;
    // Without a listing yet, the first /me lists the prefix (which holds this object or not).
    const objects = this.s3Objects.get(user);
    if (!objects) return;
    if (size === null) objects.delete(key);
    else objects.set(key, size);
  }

  /** The service wrote into a user's directory: re-list it now instead of waiting for its event. */
  noteWrite(user: string, relativePath: string): void {
    const slash = relativePath.lastIndexOf('/');
    const dir = slash < 0 ? user : `${user}/${relativePath.slice(0, slash)}`;
    this.tree.touch(this.tree.has(dir) ? dir : user);
  }

  // ---- daily history ----

  /**
   * A user's or group's daily usage (last value of each UTC day) with
   * `from <= day <= to`, oldest first: for /me/history, the admin views and
   * trends (capacity).
   */
  async history(kind: QuotaSubjectKind, name: string, from: string, to: string): Promise<UsageDay[]> {
    const points = await this.store.usageHistory.points(kind, name, from, to);
    return points.map((p) => ({ day: p.day, bytes: p.bytes, files: p.files }));
  }

  /**
   * History as an API caller asks for it: their own (`name` absent), or any
   * user's or group's for admins. Bad dates and reversed ranges name the field.
   */
  async historyFor(
    caller: Principal,
    subject: { kind: QuotaSubjectKind; name: string } | undefined,
    query: { from?: unknown; to?: unknown },
  ): Promise<{ kind: QuotaSubjectKind; name: string; from: string; to: string; points: UsageDay[] }> {
    let kind: QuotaSubjectKind = 'user';
    let name: string;
    if (subject) {
      requireRole(caller, 'admin', 'Reading the usage history of a user or group');
      kind = subject.kind;
      name = subject.name;
      const problem =
        kind === 'user'
          ? userNameProblem(name)
          : /^[\w.@:/-]{1,128}$/.test(name)
            ? undefined
            : 'must be 1-128 word characters, . @ : / or -';
      if (problem) throw InvalidError.field('path.name', problem);
    } else name = scratchUser(caller);
    const { from, to } = historyRange(query, this.clock.now(), this.config.scratch.usage.historyKeepDays);
    return { kind, name, from, to, points: await this.history(kind, name, from, to) };
  }

  private async maybeRecordPoint(user: string, usage: UserUsage): Promise<void> {
    const now = this.clock.now();
    const last = this.lastPoint.get(user);
    const groups = this.groupsOf.get(user)?.join(',');
    if (
      last?.day === utcDay(now) &&
      last.bytes === usage.bytes &&
      last.files === usage.files &&
      last.groups === groups
    )
      return;
    await this.recordPoints([[user, usage]], now);
  }

  /** Everyone's point from the live view (hourly, and after each reconciliation); prunes old points. */
  async sampleHistory(): Promise<void> {
    await this.ready;
    await this.writeHistory(this.clock.now());
  }

  private async writeHistory(now: Date): Promise<void> {
    await this.recordPoints(
      this.users().map((user) => [user, this.usageOf(user)]),
      now,
    );
    const keep = this.config.scratch.usage.historyKeepDays;
    const pruned = await this.store.usageHistory.prune(utcDay(new Date(now.getTime() - keep * DAY_MS)));
    if (pruned > 0) this.logger.log(`Pruned ${pruned} scratch usage history points older than ${keep} days`);
  }

  /** Writes users' points of the day, then the points of their groups (the sum over the day's member points). */
  private async recordPoints(entries: [string, UserUsage][], now: Date): Promise<void> {
    const day = utcDay(now);
    const at = now.toISOString();
    const groups = new Set<string>();
    for (const [user, usage] of entries) {
      const memberOf = this.groupsOf.get(user) ?? (await this.storedGroups(user, day));
      for (const g of memberOf) groups.add(g);
      await this.store.usageHistory.putPoint({
        kind: 'user',
        name: user,
        day,
        bytes: usage.bytes,
        files: usage.files,
        at,
        ...(memberOf.length ? { groups: memberOf } : {}),
      });
      this.lastPoint.set(user, { day, bytes: usage.bytes, files: usage.files, groups: memberOf.join(',') });
    }
    if (groups.size === 0) return;
    const members = await this.store.usageHistory.pointsOfDay('user', day);
    for (const group of groups) {
      let bytes = 0;
      let files = 0;
      for (const p of members)
        if (p.groups?.includes(group)) {
          bytes += p.bytes;
          files += p.files;
        }
      await this.store.usageHistory.putPoint({ kind: 'group', name: group, day, bytes, files, at });
    }
  }

  /** The groups a user's most recent stored point carried (after a restart, before they call /me). */
  private async storedGroups(user: string, day: string): Promise<string[]> {
    const from = utcDay(new Date(Date.parse(day) - this.config.scratch.usage.historyKeepDays * DAY_MS));
    const points = await this.store.usageHistory.points('user', user, from, day);
    const groups = points.at(-1)?.groups ?? [];
    this.groupsOf.set(user, groups);
    return groups;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.tree.close();
    await this.ready;
    await this.reconciling?.catch(() => undefined);
    // A flush that started before close ends before the scanner's threads stop.
    await this.tree.settled().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    // After the store's own destroy hooks may have run: only the threads are left to stop.
    await this.scanner.close();
  }
}
