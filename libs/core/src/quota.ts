/**
 * Fair-use rules for scratch space, as pure functions of usage, limits and
 * an explicit `now` (so tests move the clock instead of sleeping).
 *
 * Quotas follow Lustre: exceeding the soft limit starts a grace period;
 * once it has passed, the soft limit acts as the hard limit; the hard limit
 * is absolute. Purges follow NERSC practice: files unused for N days are
 * removed, but only after they have been on the user's visible plan for at
 * least the notice period.
 */
import { InvalidError, type FieldProblem } from './errors';

export type QuotaState = 'ok' | 'soft-exceeded' | 'grace-expired' | 'hard-exceeded';

/** Limits of one quota; an absent limit is unlimited. */
export interface QuotaLimits {
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  /** Grace after the soft limit is first exceeded (Lustre's default is one week). */
  graceSeconds: number;
}

export interface QuotaUsage {
  bytes: number;
  files: number;
}

/**
 * When usage went over each soft limit; kept by the caller between
 * evaluations and cleared when usage falls back under the limit.
 */
export interface SoftSince {
  bytes?: Date;
  files?: Date;
}

export interface QuotaEvaluation {
  state: QuotaState;
  /** End of the running (or expired) grace period of the earliest soft excess. */
  graceUntil?: Date;
  /** The soft-excess timestamps to keep for the next evaluation. */
  softSince: SoftSince;
  /** What may still be written now: bytes and files (0 when blocked; Infinity when unlimited). */
  remaining: QuotaUsage;
}

export const DEFAULT_GRACE_SECONDS = 7 * 24 * 3600;

const STATE_ORDER: readonly QuotaState[] = ['ok', 'soft-exceeded', 'grace-expired', 'hard-exceeded'];

function worse(a: QuotaState, b: QuotaState): QuotaState {
  return STATE_ORDER.indexOf(a) >= STATE_ORDER.indexOf(b) ? a : b;
}

function addSeconds(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000);
}

interface AxisResult {
  state: QuotaState;
  since?: Date;
  graceUntil?: Date;
  remaining: number;
}

function evaluateAxis(
  used: number,
  soft: number | undefined,
  hard: number | undefined,
  previousSince: Date | undefined,
  graceSeconds: number,
  now: Date,
): AxisResult {
  // The grace clock runs while usage is over the soft limit and resets under it.
  const since = soft !== undefined && used > soft ? (previousSince ?? now) : undefined;
  const graceUntil = since ? addSeconds(since, graceSeconds) : undefined;
  const window = since && graceUntil ? { since, graceUntil } : {};
  if (hard !== undefined && used > hard) return { state: 'hard-exceeded', ...window, remaining: 0 };
  const hardRoom = hard === undefined ? Infinity : hard - used;
  if (!graceUntil) return { state: 'ok', remaining: hardRoom };
  if (now.getTime() >= graceUntil.getTime()) return { state: 'grace-expired', ...window, remaining: 0 };
  return { state: 'soft-exceeded', ...window, remaining: hardRoom };
}

/** The state of one quota at `now`, and what may still be written. */
export function evaluateQuota(
  limits: QuotaLimits,
  usage: QuotaUsage,
  softSince: SoftSince,
  now: Date,
): QuotaEvaluation {
  const { graceSeconds } = limits;
  const bytes = evaluateAxis(
    usage.bytes,
    limits.softBytes,
    limits.hardBytes,
    softSince.bytes,
    graceSeconds,
    now,
  );
  const files = evaluateAxis(
    usage.files,
    limits.softFiles,
    limits.hardFiles,
    softSince.files,
    graceSeconds,
    now,
  );
  const graces = [bytes.graceUntil, files.graceUntil].filter((d): d is Date => d !== undefined);
  const graceUntil = graces.length ? new Date(Math.min(...graces.map((d) => d.getTime()))) : undefined;
  return {
    state: worse(bytes.state, files.state),
    ...(graceUntil ? { graceUntil } : {}),
    softSince: {
      ...(bytes.since ? { bytes: bytes.since } : {}),
      ...(files.since ? { files: files.since } : {}),
    },
    remaining: { bytes: bytes.remaining, files: files.remaining },
  };
}

export interface GrantRequest {
  bytes: number;
  files: number;
}

export type GrantDecision =
  { granted: true } | { granted: false; state: QuotaState; reason: string; remaining: QuotaUsage };

/**
 * Whether a write of `request` fits, counting bytes already reserved by
 * grants that have not completed. A write that would take usage past the
 * soft limit is allowed during grace (that is what grace is for), never past
 * the hard limit, and nothing past the soft limit once grace has expired.
 */
