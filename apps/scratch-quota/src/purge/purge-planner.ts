/**
 * Fair-use purge of one user's scratch directory: a plan (files unused for
 * the policy's idle time, each with the date it becomes due) and a run that
 * deletes only what is due, re-checking every file immediately before the
 * unlink. A purge never follows symlinks (the scan does not descend into
 * them and the run refuses any path whose parent resolves elsewhere), never
 * leaves the user's directory, and keeps any file used after the plan.
 */
import { lstat, realpath, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { purgeDueMs, unchangedSincePlan, type PurgePolicy } from '@climcat/core';
import {
  comparePaths,
  displayPath,
  type IdleCriterion,
  type IdleFile,
  type ScanPath,
  type TreeScanner,
} from '../usage/tree-scan';

const DAY_MS = 24 * 3600 * 1000;

export interface PlannedFile {
  /** Relative to the user's directory, printable. */
  path: string;
  /** The path as the filesystem knows it (bytes when not UTF-8). */
  rawPath: ScanPath;
  size: number;
  /** Times as epoch milliseconds: a plan holds 100,000s of files, and three Dates each were most of its cost. */
  atimeMs: number;
  mtimeMs: number;
  /** When it will be (or became) due for deletion. */
  dueMs: number;
  action: 'plan' | 'purge';
}

export interface PurgePlan {
  files: PlannedFile[];
  bytes: number;
  /** The earliest due date, if any file is planned. */
  next?: Date;
}

/**
 * The plan for one directory. `plannedAt(path)` says when a file first
 * appeared on the user's plan (so notice periods hold across runs).
 */
export async function planPurge(
  scanner: TreeScanner,
  directory: string,
  policy: PurgePolicy,
  plannedAt: (path: string) => Date | undefined,
  now: Date,
): Promise<PurgePlan> {
  // Files on the plan from now on: idle long enough to enter the notice window.
  const scan = await scanner.scan(directory, '', { idle: idleCriterion(policy, now) });
  return planFromIdle(scan.idle, policy, plannedAt, now);
}

/** The idle-file criterion a scan needs for `planFromIdle` at `now`. */
export function idleCriterion(policy: PurgePolicy, now: Date): IdleCriterion {
  return {
    beforeMs: now.getTime() - (policy.maxIdleDays - policy.noticeDays) * DAY_MS,
    noatime: policy.noatime,
  };
}

/** The plan from the idle files a scan found (so one walk serves usage and the plan). */
export function planFromIdle(
  idle: readonly IdleFile[],
  policy: PurgePolicy,
  plannedAt: (path: string) => Date | undefined,
  now: Date,
): PurgePlan {
  return planFromPrintable(
    idle.map((f): [string, IdleFile] => [displayPath(f.path), f]),
    policy,
    plannedAt,
    now,
  );
}

/** planFromIdle for idle files already keyed by their printable path (`displayPath`). */
export function planFromPrintable(
  idle: Iterable<[string, IdleFile]>,
  policy: PurgePolicy,
  plannedAt: (path: string) => Date | undefined,
  now: Date,
): PurgePlan {
  const files: PlannedFile[] = [];
  for (const [path, f] of idle) {
    const planned = toPlanned(f, path, policy, plannedAt(path), now);
    if (planned) files.push(planned);
  }
  files.sort((a, b) => a.dueMs - b.dueMs || comparePaths(a.path, b.path));
  const first = files[0];
  return {
    files,
    bytes: files.reduce((n, f) => n + f.size, 0),
    ...(first ? { next: new Date(first.dueMs) } : {}),
  };
}

function toPlanned(
  f: IdleFile,
  path: string,
  policy: PurgePolicy,
  plannedAt: Date | undefined,
  now: Date,
): PlannedFile | undefined {
  // Numbers until the file is known to be on the plan: plans hold 100,000s of files.
  const idleSinceMs = policy.noatime ? f.mtimeMs : Math.max(f.atimeMs, f.mtimeMs);
  const nowMs = now.getTime();
  const dueMs = purgeDueMs(idleSinceMs, policy, plannedAt?.getTime(), nowMs);
  if (dueMs === undefined) return undefined;
  return {
    path,
    rawPath: f.path,
    size: f.size,
    atimeMs: f.atimeMs,
    mtimeMs: f.mtimeMs,
    dueMs,
    action: nowMs >= dueMs ? 'purge' : 'plan',
  };
}

export interface PurgedFile {
  path: string;
  size: number;
  atime: Date;
  mtime: Date;
  purgedAt: Date;
  reason: string;
}

export interface KeptFile {
  path: string;
  why: string;
}

export interface PurgeRun {
  purged: PurgedFile[];
  kept: KeptFile[];
  dryRun: boolean;
}

function absolute(base: string, rel: ScanPath): string | Buffer {
  return typeof rel === 'string'
    ? join(base, rel)
    : Buffer.concat([Buffer.from(base + sep), Buffer.from(rel)]);
}

function parentOf(path: string | Buffer): string | Buffer {
  if (typeof path === 'string') return path.slice(0, path.lastIndexOf(sep));
  return path.subarray(0, path.lastIndexOf(sep.charCodeAt(0)));
}

function sameBytes(a: string | Buffer, b: string | Buffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/**
 * Deletes the plan's due files, each only if it is still the regular file
 * the plan saw (same size, atime, mtime) and its parent directory still
 * resolves inside `directory` without symlinks.
 */
export async function runPurge(
  directory: string,
  plan: PurgePlan,
  now: Date,
  options: { dryRun?: boolean; policy: PurgePolicy },
): Promise<PurgeRun> {
  const dryRun = options.dryRun ?? false;
  const run: PurgeRun = { purged: [], kept: [], dryRun };
  const base = await realpath(directory);
  for (const f of plan.files) {
    if (f.action !== 'purge' || f.dueMs > now.getTime()) continue;
    const target = absolute(base, f.rawPath);
    try {
      const parent = parentOf(target);
      const resolved = await realpath(parent, { encoding: 'buffer' });
      if (!sameBytes(resolved, parent)) {
        run.kept.push({ path: f.path, why: 'a directory on its path is now a symlink; not followed' });
        continue;
      }
      const st = await lstat(target);
      if (!st.isFile()) {
        run.kept.push({ path: f.path, why: 'no longer a regular file' });
        continue;
      }
      const current = { size: st.size, atime: st.atime, mtime: st.mtime };
      const planned = { size: f.size, atime: new Date(f.atimeMs), mtime: new Date(f.mtimeMs) };
      if (!unchangedSincePlan(planned, current)) {
        run.kept.push({ path: f.path, why: 'used or changed after the plan was made' });
        continue;
      }
      if (!dryRun) await unlink(target);
      const lastUse = options.policy.noatime ? planned.mtime : planned.atime;
      run.purged.push({
        path: f.path,
        size: f.size,
        atime: planned.atime,
        mtime: planned.mtime,
        purgedAt: now,
        reason: `not used for ${options.policy.maxIdleDays} days (${options.policy.noatime ? 'mtime' : 'atime'} ${lastUse.toISOString()})`,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      run.kept.push({
        path: f.path,
        why: code === 'ENOENT' ? 'already gone' : `could not be checked (${code})`,
      });
    }
  }
  return run;
}
