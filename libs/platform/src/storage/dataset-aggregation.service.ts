import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DatasetRules,
  STORE,
  threddsPath,
  UnavailableError,
  type DatasetWarning,
  type FileRecord,
  type Store,
} from '@climcat/core';
import {
  AggregationError,
  ByteSourceError,
  NetcdfFormatError,
  planAggregation,
  type AggregationMember,
  type AggregationPlan,
  type DatasetLease,
  type NetcdfDataset,
  type OpenedMember,
} from '@climcat/netcdf';
import { DatasetCacheService } from './dataset-cache.service';

/** Plans kept (DDS/DAS come from them); each is a few KB plus the time axis. */
const MAX_PLANS = 200;
const PAGE = 1000;

interface CachedPlan {
  /** Ids, sizes and mtimes of the member files: a changed file makes a new plan. */
  signature: string;
  plan: Promise<AggregationPlan>;
}

/** A dataset's present files and its aggregation plan over them. */
export interface PlannedAggregation {
  files: FileRecord[];
  members: AggregationMember[];
  plan: AggregationPlan;
}

/**
 * Whole-dataset aggregations (every present file of a dataset joined along
 * time), shared by OPeNDAP/NCSS and the ingestor: plans are cached per dataset
 * and rebuilt when a member's size or mtime changes (or one comes or goes);
 * each rebuild records what it found (a refusal naming the file, gaps,
 * overlaps) on the dataset as `aggregationWarnings`, through DatasetRules.
 * Callers check access first: this service knows files, not callers.
 */
@Injectable()
export class DatasetAggregationService {
  private readonly logger = new Logger('DatasetAggregation');
  private readonly plans = new Map<string, CachedPlan>();

  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly rules: DatasetRules,
    private readonly datasets: DatasetCacheService,
  ) {}

  /**
   * The plan of the dataset's present files (null when it has none). Throws
   * AggregationError when they disagree. `admit: false` (scans) reads members
   * without adding them to the opened-file cache.
   */
  async plan(datasetId: string, options: { admit?: boolean } = {}): Promise<PlannedAggregation | null> {
    const files = await this.presentFiles(datasetId);
    if (files.length === 0) {
      this.plans.delete(datasetId);
      await this.rules.setAggregationWarnings(datasetId, []);
      return null;
    }
    const members = files.map((f) => this.member(f, options.admit));
    return { files, members, plan: await this.planFor(datasetId, files, members) };
  }

  /**
   * Plans each dataset (after a scan changed its files) so its warnings are in
   * the catalog before anyone opens the aggregation. Never throws: a dataset
   * that cannot be planned now is logged and planned again on first use.
   */
  async check(datasetIds: Iterable<string>): Promise<void> {
    for (const id of new Set(datasetIds)) {
      try {
        await this.plan(id, { admit: false });
      } catch (error) {
        if (!(error instanceof AggregationError))
          this.logger.warn({ datasetId: id, err: error }, 'aggregation check failed; retried on first use');
      }
    }
  }

  private async presentFiles(datasetId: string): Promise<FileRecord[]> {
    const out: FileRecord[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.store.files.listByDataset(datasetId, { limit: PAGE, offset });
      out.push(...page.items.filter((f) => f.status === 'present'));
      if (page.items.length < PAGE || offset + PAGE >= page.total) break;
    }
    return out;
  }

  private planFor(
    datasetId: string,
    files: FileRecord[],
    members: AggregationMember[],
  ): Promise<AggregationPlan> {
    const signature = files
      .map((f) => `${f.id}\t${f.size}\t${f.mtime}`)
      .sort()
      .join('\n');
    const cached = this.plans.get(datasetId);
    if (cached?.signature === signature) {
      // Most recently used last, so eviction drops the oldest.
      this.plans.delete(datasetId);
      this.plans.set(datasetId, cached);
      return cached.plan;
    }
    const plan = this.build(datasetId, members);
    this.plans.set(datasetId, { signature, plan });
    // Disagreeing files stay refused until a file changes; transient failures are retried.
    plan.catch((error: unknown) => {
      if (!(error instanceof AggregationError) && this.plans.get(datasetId)?.plan === plan)
        this.plans.delete(datasetId);
    });
    while (this.plans.size > MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
    return plan;
  }

  /** Plans and records the outcome on the dataset (a refusal, gaps, overlaps, or nothing). */
  private async build(datasetId: string, members: AggregationMember[]): Promise<AggregationPlan> {
    let plan: AggregationPlan;
    try {
      plan = await planAggregation(members);
    } catch (error) {
      if (error instanceof AggregationError)
        await this.record(datasetId, [
          { code: 'aggregation-refused', message: error.message, file: error.file },
        ]);
      throw error;
    }
    await this.record(
      datasetId,
      plan.issues.map((w) => ({ code: w.code, message: w.message, file: w.file })),
    );
    return plan;
  }

  private async record(datasetId: string, warnings: DatasetWarning[]): Promise<void> {
    try {
      await this.rules.setAggregationWarnings(datasetId, warnings);
    } catch (error) {
      // The answer does not depend on it; the next rebuild records it.
      this.logger.warn({ datasetId, err: error }, 'could not record aggregation warnings');
    }
  }

  /** A member named by its /thredds path (what callers know), opened through the opened-file cache. */
  private member(file: FileRecord, admit?: boolean): AggregationMember {
    const name = threddsPath(file.location);
    return {
      name,
      // Members come from the opened-file cache like single files: the plan's reads and a
      // .dods touching the same member once per variable reuse one open handle.
      open: async (): Promise<OpenedMember> => {
        let lease: DatasetLease<NetcdfDataset>;
        try {
          lease = await this.datasets.acquire(file.location, file, admit === false ? { admit } : {});
        } catch (error) {
          if (error instanceof NetcdfFormatError)
            throw new AggregationError(
              name,
              `cannot be read as NetCDF: ${error.message.split(error.path).join(name)}`,
            );
          if (error instanceof ByteSourceError)
            throw new UnavailableError(`${name} could not be read (${error.code}); try again later`);
          throw error;
        }
        return { dataset: lease.value, close: () => lease.release() };
      },
    };
  }
}
