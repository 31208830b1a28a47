import { Inject, Injectable } from '@nestjs/common';
import {
  canRead,
  InvalidError,
  NotFoundError,
  STORE,
  threddsPath,
  UnauthorizedError,
  type Principal,
  type Store,
} from '@climcat/core';
import {
  AggregatedDataset,
  applyConstraint,
  dapDataset,
  renderDas,
  renderDds,
  type AggregationMember,
} from '@climcat/netcdf';
import { DatasetAggregationService, StorageService } from '@climcat/platform';
import type { OpenedDap } from './opendap.service';

/** `/thredds/dodsC/datasets/<dataset id>`: the prefix of aggregation paths. */
export const AGGREGATION_PREFIX = 'datasets/';

/**
 * Whole-dataset aggregations: every file of a dataset joined along time.
 * Access is the dataset record's; members are its present files, opened only
 * when a read touches them. Plans (cached, rebuilt when a member changes, their
 * warnings recorded on the dataset) are the platform's DatasetAggregationService.
 */
@Injectable()
export class AggregationService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly storage: StorageService,
    private readonly aggregations: DatasetAggregationService,
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
    const planned = await this.aggregations.plan(dataset.id);
    if (!planned) throw new NotFoundError(`${rawPath}: the dataset has no files to aggregate`);
    const { files, members, plan } = planned;
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

  private hidden(caller: Principal, rawPath: string): Error {
    return caller.via === 'anonymous'
      ? new UnauthorizedError(`Authentication required for ${rawPath} (or it does not exist)`)
      : new NotFoundError(`${rawPath} does not exist or is not readable with your credentials`);
  }
}
