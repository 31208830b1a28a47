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
import { purgeDecision, unchangedSincePlan, type PurgePolicy } from '@climcat/core';
import {
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
  atime: Date;
  mtime: Date;
  /** When it will be (or became) due for deletion. */
  due: Date;
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
  const files: PlannedFile[] = [];
  for (const f of idle) {
    const planned = toPlanned(f, policy, plannedAt(displayPath(f.path)), now);
    if (planned) files.push(planned);
  }
  files.sort((a, b) => a.due.getTime() - b.due.getTime() || a.path.localeCompare(b.path));
  const first = files[0];
  return { files, bytes: files.reduce((n, f) => n + f.size, 0), ...(first ? { next: first.due } : {}) };
}

function toPlanned(
  f: IdleFile,
  policy: PurgePolicy,
  plannedAt: Date | undefined,
  now: Date,
): PlannedFile | undefined {
  const times = { atime: new Date(f.atimeMs), mtime: new Date(f.mtimeMs) };
  const decision = purgeDecision(times, policy, plannedAt, now);
  if (decision.action === 'keep') return undefined;
  return {
    path: displayPath(f.path),
    rawPath: f.path,
    size: f.size,
    ...times,
    due: decision.due,
    action: decision.action,
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
    if (f.action !== 'purge' || f.due.getTime() > now.getTime()) continue;
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
      if (!unchangedSincePlan({ size: f.size, atime: f.atime, mtime: f.mtime }, current)) {
        run.kept.push({ path: f.path, why: 'used or changed after the plan was made' });
        continue;
      }
      if (!dryRun) await unlink(target);
      run.purged.push({
        path: f.path,
        size: f.size,
        atime: f.atime,
        mtime: f.mtime,
        purgedAt: now,
        reason: `not used for ${options.policy.maxIdleDays} days (${options.policy.noatime ? 'mtime' : 'atime'} ${(options
          .policy.noatime
          ? f.mtime
          : f.atime
        ).toISOString()})`,
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
