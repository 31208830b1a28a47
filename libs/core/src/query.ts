/** The shared search model every dataset repository adapter implements identically. */
import type { AccessFilter } from './principal';
import type { Availability, BBox, DatasetKind, DatasetRecord, DatasetStatus, FacetName } from './model';

export type DatasetSortField = 'datasetId' | 'createdAt' | 'updatedAt' | 'size';
export const DATASET_SORT_FIELDS: readonly DatasetSortField[] = [
  'datasetId',
  'createdAt',
  'updatedAt',
  'size',
];

export interface DatasetQuery {
  access: AccessFilter;
  /** AND across facet names, OR within the values of one name. */
  facets?: Partial<Record<FacetName, string[]>>;
  /** Tokens (see `tokenize`); every token must prefix-match a token of the dataset. */
  text?: string[];
  ids?: string[];
  /** ESGF-style dataset ids without version (all versions of each); ESGF calls them master_id. */
  datasetIds?: string[];
  /** Overlap with the dataset's time coverage; full `YYYY-MM-DDTHH:MM:SS` strings. */
  time?: { start?: string; end?: string };
  /** Intersection with the dataset's bbox; west > east crosses the antimeridian. */
  bbox?: BBox;
  /** Bounds (inclusive) on the record's updatedAt, full ISO 8601 UTC strings (`…T…:…:….sssZ`); ESGF's from/to. */
  updated?: { from?: string; to?: string };
  kind?: DatasetKind[];
  status?: DatasetStatus[];
  availability?: Availability[];
  /** Datasets whose provenance.derivedFrom contains any of these ids. */
  derivedFrom?: string[];
  sort?: { field: DatasetSortField; direction: 'asc' | 'desc' };
  /** 0 returns only total and facet counts. */
  limit: number;
  /** Opaque keyset cursor from a previous `next`. Mutually exclusive with offset. */
  cursor?: string;
  offset?: number;
  /** Facet names to count over all matching datasets. */
  facetCounts?: FacetName[];
  /** Max values returned per facet (most frequent first). */
  facetLimit?: number;
  /** What a facet count counts: matching datasets (default) or their files (ESGF File searches). */
  facetCountUnit?: 'datasets' | 'files';
  /**
   * false: the store may skip counting the matches (a walk over cursor pages never reads
   * the total, and on MongoDB each count is one more index pass per page). The result's
   * `total` is then only a lower bound: offset + this page's items, plus 1 when more follow. Items,
   * facet counts and `next` are unchanged. Default true.
   */
  countTotal?: boolean;
}

export interface FacetCount {
  value: string;
  count: number;
}

export interface DatasetSearchResult {
  total: number;
  items: DatasetRecord[];
  facets: Partial<Record<FacetName, FacetCount[]>>;
  next: string | null;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface Paged<T> {
  total: number;
  items: T[];
}
