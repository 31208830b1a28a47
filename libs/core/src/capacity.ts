/**
 * Capacity across the storage tiers (standard archive, derived data,
 * scratch) as pure functions: what a tier uses against its budget, the room
 * the standard tier has once derived and scratch needs are set aside, the
 * growth trend of a usage series, and whether a file's time coverage overlaps
 * a selection's interval. Catalog and scratch-quota both call these, so the
 * numbers they answer cannot disagree.
 */
import type { DatasetKind, TimeCoverage } from './model';

/** Byte budgets: the whole archive and optional per-tier shares (config `capacity`). */
export interface CapacityBudgets {
  total: number;
  standard?: number;
  derived?: number;
  scratch?: number;
}

/** One day's total of a tier (or a user), as a usage history keeps it. */
export interface SeriesPoint {
  /** `YYYY-MM-DD` or a full ISO date-time. */
  at: string;
  bytes: number;
}

/** Growth over the days a series spans: the least-squares slope, in bytes per day. */
export interface CapacityTrend {
  days: number;
  bytesPerDay: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The trend of a usage series (any order); undefined with fewer than two
 * points or when they all fall on one instant (no growth can be measured).
 */
export function trendOf(series: readonly SeriesPoint[]): CapacityTrend | undefined {
  const points = series
    .map((p) => ({ t: Date.parse(p.at) / DAY_MS, bytes: p.bytes }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.bytes));
  if (points.length < 2) return undefined;
  const n = points.length;
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const meanB = points.reduce((s, p) => s + p.bytes, 0) / n;
  let cov = 0;
  let varT = 0;
  for (const p of points) {
    cov += (p.t - meanT) * (p.bytes - meanB);
    varT += (p.t - meanT) ** 2;
  }
  if (varT === 0) return undefined;
  const ts = points.map((p) => p.t);
  return { days: Math.round(Math.max(...ts) - Math.min(...ts)), bytesPerDay: Math.round(cov / varT) };
}

/** What each tier uses now. */
export type TierUsage = Record<DatasetKind, { bytes: number }>;

/**
 * What the standard archive may hold: its own budget (if set) and what the
 * total leaves after derived and scratch needs, each the larger of what the
 * tier uses and its reserved budget (a reservation is kept free for growth).
 */
export interface StandardRoom {
  /** The standard tier's budget, or the total when it has none. */
  standardBudget: number;
  derivedNeed: number;
  scratchNeed: number;
  /** min(standardBudget, total − derivedNeed − scratchNeed), never negative. */
  room: number;
}

export function standardRoom(budgets: CapacityBudgets, usage: TierUsage): StandardRoom {
  const derivedNeed = Math.max(usage.derived.bytes, budgets.derived ?? 0);
  const scratchNeed = Math.max(usage.scratch.bytes, budgets.scratch ?? 0);
  const standardBudget = budgets.standard ?? budgets.total;
  return {
    standardBudget,
    derivedNeed,
    scratchNeed,
    room: Math.max(0, Math.min(standardBudget, budgets.total - derivedNeed - scratchNeed)),
  };
}

/**
 * Whether a coverage overlaps `[start, end]` (either bound optional). Times
 * are compared as the `YYYY-MM-DDTHH:MM:SS` strings of the data's calendar,
 * which order the same in every CF calendar. A file without coverage (an fx
 * field) in a dataset the interval matched belongs to every interval of it.
 */
export function coverageOverlaps(
  coverage: Pick<TimeCoverage, 'start' | 'end'> | null,
  interval: { start?: string; end?: string } | undefined,
): boolean {
  if (!interval || !coverage) return true;
  if (interval.start !== undefined && coverage.end < interval.start) return false;
  if (interval.end !== undefined && coverage.start > interval.end) return false;
  return true;
}
