/**
 * The subset of the ESGF search API (esg-search/search) that esgf-pyclient
 * and scripts use, answered from the catalog: parameters parsed by
 * esgf-params.ts, records shaped by solr-mapping.ts.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  accessFilterFor,
  STORE,
  type DatasetQuery,
  type FileRecord,
  type Principal,
  type Store,
} from '@climcat/core';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import type { RawQuery } from '../datasets/search-params';
import { walkDatasets } from '../exports/file-walk';
import { parseEsgfParams, type EsgfFormat, type UpdatedRange } from './esgf-params';
import {
  aggregationDoc,
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

  /** The answer to an esg-search query, and the format it is to be written in. */
  async search(caller: Principal, raw: RawQuery): Promise<{ format: EsgfFormat; answer: EsgfResponse }> {
    const started = performance.now();
    const search = parseEsgfParams(raw, accessFilterFor(caller));
    const { type, query } = search;
    const limit = query.limit;
    const offset = query.offset ?? 0;

    let numFound: number;
    let docs: EsgfDoc[];
    let facetFields: Record<string, (string | number)[]> = {};
    if (type === 'File') {
      ({ numFound, docs } = await this.fileDocs(query, offset, limit, search.fileUpdated));
      if (query.facetCounts) {
        // ESGF counts files here; a file carries its dataset's facets, so each dataset counts its files.
        // (With from/to, the counts are of the matching datasets' files, not only of the files modified then.)
        const counts = await this.store.datasets.search({
          ...query,
          limit: 0,
          offset: undefined,
          facetCountUnit: 'files',
        });
        facetFields = solrFacets(counts.facets);
      }
    } else {
      // An aggregation per dataset: both page and count datasets.
      const result = await this.store.datasets.search(query);
      numFound = result.total;
      const toDoc = type === 'Aggregation' ? aggregationDoc : datasetDoc;
      docs = result.items.map((d) => toDoc(this.node, d));
      facetFields = solrFacets(result.facets);
    }
    if (search.everyFacet) {
      facetFields = Object.fromEntries(Object.entries(facetFields).filter(([, counts]) => counts.length > 0));
    }
    const answer = solrResponse({
      raw,
      type,
      format: search.format,
      ...(search.distrib ? { shards: `${this.node.dataNode}/solr` } : {}),
      limit,
      offset,
      qTime: Math.round(performance.now() - started),
      numFound,
      docs,
      fields: search.fields,
      facetFields,
    });
    return { format: search.format, answer };
  }

  /** Files across matching datasets, paged by walking dataset file counts (no full scan). */
  private async fileDocs(
    query: DatasetQuery,
    offset: number,
    limit: number,
    updated: UpdatedRange | null,
  ): Promise<{ numFound: number; docs: EsgfDoc[] }> {
    if (updated) return this.fileDocsModified(query, offset, limit, updated);
    const docs: EsgfDoc[] = [];
    let numFound = 0;
    let skip = offset;
    for await (const dataset of walkDatasets(this.store, query)) {
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
    return { numFound, docs };
  }

  /**
   * Files modified within from/to (each file's own updatedAt, its `_timestamp`):
   * no index on that, so every file of the matching datasets is read, a page at a time.
   */
  private async fileDocsModified(
    query: DatasetQuery,
    offset: number,
    limit: number,
    updated: UpdatedRange,
  ): Promise<{ numFound: number; docs: EsgfDoc[] }> {
    const inRange = (f: FileRecord) =>
      (updated.from === undefined || f.updatedAt >= updated.from) &&
      (updated.to === undefined || f.updatedAt <= updated.to);
    const docs: EsgfDoc[] = [];
    let numFound = 0;
    for await (const dataset of walkDatasets(this.store, query)) {
      for (let at = 0; at < dataset.fileCount; at += 1000) {
        const files = await this.store.files.listByDataset(dataset.id, { offset: at, limit: 1000 });
        for (const f of files.items.filter(inRange)) {
          if (numFound >= offset && docs.length < limit)
            docs.push(fileDoc(this.node, dataset, f, this.storage.accessUrls(f.location)));
          numFound++;
        }
        if (files.items.length < 1000) break;
      }
    }
    return { numFound, docs };
  }
}
