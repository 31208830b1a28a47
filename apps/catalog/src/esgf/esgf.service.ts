/**
 * The subset of the ESGF search API (esg-search/search) that esgf-pyclient
 * and scripts use, answered from the catalog: parameters parsed by
 * esgf-params.ts, records shaped by solr-mapping.ts.
 */
import { Inject, Injectable } from '@nestjs/common';
import { accessFilterFor, STORE, type DatasetQuery, type Principal, type Store } from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import type { RawQuery } from '../datasets/search-params';
import { parseEsgfParams } from './esgf-params';
import {
  datasetDoc,
  fileDoc,
  solrFacets,
  solrNode,
  solrResponse,
  type EsgfDoc,
  type EsgfResponse,
  type SolrNode,
} from './solr-mapping';

@Injectable()
export class EsgfService {
  private readonly node: SolrNode;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly storage: StorageService,
  ) {
    this.node = solrNode(config.publicUrl);
  }

  async search(caller: Principal, raw: RawQuery): Promise<EsgfResponse> {
    const started = performance.now();
    const { type, query, fields } = parseEsgfParams(raw, accessFilterFor(caller));
    const limit = query.limit;
    const offset = query.offset ?? 0;

    let numFound: number;
    let docs: EsgfDoc[];
    let facetFields: Record<string, (string | number)[]> = {};
    if (type === 'Dataset') {
      const result = await this.store.datasets.search(query);
      numFound = result.total;
      docs = result.items.map((d) => datasetDoc(this.node, d));
      facetFields = solrFacets(result.facets);
    } else {
      ({ numFound, docs } = await this.fileDocs(query, offset, limit));
      if (query.facetCounts) {
        // ESGF counts files here; a file carries its dataset's facets, so each dataset counts its files.
        const counts = await this.store.datasets.search({
          ...query,
          limit: 0,
          offset: undefined,
          facetCountUnit: 'files',
        });
        facetFields = solrFacets(counts.facets);
      }
    }
    return solrResponse({
      raw,
      type,
      limit,
      offset,
      qTime: Math.round(performance.now() - started),
      numFound,
      docs,
      fields,
      facetFields,
    });
  }

  /** Files across matching datasets, paged by walking dataset file counts (no full scan). */
  private async fileDocs(
    query: DatasetQuery,
    offset: number,
    limit: number,
  ): Promise<{ numFound: number; docs: EsgfDoc[] }> {
    const docs: EsgfDoc[] = [];
    let numFound = 0;
    let skip = offset;
    let cursor: string | undefined;
    do {
      const page = await this.store.datasets.search({
        ...query,
        limit: 500,
        cursor,
        facetCounts: undefined,
        offset: undefined,
      });
      for (const dataset of page.items) {
        numFound += dataset.fileCount;
        if (docs.length >= limit) continue;
        if (skip >= dataset.fileCount) {
          skip -= dataset.fileCount;
          continue;
        }
        const files = await this.store.files.listByDataset(dataset.id, {
          offset: skip,
          limit: limit - docs.length,
        });
        skip = 0;
        docs.push(
          ...files.items.map((f) => fileDoc(this.node, dataset, f, this.storage.accessUrls(f.location))),
        );
      }
      cursor = page.next ?? undefined;
    } while (cursor);
    return { numFound, docs };
  }
}
