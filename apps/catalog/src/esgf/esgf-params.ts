/**
 * Parses the ESGF search dialect (esg-search/search parameters as
 * esgf-pyclient sends them) into the shared DatasetQuery. Rules both dialects
 * have (facet filters, time range, bbox, integers, booleans) come from the
 * REST parser so they exist once; what is ESGF's own stays here.
 */
import {
  FACET_NAMES,
  InvalidError,
  tokenize,
  type AccessFilter,
  type DatasetQuery,
  type FieldProblem,
} from '@climcat/core';
import { MAX_PAGE_OFFSET } from '@climcat/platform';
import {
  listOf,
  parseBBoxParam,
  parseBoolean,
  parseFacetFilters,
  parseFacetNames,
  parseInteger,
  parseTimeRange,
  singleParam,
  type Bad,
  type RawQuery,
} from '../datasets/search-params';

export const ESGF_MAX_LIMIT = 10_000;
export const ESGF_DEFAULT_LIMIT = 10;

/** Parameters that are not facets: handled below, or changing nothing here (single index, no replicas). */
const NOT_FACETS = new Set([
  'distrib',
  'shards',
  'replica',
  'format',
  'type',
  'facets',
  'fields',
  'limit',
  'offset',
  'query',
  'start',
  'end',
  'bbox',
  'latest',
  'retracted',
  'dataset_id',
  'id',
  'instance_id',
  'master_id',
  'data_node',
  'index_node',
  'sort',
]);

export type EsgfType = 'Dataset' | 'File';

export interface EsgfSearch {
  type: EsgfType;
  /**
   * The datasets to search, with limit, offset and facetCounts as asked. For
   * type=File these are the parent datasets and limit/offset page their files.
   */
  query: DatasetQuery;
  /** Fields kept in each doc (`id` always), or null for all. */
  fields: ReadonlySet<string> | null;
}

/** Instance ids may carry `|data_node` (ESGF's `id`); the catalog id is the part before it. */
const withoutNode = (id: string): string => id.split('|')[0]!;

export function parseEsgfParams(raw: RawQuery, access: AccessFilter): EsgfSearch {
  const problems: FieldProblem[] = [];
  const bad: Bad = (field, message) => problems.push({ field: `query.${field}`, message });

  const typeParam = singleParam(raw, 'type', bad) ?? 'Dataset';
  if (typeParam !== 'Dataset' && typeParam !== 'File') bad('type', 'must be Dataset or File');
  const type: EsgfType = typeParam === 'File' ? 'File' : 'Dataset';
  const format = singleParam(raw, 'format', bad) ?? 'application/solr+json';
  if (format !== 'application/solr+json' && format !== 'json') {
    bad('format', 'only application/solr+json is served; XML is not supported');
  }

  const query: DatasetQuery = { access, limit: ESGF_DEFAULT_LIMIT };
  const facets = parseFacetFilters(raw, NOT_FACETS, bad);
  // ESGF spells versions v20111128; the catalog stores 20111128.
  if (facets.version) facets.version = facets.version.map((v) => v.replace(/^v/, ''));
  if (Object.keys(facets).length) query.facets = facets;

  const text = singleParam(raw, 'query', bad);
  if (text && text !== '*' && text !== '*:*') {
    // Solr boolean operators are not search terms; terms are ANDed anyway.
    const tokens = tokenize(text).filter((t) => !['and', 'or', 'not'].includes(t));
    if (tokens.length) query.text = tokens;
  }
  const time = parseTimeRange(raw, bad, { ordered: false });
  if (time) query.time = time;
  const bbox = parseBBoxParam(raw, bad);
  if (bbox) query.bbox = bbox;

  const latest = parseBoolean(singleParam(raw, 'latest', bad), 'latest', bad);
  const retracted = parseBoolean(singleParam(raw, 'retracted', bad), 'retracted', bad);
  if (latest === true) query.status = ['latest'];
  else if (latest === false) query.status = ['superseded', 'retracted'];
  if (retracted === true) query.status = (query.status ?? ['retracted']).filter((s) => s === 'retracted');
  else if (retracted === false)
    query.status = (query.status ?? ['latest', 'superseded']).filter((s) => s !== 'retracted');

  if (type === 'Dataset') {
    const ids = [...listOf(raw.id), ...listOf(raw.instance_id)].map(withoutNode);
    if (ids.length) query.ids = ids;
  } else {
    // For files, dataset_id (and instance ids of datasets) select the parent datasets.
    const parents = [...listOf(raw.dataset_id), ...listOf(raw.instance_id)].map(withoutNode);
    if (parents.length) query.ids = parents;
  }
  // master_id: the dataset id without version, so every version (narrow with latest=true).
  if (raw.master_id !== undefined) {
    if (type === 'Dataset') query.datasetIds = listOf(raw.master_id).map(withoutNode);
    else bad('master_id', 'selects datasets: use it with type=Dataset, or dataset_id for their files');
  }

  query.limit = parseInteger(singleParam(raw, 'limit', bad), 'limit', 0, ESGF_MAX_LIMIT, bad) ?? query.limit;
  query.offset = parseInteger(singleParam(raw, 'offset', bad), 'offset', 0, MAX_PAGE_OFFSET, bad) ?? 0;
  const facetParam = singleParam(raw, 'facets', bad);
  if (facetParam) {
    const names = facetParam === '*' ? [...FACET_NAMES] : parseFacetNames(listOf(facetParam), bad);
    if (names) query.facetCounts = names;
  }
  const fieldsParam = singleParam(raw, 'fields', bad);
  const fields = fieldsParam && fieldsParam !== '*' ? new Set(['id', ...listOf(fieldsParam)]) : null;
  if (problems.length) throw InvalidError.of(problems);
  return { type, query, fields };
}
