import { Inject, Injectable } from '@nestjs/common';
import {
  DATASET_KINDS,
  STORE,
  standardRoom,
  trendOf,
  type CapacityRow,
  type CapacityTrend,
  type DatasetKind,
  type StandardRoom,
  type Store,
  type SeriesPoint,
} from '@climcat/core';
import { APP_CONFIG, type AppConfig } from '../config/config';

/**
 * Where tier trends come from: a daily usage history (bytes per day of a
 * tier, oldest first or in any order). The usage-history owner registers one
 * with `CapacityService.useHistory`; by default the scratch tier's trend comes
 * from the stored daily usage history and the other tiers carry none.
 */
export interface CapacityHistorySource {
  tierSeries(kind: DatasetKind, days: number): Promise<SeriesPoint[]>;
}

/** What the scratch service last measured, summed over users (POSIX SCRATCH_ROOT/<user> plus S3 prefixes). */
export interface ScratchTotals {
  bytes: number;
  files: number;
  /** Users with a stored usage state. */
  users: number;
  /** Users whose usage a scan has measured (the rest count what uploads added). */
  measured: number;
  /** The oldest scan among them: totals are at least this fresh. */
  oldestScanAt: string | null;
}

export interface CapacityTier {
  kind: DatasetKind;
  bytes: number;
  files: number;
  /** Catalogued datasets of the tier. */
  datasets: number;
  /** Configured budget in bytes (null: shares the total). */
  budget: number | null;
  /** bytes / budget (null without a budget). */
  used: number | null;
  /** What the bytes count: catalogued file sizes, or the scratch service's measurement. */
  source: 'catalog' | 'scratch-usage';
  /** For scratch: what catalogued scratch datasets hold (already inside the measured bytes). */
  catalogued?: { bytes: number; files: number; datasets: number };
  trend?: CapacityTrend;
}

export interface CapacityReport {
  totalBudget: number;
  totalBytes: number;
  tiers: CapacityTier[];
  /** Catalogued datasets per tier and project. */
  byProject: CapacityRow[];
  /** Room the standard tier has after derived and scratch needs (see @climcat/core standardRoom). */
  standard: StandardRoom;
  scratch: ScratchTotals;
}

/** Days of history a trend is computed over. */
export const TREND_DAYS = 30;

/**
 * The one capacity computation (GET /api/v1/capacity, the availability plan,
 * the scratch admin report and its gauges): catalogued bytes per tier and
 * project from the dataset repository, the scratch tier from the usage the
 * scratch service measured and stored, budgets from config.
 */
@Injectable()
export class CapacityService {
  /** Defaults to the scratch tier's daily totals from the usage history (the other tiers keep no series). */
  private history: CapacityHistorySource = { tierSeries: (kind, days) => this.scratchSeries(kind, days) };

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The hook for the daily usage history: tiers get `trend` from it. */
  useHistory(source: CapacityHistorySource): void {
    this.history = source;
  }

  /** Scratch bytes per day over the last `days` UTC days: the sum of every user's point of that day. */
  private async scratchSeries(kind: DatasetKind, days: number): Promise<SeriesPoint[]> {
    if (kind !== 'scratch') return [];
    const today = Date.now();
    const series: SeriesPoint[] = [];
    for (let d = days - 1; d >= 0; d--) {
      const day = new Date(today - d * 86_400_000).toISOString().slice(0, 10);
      const points = await this.store.usageHistory.pointsOfDay('user', day);
      if (points.length) series.push({ at: day, bytes: points.reduce((n, p) => n + p.bytes, 0) });
    }
    return series;
  }

  async scratchTotals(): Promise<ScratchTotals> {
    const states = await this.store.quotas.listStates('user');
    const scanned = states.map((s) => s.scannedAt).filter((at): at is string => at !== undefined);
    return {
      bytes: states.reduce((n, s) => n + s.usage.bytes, 0),
      files: states.reduce((n, s) => n + s.usage.files, 0),
      users: states.length,
      measured: scanned.length,
      oldestScanAt: scanned.length ? scanned.sort()[0]! : null,
    };
  }

  async report(): Promise<CapacityReport> {
    const [rows, scratch] = await Promise.all([this.store.datasets.capacity(), this.scratchTotals()]);
    const budgets = this.config.capacity;
    const tiers = await Promise.all(
      DATASET_KINDS.map(async (kind): Promise<CapacityTier> => {
        const mine = rows.filter((r) => r.kind === kind);
        const catalogued = {
          bytes: mine.reduce((n, r) => n + r.bytes, 0),
          files: mine.reduce((n, r) => n + r.files, 0),
          datasets: mine.reduce((n, r) => n + r.datasets, 0),
        };
        const budget = budgets[kind] ?? null;
        const isScratch = kind === 'scratch';
        // Catalogued scratch datasets live in scratch directories, so the measurement includes them;
        // before any measurement the catalogue is all there is.
        const bytes = isScratch ? Math.max(scratch.bytes, catalogued.bytes) : catalogued.bytes;
        const files = isScratch ? Math.max(scratch.files, catalogued.files) : catalogued.files;
        const trend = trendOf(await this.history.tierSeries(kind, TREND_DAYS));
        return {
          kind,
          bytes,
          files,
          datasets: catalogued.datasets,
          budget,
          used: budget ? bytes / budget : null,
          source: isScratch ? 'scratch-usage' : 'catalog',
          ...(isScratch ? { catalogued } : {}),
          ...(trend ? { trend } : {}),
        };
      }),
    );
    const usage = Object.fromEntries(tiers.map((t) => [t.kind, { bytes: t.bytes }])) as Record<
      DatasetKind,
      { bytes: number }
    >;
    return {
      totalBudget: budgets.total,
      totalBytes: tiers.reduce((n, t) => n + t.bytes, 0),
      tiers,
      byProject: rows.map((r) => ({ ...r })),
      standard: standardRoom(budgets, usage),
      scratch,
    };
  }
}
