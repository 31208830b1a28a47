import { Inject, Injectable } from '@nestjs/common';
import {
  canRead,
  InvalidError,
  NotFoundError,
  STORE,
  threddsPath,
  UnauthorizedError,
  UnavailableError,
  type FileRecord,
  type Principal,
  type Store,
} from '@climcat/core';
import {
  AggregatedDataset,
  AggregationError,
  applyConstraint,
  ByteSourceError,
  dapDataset,
  NetcdfFormatError,
  planAggregation,
  renderDas,
  renderDds,
  type AggregationMember,
  type AggregationPlan,
  type DatasetLease,
  type NetcdfDataset,
  type OpenedMember,
} from '@climcat/netcdf';
import { DatasetCacheService, StorageService } from '@climcat/platform';
import type { OpenedDap } from './opendap.service';

/** `/thredds/dodsC/datasets/<dataset id>`: the prefix of aggregation paths. */
export const AGGREGATION_PREFIX = 'datasets/';

/** Plans kept (DDS/DAS come from them); each is a few KB plus the time axis. */
const MAX_PLANS = 200;
const PAGE = 1000;

interface CachedPlan {
  /** Ids, sizes and mtimes of the member files: a changed file makes a new plan. */
  signature: string;
  plan: Promise<AggregationPlan>;
}

/**
 * Whole-dataset aggregations: every file of a dataset joined along time.
 * Access is the dataset record's; members are its present files, opened only
 * when a read touches them. Plans are cached per dataset and rebuilt when a
 * member file's size or mtime changes (or one appears or goes).
 */
@Injectable()
export class AggregationService {
  private readonly plans = new Map<string, CachedPlan>();

  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly storage: StorageService,
    private readonly datasets: DatasetCacheService,
  ) {}

  static isAggregationPath(rawPath: string): boolean {
    return rawPath.startsWith(AGGREGATION_PREFIX);
  }

  async open(caller: Principal, rawPath: string): Promise<OpenedDap> {
    const encoded = rawPath.slice(AGGREGATION_PREFIX.length);
    let id: string;
    try {
      id = decodeURIComponent(encoded);
    } catch {
      throw InvalidError.field('path', `"${encoded}" is not a valid percent-encoded dataset id`);
    }
    const dataset = id && !id.includes('/') ? await this.store.datasets.get(id) : null;
    if (!dataset || !canRead(caller, dataset)) throw this.hidden(caller, rawPath);
    const files = await this.presentFiles(dataset.id);
    if (files.length === 0) throw new NotFoundError(`${rawPath}: the dataset has no files to aggregate`);
    const members = files.map((f) => this.member(f));
    const plan = await this.planFor(dataset.id, files, members);
    const byName = new Map(members.map((m) => [m.name, m]));
    const aggregated = new AggregatedDataset(
      plan,
      (i) => (byName.get(plan.members[i]?.name ?? '') as AggregationMember).open(),
      rawPath,
    );
    // The earliest file stands for the aggregation where one location is expected (DAS hints).
    const first = files.find((f) => threddsPath(f.location) === plan.members[0]?.name) ?? files[0];
    if (!first) throw new NotFoundError(`${rawPath}: the dataset has no files to aggregate`);
    const dap = dapDataset(aggregated.metadata, dataset.id);
    const urls = this.storage.datasetAccessUrls(dataset.id);
    let dds: string | undefined;
    let das: string | undefined;
    return {
      resolved: { location: first.location, file: first, dataset },
      dataset: aggregated,
      dap,
      dds: () => (dds ??= renderDds(dap, applyConstraint(dap, ''))),
      das: () =>
        (das ??= renderDas(dap, {
          omittedHint: `get them from ${urls.ncss} or from the member files' fileServer URLs`,
        })),
      close: () => aggregated.close(),
    };
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
    const plan = planAggregation(members);
    this.plans.set(datasetId, { signature, plan });
    // Disagreeing files stay refused until a file changes; transient failures are retried.
    plan.catch((error: unknown) => {
      if (!(error instanceof AggregationError) && this.plans.get(datasetId)?.plan === plan)
        this.plans.delete(datasetId);
    });
    while (this.plans.size > MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
    return plan;
  }

  /** A member named by its /thredds path (what callers know), opened through storage. */
  private member(file: FileRecord): AggregationMember {
    const name = threddsPath(file.location);
    return {
      name,
      // Members come from the opened-file cache like single files: the plan's reads and a
      // .dods touching the same member once per variable reuse one open handle.
      open: async (): Promise<OpenedMember> => {
        let lease: DatasetLease<NetcdfDataset>;
        try {
          lease = await this.datasets.acquire(file.location, file);
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

  private hidden(caller: Principal, rawPath: string): Error {
    return caller.via === 'anonymous'
      ? new UnauthorizedError(`Authentication required for ${rawPath} (or it does not exist)`)
      : new NotFoundError(`${rawPath} does not exist or is not readable with your credentials`);
  }
}
