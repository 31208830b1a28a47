/**
 * Fair-use purge runs over SCRATCH_ROOT: one run at a time across every
 * process sharing the store (a lease), each user's plan kept in the store so
 * notice periods hold across runs, notices when files enter the plan and a
 * day before deletion, exempt paths left alone, a record and a marker file
 * for everything deleted. The scheduled job and the admin call run the same
 * code; a dry run reports what would happen and changes nothing.
 */
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  ConflictError,
  InvalidError,
  requireRole,
  STORE,
  userNameProblem,
  type Page,
  type Paged,
  type Principal,
  type PurgedFileRecord,
  type PurgePlanEntry,
  type PurgePolicy,
  type QuotaSubjectKind,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CLOCK, type Clock } from '../clock';
import { comparePaths, displayPath, TreeScanner, type IdleFile } from '../usage/tree-scan';
import { s3ScratchPrefix, UsageService } from '../usage/usage.service';
import { listS3Idle, runS3Purge, s3KeyOf, s3PlanPath } from './s3-purge';
import { compileExemptionPattern } from './exemption-pattern';
import { appendPurgeMarker, PURGE_MARKER } from './purge-marker';
import {
  NOTICE_FILE_LIMIT,
  PURGE_NOTIFIER,
  type PurgeNotice,
  type PurgeNoticeEvent,
  type PurgeNotifier,
} from './purge-notifier';
import {
  idleCriterion,
  planFromPrintable,
  runPurge,
  type PlannedFile,
  type PurgePlan,
} from './purge-planner';

const DAY_MS = 24 * 3600 * 1000;
export const PURGE_LEASE = 'scratch-purge';
/** The lease outlives a stalled process by this much; a run renews it after every user. */
const LEASE_MS = 15 * 60 * 1000;
/** Entries listed per kind in a run summary (counts cover all). */
const SUMMARY_LIMIT = 1000;
const PLAN_URL = '/scratch/v1/me/purge-plan';

export interface PurgeRunSummary {
  runId: string;
  dryRun: boolean;
  trigger: 'schedule' | 'admin';
  startedAt: string;
  finishedAt: string;
  users: number;
  /** Files on the users' plans after the run, and their bytes. */
  planned: { files: number; bytes: number };
  /** Files that entered a plan in this run. */
  entered: number;
  /** Idle files left out because an exemption covers them. */
  exempt: number;
  notices: { sent: number; failed: number; wouldSend: number };
  purged: { files: number; bytes: number; items: { user: string; path: string; bytes: number }[] };
  kept: { user: string; path: string; why: string }[];
  /** What could not be read (permission denied, vanished directories). */
  problems: { user: string; path: string; reason: string }[];
}

export interface RunOptions {
  dryRun?: boolean;
  /** Only this user's directory (default: every user directory under SCRATCH_ROOT). */
  user?: string;
  trigger?: PurgeRunSummary['trigger'];
}

/** The plan of one directory with the stored entries that still hold. */
interface UserPlan {
  plan: PurgePlan;
  /** Stored entries whose file still has the size and times it had when planned, by path. */
  entries: Map<string, PurgePlanEntry>;
  idle: Map<string, IdleFile>;
  exempt: number;
}

/**
 * The plan from a scan's idle files and the stored entries. A stored entry
 * counts only while its file is unchanged; the notice runs from when the
 * user was told (an undelivered notice gives no notice time), and deletion
 * also waits one day after the "due soon" notice.
 */
