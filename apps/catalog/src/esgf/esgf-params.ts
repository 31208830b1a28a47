/**
 * Parses the ESGF search dialect (esg-search/search parameters as
 * esgf-pyclient sends them) into the shared DatasetQuery. Rules both dialects
 * have (facet filters, time range, bbox, integers) come from the REST parser
 * so they exist once; what is ESGF's own stays here: its boolean spelling
 * (`True`, `1`), from/to on modification time, types, formats, and an error
 * detail that esgf-pyclient can read.
 */
import {
  FACET_NAMES,
  tokenize,
  type AccessFilter,
  type DatasetQuery,
  type FieldProblem,
} from '@climcat/core';
import { esgfInvalid, MAX_PAGE_OFFSET } from '@climcat/platform';
import {
  listOf,
  normaliseDate,
  parseBBoxParam,
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
  'from',
  'to',
]);

export const ESGF_TYPES = ['Dataset', 'File', 'Aggregation'] as const;
export type EsgfType = (typeof ESGF_TYPES)[number];

/** Solr JSON, or Solr XML (esg-search's answer when no format is given). */
export type EsgfFormat = 'json' | 'xml';
const FORMATS = new Map<string, EsgfFormat>([
  ['application/solr+xml', 'xml'],
  ['application/solr+json', 'json'],
  ['json', 'json'],
]);
export const ESGF_FORMAT_NAMES = [...FORMATS.keys()];

/** Bounds on a record's modification time (`_timestamp`), full ISO 8601 UTC strings. */
export interface UpdatedRange {
  from?: string;
  to?: string;
}

export interface EsgfSearch {
  type: EsgfType;
  format: EsgfFormat;
  /**
   * The datasets to search, with limit, offset and facetCounts as asked. For
   * type=File these are the parent datasets and limit/offset page their files;
   * for type=Aggregation each dataset is one aggregation.
   */
  query: DatasetQuery;
  /** Fields kept in each doc (`id` always), or null for all. */
  fields: ReadonlySet<string> | null;
  /** `facets=*`: count every facet, answer only those the matching records have values for. */
  everyFacet: boolean;
  /** from/to of a File search: on each file's own modification time (datasets have theirs in `query`). */
  fileUpdated: UpdatedRange | null;
  /** distrib (default true, as in ESGF): still this index only; the answer names it as the one shard. */
  distrib: boolean;
}

/** Instance ids may carry `|data_node` (ESGF's `id`); the catalog id is the part before it. */
const withoutNode = (id: string): string => id.split('|')[0]!;
/** An aggregation's id is its dataset's id with `.aggregation` (see solr-mapping). */
const withoutAggregation = (id: string): string => withoutNode(id).replace(/\.aggregation$/, '');

/**
 * The ESGF dialect's booleans: esg-search lower-cases them, so Python's
 * `True`/`False` (what esgf-pyclient sends) work, and 1/0 with them.
 */
export function parseEsgfBoolean(raw: RawQuery, name: string, bad: Bad): boolean | undefined {
  const value = singleParam(raw, name, bad);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  bad(name, 'must be true or false (any case), or 1 or 0');
  return undefined;
}

const FRACTION = /\.(\d{1,9})Z?$/;

/**
 * A from/to timestamp (`2012-10-09T00:00:00Z`, optional fraction, or a
 * partial date completed as for start/end) as the full UTC string records
 * store in updatedAt, so that string order is time order.
 */
export function parseTimestamp(value: string, edge: 'from' | 'to'): string | null {
  const fraction = FRACTION.exec(value);
  const base = fraction ? value.slice(0, fraction.index) : value;
  // A fraction only after whole seconds.
  if (fraction && !/T\d{2}:\d{2}:\d{2}$/.test(base)) return null;
  const date = normaliseDate(base, edge === 'from' ? 'start' : 'end');
  if (!date) return null;
  const millis = fraction ? fraction[1]!.padEnd(3, '0').slice(0, 3) : edge === 'from' ? '000' : '999';
  return `${date}.${millis}Z`;
}

