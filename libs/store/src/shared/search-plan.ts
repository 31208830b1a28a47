/**
 * Validation and normalisation of a `DatasetQuery`, shared by both adapters
 * so that paging, cursors, empty lists and text tokens mean the same thing
 * on SQLite and MongoDB.
 */
import {
  decodeCursor,
  encodeCursor,
  InvalidError,
  isFacetName,
  type AccessFilter,
  type Availability,
  type CursorPosition,
  type DatasetKind,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetSortField,
  type DatasetStatus,
  type FacetName,
} from '@climcat/core';
import { bboxQuery, type LonInterval } from './search-index';

const DEFAULT_FACET_LIMIT = 100;

export type FacetCountUnit = SearchPlan['facetCountUnit'];

export interface SearchPlan {
  access: AccessFilter;
  /** One entry per facet name; an empty value list matches nothing. */
  facets: { name: FacetName; values: string[] }[];
  /** Lower-cased prefixes; each must prefix-match a stored token. */
  text: string[];
  ids?: string[];
  datasetIds?: string[];
  time?: { start?: string; end?: string };
  bbox?: { south: number; north: number; lon: LonInterval[] };
  updated?: { from?: string; to?: string };
  kind?: DatasetKind[];
  status?: DatasetStatus[];
  availability?: Availability[];
  derivedFrom?: string[];
  sort: { field: DatasetSortField; direction: 'asc' | 'desc' };
  /** Keyset position: items strictly after it in sort order. */
  after?: CursorPosition;
  offset: number;
  limit: number;
  facetCounts: FacetName[];
  facetLimit: number;
  facetCountUnit: 'datasets' | 'files';
}

function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw InvalidError.field(field, 'must be a non-negative integer');
  return value;
}

export function planSearch(query: DatasetQuery): SearchPlan {
  const sort = query.sort ?? { field: 'datasetId', direction: 'asc' };
  const limit = nonNegativeInteger(query.limit, 'limit');
  const offset = nonNegativeInteger(query.offset ?? 0, 'offset');
  let after: CursorPosition | undefined;
  if (query.cursor !== undefined) {
    if (offset > 0) throw InvalidError.field('query.cursor', 'cannot be combined with offset');
    after = decodeCursor(query.cursor);
    const expected = sort.field === 'size' ? 'number' : 'string';
    if (typeof after.value !== expected)
      throw InvalidError.field('query.cursor', `was issued for a different sort than ${sort.field}`);
  }
  const facets: SearchPlan['facets'] = [];
  for (const [name, values] of Object.entries(query.facets ?? {})) {
    if (!isFacetName(name)) throw InvalidError.field(`facets.${name}`, 'unknown facet');
    if (values !== undefined) facets.push({ name, values: [...new Set(values)] });
  }
  const facetCounts = [...new Set(query.facetCounts ?? [])];
  for (const name of facetCounts) {
    if (!isFacetName(name)) throw InvalidError.field('facetCounts', `unknown facet ${String(name)}`);
  }
  const facetLimit = query.facetLimit ?? DEFAULT_FACET_LIMIT;
  if (!Number.isSafeInteger(facetLimit) || facetLimit < 1)
    throw InvalidError.field('facetLimit', 'must be a positive integer');
  let bbox: SearchPlan['bbox'];
  if (query.bbox) {
    const [west, south, east, north] = query.bbox;
    if (![west, south, east, north].every(Number.isFinite) || south > north)
      throw InvalidError.field(
        'bbox',
        'must be four finite numbers west,south,east,north with south <= north',
      );
    bbox = bboxQuery(query.bbox);
  }
  const text = withoutImpliedParts([
    ...new Set((query.text ?? []).map((token) => token.trim().toLowerCase()).filter((t) => t.length > 0)),
  ]);
  return {
    access: { everything: query.access.everything, groups: [...new Set(query.access.groups)] },
    facets,
    text,
    ids: query.ids && [...new Set(query.ids)],
    datasetIds: query.datasetIds && [...new Set(query.datasetIds)],
    time: query.time,
    bbox,
    updated: query.updated,
    kind: query.kind,
    status: query.status,
    availability: query.availability,
    derivedFrom: query.derivedFrom,
    sort,
    after,
    offset,
    limit,
    facetCounts,
    facetLimit,
    facetCountUnit: query.facetCountUnit ?? 'datasets',
  };
}

/** `next` for a page: a cursor after its last item, or null when nothing follows. */
export function nextCursor(plan: SearchPlan, page: DatasetRecord[], more: boolean): string | null {
  const last = page[page.length - 1];
  if (!more || !last) return null;
  return encodeCursor({ value: last[plan.sort.field], id: last.id });
}

/**
 * The terms without those a hyphenated term implies. Indexing keeps the parts of a hyphenated
 * word as tokens too (`tokenize`), so a dataset with a token that starts with `cccma-esm` also
 * has one that is `cccma` and one that starts with `esm`; tokenising the query `CCCma-ESM` gives
 * all three, and every dataset the first matches, the parts match. Each term left is a filter to
 * run (at a million datasets `esm` alone lists a third of them).
 */
function withoutImpliedParts(terms: string[]): string[] {
  const implied = new Set<string>();
  for (const term of terms)
    if (/[-_]/.test(term))
      for (const part of term.split(/[-_]+/)) if (part && part !== term) implied.add(part);
  return terms.filter((t) => !implied.has(t));
}
