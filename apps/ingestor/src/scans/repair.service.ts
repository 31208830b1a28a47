import { Inject, Injectable, Logger } from '@nestjs/common';
import { requireRole, STORE, type Principal, type Store, type TotalsFix } from '@climcat/core';
import { StorageService, safePath } from '@climcat/platform';
import { FileIngestService } from '../files/file-ingest.service';

export interface RepairRequest {
  root?: string;
  prefix?: string;
  dryRun?: boolean;
}

export interface RepairResult {
  /** Datasets compared with their file records. */
  checked: number;
  dryRun: boolean;
  fixed: TotalsFix[];
}

/** Datasets read per page when every dataset is checked. */
const PAGE = 500;

/**
 * Finds datasets whose size or file count disagree with their present file
 * records and recomputes them. Scans do the same for the datasets they see;
 * this checks a whole root (or prefix), or with no root every dataset, which
 * also reaches datasets whose files were all removed.
 */
@Injectable()
export class RepairService {
  private readonly logger = new Logger('Repair');

  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly storage: StorageService,
    private readonly files: FileIngestService,
  ) {}

  async repair(caller: Principal, request: RepairRequest = {}): Promise<RepairResult> {
    requireRole(caller, 'curator', 'Repair');
    const dryRun = request.dryRun === true;
    const ids =
      request.root !== undefined || request.prefix
        ? await this.datasetsUnder(request.root ?? 'data', request.prefix ?? '')
        : await this.allDatasets();
    const fixed = await this.files.repairDatasets(ids, `repair:${caller.subject}`, dryRun);
    if (fixed.length && !dryRun)
      this.logger.warn(
        { by: caller.subject, repaired: fixed.length, first: fixed.slice(0, 20) },
        'repaired dataset totals',
      );
    return { checked: ids.size, dryRun, fixed };
  }

  /** Datasets with present files under a root and prefix. */
  private async datasetsUnder(root: string, prefix: string): Promise<Set<string>> {
    this.storage.root(root);
    const clean = prefix ? safePath(prefix, 'prefix') : '';
    const ids = new Set<string>();
    for await (const batch of this.store.files.iterateByRoot(root, clean)) {
      for (const file of batch) ids.add(file.datasetId);
    }
    return ids;
  }

  private async allDatasets(): Promise<Set<string>> {
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.store.datasets.search({
        access: { everything: true, groups: [] },
        sort: { field: 'datasetId', direction: 'asc' },
        limit: PAGE,
        countTotal: false,
        ...(cursor ? { cursor } : {}),
      });
      for (const dataset of page.items) ids.add(dataset.id);
      cursor = page.next ?? undefined;
    } while (cursor);
    return ids;
  }
}