function parseUpdated(raw: RawQuery, bad: Bad): UpdatedRange | null {
  const range: UpdatedRange = {};
  for (const edge of ['from', 'to'] as const) {
    const value = singleParam(raw, edge, bad);
    if (value === undefined) continue;
    const parsed = parseTimestamp(value, edge);
    if (parsed) range[edge] = parsed;
    else bad(edge, 'must be a UTC timestamp YYYY-MM-DDTHH:MM:SS[.sss]Z (or a date YYYY[-MM[-DD]])');
  }
  return range.from || range.to ? range : null;
}

export function parseEsgfParams(raw: RawQuery, access: AccessFilter): EsgfSearch {
  const problems: FieldProblem[] = [];
  const bad: Bad = (field, message) => problems.push({ field: `query.${field}`, message });

  const typeParam = singleParam(raw, 'type', bad) ?? 'Dataset';
  const type = ESGF_TYPES.find((t) => t === typeParam);
  if (!type) bad('type', `must be ${ESGF_TYPES.join(', ')}`);
  const formatParam = singleParam(raw, 'format', bad);
  const format = formatParam === undefined ? 'xml' : FORMATS.get(formatParam);
  if (!format) bad('format', 'must be application/solr+xml (the default) or application/solr+json');

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
  const updated = parseUpdated(raw, bad);
  if (updated && type !== 'File') query.updated = updated;

  const latest = parseEsgfBoolean(raw, 'latest', bad);
  const retracted = parseEsgfBoolean(raw, 'retracted', bad);
  if (latest === true) query.status = ['latest'];
  else if (latest === false) query.status = ['superseded', 'retracted'];
  if (retracted === true) query.status = (query.status ?? ['retracted']).filter((s) => s === 'retracted');
  else if (retracted === false)
    query.status = (query.status ?? ['latest', 'superseded']).filter((s) => s !== 'retracted');
  // Every record here is a master copy: replica=true matches nothing, replica=false changes nothing.
  const replica = parseEsgfBoolean(raw, 'replica', bad);
  const distrib = parseEsgfBoolean(raw, 'distrib', bad) ?? true;

  if (type === 'File' || type === 'Aggregation') {
    // For files and aggregations, dataset_id (and instance ids) select the parent datasets.
    const parents = [...listOf(raw.dataset_id), ...listOf(raw.instance_id)].map(withoutAggregation);
    if (type === 'Aggregation') parents.push(...listOf(raw.id).map(withoutAggregation));
    if (parents.length) query.ids = parents;
  } else {
    const ids = [...listOf(raw.id), ...listOf(raw.instance_id)].map(withoutNode);
    if (ids.length) query.ids = ids;
  }
  if (replica === true) query.ids = [];
  // master_id: the dataset id without version, so every version (narrow with latest=true).
  if (raw.master_id !== undefined) {
    if (type !== 'File') query.datasetIds = listOf(raw.master_id).map(withoutAggregation);
    else bad('master_id', 'selects datasets: use it with type=Dataset, or dataset_id for their files');
  }

  query.limit = parseInteger(singleParam(raw, 'limit', bad), 'limit', 0, ESGF_MAX_LIMIT, bad) ?? query.limit;
  query.offset = parseInteger(singleParam(raw, 'offset', bad), 'offset', 0, MAX_PAGE_OFFSET, bad) ?? 0;
  const facetParam = singleParam(raw, 'facets', bad);
  const everyFacet = facetParam === '*';
  if (facetParam) {
    const names = everyFacet ? [...FACET_NAMES] : parseFacetNames(listOf(facetParam), bad);
    if (names) query.facetCounts = names;
  }
  // Unknown field names are ignored, as esg-search does.
  const fieldsParam = singleParam(raw, 'fields', bad);
  const fields = fieldsParam && fieldsParam !== '*' ? new Set(['id', ...listOf(fieldsParam)]) : null;
  if (problems.length || !type || !format) throw esgfInvalid(problems);
  return {
    type,
    format,
    query,
    fields,
    everyFacet,
    fileUpdated: type === 'File' ? updated : null,
    distrib,
  };
}