export function storedPlan(
  idleFiles: readonly IdleFile[],
  stored: readonly PurgePlanEntry[],
  exempt: (path: string) => boolean,
  policy: PurgePolicy,
  now: Date,
): UserPlan {
  const byPath = new Map(stored.map((e) => [e.path, e]));
  const entries = new Map<string, PurgePlanEntry>();
  const idle = new Map<string, IdleFile>();
  let exempted = 0;
  for (const f of idleFiles) {
    const path = displayPath(f.path);
    if (path === PURGE_MARKER || path.startsWith(`.${PURGE_MARKER}.`)) continue;
    if (exempt(path)) {
      exempted++;
      continue;
    }
    idle.set(path, f);
    const e = byPath.get(path);
    if (e && e.size === f.size && e.atimeMs === f.atimeMs && e.mtimeMs === f.mtimeMs) entries.set(path, e);
  }
  const plan = planFromPrintable(
    idle,
    policy,
    (path) => {
      const told = entries.get(path)?.notifiedAt;
      return told ? new Date(told) : undefined;
    },
    now,
  );
  for (const f of plan.files) {
    const soon = entries.get(f.path)?.dueSoonNotifiedAt;
    const earliest = (soon ? Date.parse(soon) : now.getTime()) + DAY_MS;
    if (earliest > f.dueMs) f.dueMs = earliest;
    f.action = f.dueMs <= now.getTime() ? 'purge' : 'plan';
  }
  plan.files.sort((a, b) => a.dueMs - b.dueMs || comparePaths(a.path, b.path));
  const first = plan.files[0];
  if (first) plan.next = new Date(first.dueMs);
  return { plan, entries, idle, exempt: exempted };
}

