import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  FACET_NAMES,
  InvalidError,
  requireRole,
  STORE,
  type DatasetQuery,
  type DatasetSearchResult,
  type Principal,
  type Store,
  type WriteContext,
} from '@climcat/core';
import { CapacityService } from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { DatasetService } from '../datasets/dataset.service';
import type { BulkResultDto, CapacityDto } from './curation.dto';
import type { RawQuery } from '../datasets/search-params';

const BULK_PAGE = 200;
const BULK_MAX = 100_000;

@Injectable()
export class CurationService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly capacityReports: CapacityService,
    private readonly datasets: DatasetService,
  ) {}

  /** Facet values and counts over the datasets the caller may read (all facets unless `facets=` names some). */
  async facets(caller: Principal, raw: RawQuery): Promise<DatasetSearchResult> {
    const query = this.datasets.parseQuery(caller, raw);
    const facetCounts = query.facetCounts ?? [...FACET_NAMES];
    return this.store.datasets.search({
      ...query,
      facetCounts,
      limit: 0,
      cursor: undefined,
      offset: undefined,
    });
  }

  /**
   * Applies one merge patch to every dataset matching a search. Dry run
   * reports the count and a sample. Every change is in each dataset's
   * history with action `bulk-update` and the operation id as note.
   */
  async bulk(
    ctx: WriteContext,
    filter: RawQuery,
    patch: Record<string, unknown>,
    dryRun: boolean,
  ): Promise<BulkResultDto> {
    const { caller } = ctx;
    requireRole(caller, 'curator', 'Bulk curation');
    let query: DatasetQuery;
    try {
      query = this.datasets.parseQuery(caller, filter);
    } catch (error) {
      if (error instanceof InvalidError) {
        const errors = error.errors.map((e) => ({
          ...e,
          field: e.field.replace(/^query\./, 'body.filter.'),
        }));
        throw InvalidError.of(errors);
      }
      throw error;
    }
    const base: DatasetQuery = {
      ...query,
      sort: { field: 'datasetId', direction: 'asc' },
      facetCounts: undefined,
      offset: undefined,
    };
    const first = await this.store.datasets.search({ ...base, limit: 20, cursor: undefined });
    const operationId = randomUUID();
    const result: BulkResultDto = {
      dryRun,
      matched: first.total,
      sample: first.items.map((d) => d.id),
      updated: 0,
      unchanged: 0,
      failed: [],
      operationId,
    };
    if (dryRun) return result;
    if (first.total > BULK_MAX) {
      throw InvalidError.field(
        'body.filter',
        `matches ${first.total} datasets; narrow it to at most ${BULK_MAX}`,
      );
    }
    // Collect ids (and the revision seen) first so the patch cannot move datasets in or out of the
    // page sequence; an unchanged revision after the patch means the patch changed nothing.
    const matches: { id: string; revision: number }[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.datasets.search({ ...base, limit: BULK_PAGE, cursor, countTotal: false });
      matches.push(...page.items.map((d) => ({ id: d.id, revision: d.revision })));
      cursor = page.next ?? undefined;
    } while (cursor);
    for (const { id, revision } of matches) {
      try {
        const after = await this.datasets.patch(
          { ...ctx, note: operationId },
          id,
          patch,
          undefined,
          'bulk-update',
        );
        if (after.revision === revision) result.unchanged++;
        else result.updated++;
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        result.failed.push({ id, reason: error.message });
      }
    }
    return result;
  }

  /** Bytes and counts per tier and project against the configured budgets (the shared computation). */
  async capacity(caller: Principal): Promise<CapacityDto> {
    requireRole(caller, 'curator', 'The capacity report');
    return this.capacityReports.report();
  }
}