export function decideGrant(
  limits: QuotaLimits,
  usage: QuotaUsage,
  reserved: QuotaUsage,
  softSince: SoftSince,
  request: GrantRequest,
  now: Date,
): GrantDecision {
  const after: QuotaUsage = {
    bytes: usage.bytes + reserved.bytes + request.bytes,
    files: usage.files + reserved.files + request.files,
  };
  const current = evaluateQuota(
    limits,
    { bytes: usage.bytes + reserved.bytes, files: usage.files + reserved.files },
    softSince,
    now,
  );
  const refuse = (reason: string): GrantDecision => ({
    granted: false,
    state: current.state,
    reason,
    remaining: current.remaining,
  });
  if (current.state === 'grace-expired')
    return refuse(
      `the grace period ended at ${current.graceUntil?.toISOString()}; usage is over the soft limit`,
    );
  if (current.state === 'hard-exceeded') return refuse('usage is over the hard limit');
  if (limits.hardBytes !== undefined && after.bytes > limits.hardBytes)
    return refuse(`${request.bytes} bytes would exceed the hard limit of ${limits.hardBytes} bytes`);
  if (limits.hardFiles !== undefined && after.files > limits.hardFiles)
    return refuse(`${request.files} more files would exceed the hard limit of ${limits.hardFiles} files`);
  return { granted: true };
}

/** Checks a quota as an admin sets it: whole non-negative numbers, soft ≤ hard. */
export function quotaProblems(limits: Partial<QuotaLimits>, prefix = 'body'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const key of ['softBytes', 'hardBytes', 'softFiles', 'hardFiles', 'graceSeconds'] as const) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0)
      problems.push({
        field: `${prefix}.${key}`,
        message: `must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
      });
  }
  const pairs = [
    ['softBytes', 'hardBytes'],
    ['softFiles', 'hardFiles'],
  ] as const;
  for (const [soft, hard] of pairs) {
    const s = limits[soft];
    const h = limits[hard];
    if (s !== undefined && h !== undefined && s > h)
      problems.push({ field: `${prefix}.${soft}`, message: `must not exceed ${hard} (${h})` });
  }
  return problems;
}

/** Throws an InvalidError naming each bad member of a quota. */
export function assertQuota(limits: Partial<QuotaLimits>, prefix = 'body'): void {
  InvalidError.throwIfAny(quotaProblems(limits, prefix));
}

export interface PurgePolicy {
  /** Files unused for this many days are purged. */
  maxIdleDays: number;
  /** A file is deleted only after it has been on the plan this many days. */
  noticeDays: number;
  /** The mount does not update atime: judge by mtime alone. */
  noatime: boolean;
}

export interface FileTimes {
  atime: Date;
  mtime: Date;
}

const DAY_MS = 24 * 3600 * 1000;

/** When the file was last used: its atime (never older than its mtime), or its mtime on noatime mounts. */
export function lastUse(times: FileTimes, noatime: boolean): Date {
  if (noatime) return times.mtime;
  return times.atime.getTime() >= times.mtime.getTime() ? times.atime : times.mtime;
}

export type PurgeDecision =
  /** Not idle long enough to appear on the plan. */
  | { action: 'keep' }
  /** On the plan: it will be deleted at `due` unless it is used before. */
  | { action: 'plan'; due: Date; idleSince: Date }
  /** Due now: delete after re-checking the file has not changed. */
  | { action: 'purge'; due: Date; idleSince: Date };

/**
 * What to do with one file. `plannedAt` is when it first appeared on the
 * user's plan (undefined if it never has): deletion waits until it has been
 * visible for the notice period, even when it is long overdue.
 */
export function purgeDecision(
  times: FileTimes,
  policy: PurgePolicy,
  plannedAt: Date | undefined,
  now: Date,
): PurgeDecision {
  const idleSince = lastUse(times, policy.noatime);
  const dueMs = purgeDueMs(idleSince.getTime(), policy, plannedAt?.getTime(), now.getTime());
  if (dueMs === undefined) return { action: 'keep' };
  const due = new Date(dueMs);
  return now.getTime() >= dueMs ? { action: 'purge', due, idleSince } : { action: 'plan', due, idleSince };
}

/**
 * {@link purgeDecision} on epoch milliseconds, for plans of many files
 * (no objects per file): when the file becomes due, or undefined to keep it.
 */
export function purgeDueMs(
  idleSinceMs: number,
  policy: PurgePolicy,
  plannedAtMs: number | undefined,
  nowMs: number,
): number | undefined {
  const idleDue = idleSinceMs + policy.maxIdleDays * DAY_MS;
  const planFrom = idleDue - policy.noticeDays * DAY_MS;
  // A plan entry made before the file was last used no longer counts.
  const noticed = plannedAtMs !== undefined && plannedAtMs >= idleSinceMs ? plannedAtMs : undefined;
  if (nowMs < planFrom && noticed === undefined) return undefined;
  return Math.max(idleDue, (noticed ?? nowMs) + policy.noticeDays * DAY_MS);
}

/**
 * The re-check immediately before unlinking: a file whose times or size
 * differ from what the plan saw has been used, and is kept.
 */
export function unchangedSincePlan(
  planned: FileTimes & { size: number },
  current: FileTimes & { size: number },
): boolean {
  return (
    planned.size === current.size &&
    planned.mtime.getTime() === current.mtime.getTime() &&
    planned.atime.getTime() === current.atime.getTime()
  );
}