@Injectable()
export class PurgeService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Purge');
  private scanner?: TreeScanner;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  /** This process, as a lease holder. */
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PURGE_NOTIFIER) private readonly notifier: PurgeNotifier,
    private readonly storage: StorageService,
    private readonly usage: UsageService,
  ) {}

  /** The scratch bucket, when S3 is configured. */
  private bucket(): string | undefined {
    return this.config.s3?.bucket;
  }

  /** Idle objects of the user's S3 prefix (none without S3), as plan entries `s3://<bucket>/<key>`. */
  async s3Idle(user: string, now: Date): Promise<IdleFile[]> {
    const bucket = this.bucket();
    if (!bucket) return [];
    const before = idleCriterion(this.policy(), now).beforeMs;
    return listS3Idle(this.storage.s3(), bucket, s3ScratchPrefix(user), before);
  }

  /** Exemption patterns are relative to the user's space: for S3 entries, to `scratch/<user>/`. */
  private relativeMatcher(user: string, matcher: (path: string) => boolean): (path: string) => boolean {
    const bucket = this.bucket();
    if (!bucket) return matcher;
    const prefix = s3ScratchPrefix(user);
    return (path) => {
      const key = s3KeyOf(bucket, path);
      return matcher(key === undefined ? path : key.slice(prefix.length));
    };
  }

  policy(): PurgePolicy {
    const { maxIdleDays, noticeDays, noatime } = this.config.scratch.purge;
    return { maxIdleDays, noticeDays, noatime };
  }

  onApplicationBootstrap(): void {
    const every = this.config.scratch.purge.intervalMs;
    if (every > 0) this.schedule(every);
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.scanner?.close();
  }

  /** The first run one interval after start, then one interval after each run ends. */
  private schedule(every: number): void {
    this.timer = setTimeout(() => {
      const run = this.run({ trigger: 'schedule' })
        .then((s) =>
          this.logger.log(
            `run ${s.runId}${s.dryRun ? ' (dry run)' : ''}: ${s.users} users, ${s.purged.files} files / ${s.purged.bytes} bytes purged, ${s.planned.files} planned, ${s.problems.length} problems`,
          ),
        )
        .catch((error: unknown) => {
          if (error instanceof ConflictError) this.logger.log(error.message);
          else this.logger.error(`scheduled purge run failed: ${(error as Error).stack ?? String(error)}`);
        })
        .finally(() => {
          if (this.timer) this.schedule(every);
        });
      this.running = run;
    }, every);
    this.timer.unref();
  }

  private treeScanner(): TreeScanner {
    return (this.scanner ??= new TreeScanner({ workers: 2 }));
  }

  private directoryOf(user: string): string {
    return join(this.config.scratchRoot, user);
  }

  /**
   * The groups a user last called with, as the store keeps them (so a run in
   * any process, before the user calls it, knows them).
   */
  async groupsOf(user: string): Promise<readonly string[]> {
    return (await this.store.quotas.getState('user', user))?.groups ?? [];
  }

  /**
   * Approved, unexpired purge exemptions of a directory under SCRATCH_ROOT
   * as one matcher (no pattern: the whole directory): the user's own, those
   * of the groups they belong to (`groups`, default: as stored), and, for a
   * group directory, the group's.
   */
  async exemptionMatcher(
    user: string,
    now: Date,
    groups?: readonly string[],
  ): Promise<(path: string) => boolean> {
    const memberOf = groups ?? (await this.groupsOf(user));
    const subjects: [QuotaSubjectKind, string][] = [
      ['user', user],
      ['group', user],
      ...memberOf.filter((g) => g !== user).map((g): [QuotaSubjectKind, string] => ['group', g]),
    ];
    const found = await Promise.all(
      subjects.map(([kind, name]) => this.store.quotas.listExemptions(kind, name, now)),
    );
    const active = found.flat().filter((e) => e.scope === 'purge' && e.status !== 'requested');
    if (active.some((e) => !e.pattern)) return () => true;
    const matchers = active.map((e) => compileExemptionPattern(e.pattern as string));
    return (path) => matchers.some((m) => m(path));
  }

  /**
   * A user's purge summary from the idle files of their directory's last
   * scan, the stored plan and the exemptions now: the numbers
   * `/me/purge-plan` answers, without walking the directory again.
   */
  async summary(
    user: string,
    idle: readonly IdleFile[],
    groups?: readonly string[],
  ): Promise<{ files: number; bytes: number; next: string | null }> {
    const now = this.clock.now();
    const [stored, exempt, s3] = await Promise.all([
      this.store.quotas.listPurgePlan(user),
      this.exemptionMatcher(user, now, groups),
      this.s3Idle(user, now),
    ]);
    const { plan } = storedPlan(
      [...idle, ...s3],
      stored,
      this.relativeMatcher(user, exempt),
      this.policy(),
      now,
    );
    return { files: plan.files.length, bytes: plan.bytes, next: plan.next?.toISOString() ?? null };
  }

  /** A user's plan now, as stored runs left it (nothing is written). */
  async planFor(user: string): Promise<PurgePlan> {
    const dir = this.directoryOf(user);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const now = this.clock.now();
    const policy = this.policy();
    const [scan, stored, exempt, s3] = await Promise.all([
      this.treeScanner().scan(dir, '', { idle: idleCriterion(policy, now) }),
      this.store.quotas.listPurgePlan(user),
      this.exemptionMatcher(user, now),
      this.s3Idle(user, now),
    ]);
    return storedPlan([...scan.idle, ...s3], stored, this.relativeMatcher(user, exempt), policy, now).plan;
  }

  async purged(user: string, page: Page): Promise<Paged<PurgedFileRecord>> {
    return this.store.quotas.listPurged(user, page);
  }

  /** An admin's run (POST /scratch/v1/purge/runs). */
  async runAs(actor: Principal, options: RunOptions): Promise<PurgeRunSummary> {
    requireRole(actor, 'admin', 'Starting purge runs');
    const problem = options.user === undefined ? undefined : userNameProblem(options.user);
    if (problem) throw InvalidError.field('body.user', problem);
    return this.run({ ...options, trigger: 'admin' });
  }

  /** One run over every user directory (or one); a ConflictError when another run holds the lease. */
  async run(options: RunOptions = {}): Promise<PurgeRunSummary> {
    const dryRun = options.dryRun ?? this.config.scratch.purge.dryRun;
    const start = this.clock.now();
    const lease = () =>
      this.store.quotas.acquireLease(
        PURGE_LEASE,
        this.holder,
        new Date(this.clock.now().getTime() + LEASE_MS),
        this.clock.now(),
      );
    if (!(await lease())) throw new ConflictError('A purge run is already under way; try again when it ends');
    const summary: PurgeRunSummary = {
      runId: randomUUID(),
      dryRun,
      trigger: options.trigger ?? 'admin',
      startedAt: start.toISOString(),
      finishedAt: start.toISOString(),
      users: 0,
      planned: { files: 0, bytes: 0 },
      entered: 0,
      exempt: 0,
      notices: { sent: 0, failed: 0, wouldSend: 0 },
      purged: { files: 0, bytes: 0, items: [] },
      kept: [],
      problems: [],
    };
    try {
      const users = options.user ? [options.user] : await this.scratchUsers(summary);
      for (const user of users) {
        summary.users++;
        try {
          await this.runUser(user, summary, dryRun);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          summary.problems.push({ user, path: '', reason: code ?? (error as Error).message });
        }
        if (!(await lease())) throw new ConflictError('The purge lease was lost (the run took too long)');
      }
      if (!dryRun)
        await this.store.quotas.prunePurged(
          new Date(this.clock.now().getTime() - this.config.scratch.purge.retentionMs),
        );
    } finally {
      await this.store.quotas.releaseLease(PURGE_LEASE, this.holder);
    }
    summary.finishedAt = this.clock.now().toISOString();
    summary.kept = summary.kept.slice(0, SUMMARY_LIMIT);
    summary.problems = summary.problems.slice(0, SUMMARY_LIMIT);
    return summary;
  }

  /** Users with a directory under SCRATCH_ROOT or objects under `scratch/<user>/` of the bucket, by name. */
  private async scratchUsers(summary: PurgeRunSummary): Promise<string[]> {
    const [posix, s3] = await Promise.all([this.userDirectories(summary), this.s3Users(summary)]);
    return [...new Set([...posix, ...s3])].sort();
  }

  /** The `scratch/<user>/` prefixes of the bucket (listed with a delimiter: one entry per user). */
  private async s3Users(summary: PurgeRunSummary): Promise<string[]> {
    const bucket = this.bucket();
    if (!bucket) return [];
    const users: string[] = [];
    const stream = this.storage.s3().listObjectsV2(bucket, 'scratch/', false);
    for await (const item of stream as AsyncIterable<{ prefix?: string }>) {
      if (!item.prefix) continue;
      const name = item.prefix.slice('scratch/'.length).replace(/\/$/, '');
      if (userNameProblem(name))
        summary.problems.push({
          user: name,
          path: s3PlanPath(bucket, item.prefix),
          reason: 'not a user name',
        });
      else users.push(name);
    }
    return users;
  }

  /** User directories directly under SCRATCH_ROOT (never through symlinks), by name. */
  private async userDirectories(summary: PurgeRunSummary): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.config.scratchRoot, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const users: string[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (userNameProblem(e.name))
        summary.problems.push({ user: e.name, path: '', reason: 'not a user name' });
      else users.push(e.name);
    }
    return users.sort();
  }

  private async runUser(user: string, summary: PurgeRunSummary, dryRun: boolean): Promise<void> {
    const dir = this.directoryOf(user);
    const now = this.clock.now();
    // The directory itself must be one: a symlink named like a user would lead the purge elsewhere.
    const st = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (st && !st.isDirectory()) {
      summary.problems.push({ user, path: '', reason: 'not a directory (symlinks are not followed)' });
      return;
    }
    // No directory: a user with S3 scratch objects only (the POSIX side has nothing to plan).
    const hasDir = st !== undefined;
    if (!hasDir && !this.bucket()) return;
    const policy = this.policy();
    const [scan, stored, isExempt, s3] = await Promise.all([
      hasDir
        ? this.treeScanner().scan(dir, '', { idle: idleCriterion(policy, now) })
        : { idle: [] as IdleFile[], problems: [] },
      this.store.quotas.listPurgePlan(user),
      this.exemptionMatcher(user, now),
      this.s3Idle(user, now),
    ]);
    for (const p of scan.problems) summary.problems.push({ user, ...p });
    const { plan, entries, idle, exempt } = storedPlan(
      [...scan.idle, ...s3],
      stored,
      this.relativeMatcher(user, isExempt),
      policy,
      now,
    );
    summary.exempt += exempt;
    const next = new Map<string, PurgePlanEntry>();
    for (const f of plan.files) {
      const file = idle.get(f.path) as IdleFile;
      next.set(
        f.path,
        entries.get(f.path) ?? {
          user,
          path: f.path,
          size: file.size,
          atimeMs: file.atimeMs,
          mtimeMs: file.mtimeMs,
          plannedAt: now.toISOString(),
        },
      );
      if (!entries.has(f.path)) summary.entered++;
    }
    // Notices first: a file is deleted only after both went out (see storedPlan).
    const entering = plan.files.filter((f) => !next.get(f.path)?.notifiedAt);
    const dueSoon = plan.files.filter((f) => {
      const e = entries.get(f.path);
      return e?.notifiedAt && !e.dueSoonNotifiedAt && f.dueMs - now.getTime() <= DAY_MS;
    });
    for (const [event, files, mark] of [
      ['purge.planned', entering, (e: PurgePlanEntry) => (e.notifiedAt = now.toISOString())],
      ['purge.due-soon', dueSoon, (e: PurgePlanEntry) => (e.dueSoonNotifiedAt = now.toISOString())],
    ] as const) {
      if (files.length === 0) continue;
      if (dryRun) {
        summary.notices.wouldSend++;
        continue;
      }
      if (await this.notifier.deliver(this.notice(event, user, dir, summary.runId, now, files))) {
        summary.notices.sent++;
        for (const f of files) mark(next.get(f.path) as PurgePlanEntry);
      } else summary.notices.failed++;
    }
    const bucket = this.bucket();
    const inS3 = (f: PlannedFile) => bucket !== undefined && s3KeyOf(bucket, String(f.rawPath)) !== undefined;
    const posix = hasDir
      ? await runPurge(dir, { ...plan, files: plan.files.filter((f) => !inS3(f)) }, now, { policy, dryRun })
      : { purged: [], kept: [], dryRun };
    const objects = bucket
      ? await runS3Purge(this.storage.s3(), bucket, plan.files.filter(inS3), now, { policy, dryRun })
      : { purged: [], kept: [], dryRun };
    const run = { purged: [...posix.purged, ...objects.purged], kept: [...posix.kept, ...objects.kept] };
    if (bucket && !dryRun)
      for (const p of objects.purged)
        this.usage.noteS3Object(bucket, s3KeyOf(bucket, p.path) as string, null);
    for (const k of run.kept) {
      summary.kept.push({ user, ...k });
      // Used, changed or gone since it was planned: off the plan (it re-enters, with a new notice, if idle again).
      next.delete(k.path);
    }
    for (const p of run.purged) {
      next.delete(p.path);
      summary.purged.files++;
      summary.purged.bytes += p.size;
      if (summary.purged.items.length < SUMMARY_LIMIT)
        summary.purged.items.push({ user, path: p.path, bytes: p.size });
    }
    for (const e of next.values()) {
      summary.planned.files++;
      summary.planned.bytes += e.size;
    }
    if (dryRun) return;
    await this.store.quotas.savePurgePlan(user, [...next.values()]);
    if (run.purged.length === 0) return;
    await this.store.quotas.recordPurged(
      run.purged.map((p) => ({
        id: randomUUID(),
        user,
        path: p.path,
        size: p.size,
        atime: p.atime.toISOString(),
        mtime: p.mtime.toISOString(),
        purgedAt: p.purgedAt.toISOString(),
        reason: p.reason,
        runId: summary.runId,
      })),
    );
    // The marker is for notebook users looking at their directory; an S3-only user has none to write to.
    if (!hasDir) return;
    try {
      await appendPurgeMarker(dir, summary.runId, now, run.purged);
    } catch (error) {
      summary.problems.push({
        user,
        path: PURGE_MARKER,
        reason: `marker not written (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      });
    }
  }

  private notice(
    event: PurgeNoticeEvent,
    user: string,
    directory: string,
    runId: string,
    now: Date,
    files: readonly PlannedFile[],
  ): PurgeNotice {
    return {
      event,
      user,
      directory,
      runId,
      at: now.toISOString(),
      files: files
        .slice(0, NOTICE_FILE_LIMIT)
        .map((f) => ({ path: f.path, bytes: f.size, due: new Date(f.dueMs).toISOString() })),
      bytes: files.reduce((n, f) => n + f.size, 0),
      plan: PLAN_URL,
    };
  }
}
