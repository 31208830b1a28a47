/**
 * Parses the query string of `GET /api/v1/datasets` (and the facet/export
 * endpoints) into the shared DatasetQuery. Facet names are dynamic, so this
 * is hand-validated: every unknown parameter is a 400 naming it.
 *
 * The rules every query dialect shares (the ESGF parser in esgf/esgf-params.ts
 * calls them too) are exported below: one parameter given once, facet filters,
 * facet names, time range, bbox and integers.
 */
import {
  AVAILABILITIES,
  DATASET_KINDS,
  DATASET_SORT_FIELDS,
  DATASET_STATUSES,
  FACET_NAMES,
  InvalidError,
  isFacetName,
  tokenize,
  type AccessFilter,
  type BBox,
  type DatasetQuery,
  type DatasetSortField,
  type FacetName,
  type FieldProblem,
  normalizeBBox,
} from '@climcat/core';
import { MAX_PAGE_OFFSET } from '@climcat/platform';

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 50;

export type RawQuery = Record<string, unknown>;

const KNOWN = new Set([
  'q',
  'start',
  'end',
  'bbox',
  'kind',
  'status',
  'availability',
  'facets',
  'limit',
  'cursor',
  'offset',
  'sort',
]);

/** Records one problem with query parameter `field`; parsers collect them for `InvalidError.of`. */
export type Bad = (field: string, message: string) => void;

export function parseSearchParams(raw: RawQuery, access: AccessFilter): DatasetQuery {
  const problems: FieldProblem[] = [];
  const bad: Bad = (field, message) => problems.push({ field: `query.${field}`, message });

  const facets = parseFacetFilters(raw, KNOWN, bad);
  const query: DatasetQuery = { access, limit: DEFAULT_LIMIT };
  if (Object.keys(facets).length) query.facets = facets;

  const q = singleParam(raw, 'q', bad);
  if (q !== undefined) {
    const tokens = tokenize(q);
    if (tokens.length > 16) bad('q', 'at most 16 search terms');
    else if (tokens.length) query.text = tokens;
  }

  const time = parseTimeRange(raw, bad, { ordered: true });
  if (time) query.time = time;
  const bbox = parseBBoxParam(raw, bad);
  if (bbox) query.bbox = bbox;

  const kinds = enumList(raw, 'kind', DATASET_KINDS, bad);
  if (kinds) query.kind = kinds;
  const statuses = enumList(raw, 'status', DATASET_STATUSES, bad);
  if (statuses) query.status = statuses;
  const availability = enumList(raw, 'availability', AVAILABILITIES, bad);
  if (availability) query.availability = availability;

  if (raw.facets !== undefined) {
    const facetCounts = parseFacetNames(listOf(raw.facets), bad);
    if (facetCounts) query.facetCounts = facetCounts;
  }

  const limit = integer(raw, 'limit', 0, MAX_LIMIT, bad);
  if (limit !== undefined) query.limit = limit;
  const offset = integer(raw, 'offset', 0, MAX_PAGE_OFFSET, bad);
  const cursor = singleParam(raw, 'cursor', bad);
  if (offset !== undefined && cursor !== undefined) bad('offset', 'use either cursor or offset, not both');
  if (offset !== undefined) query.offset = offset;
  if (cursor !== undefined) query.cursor = cursor;

  const sort = singleParam(raw, 'sort', bad);
  if (sort !== undefined) {
    const field = sort.replace(/^[-+]/, '');
    if (!(DATASET_SORT_FIELDS as readonly string[]).includes(field)) {
      bad(
        'sort',
        `must be one of ${DATASET_SORT_FIELDS.join(', ')}, optionally prefixed with - for descending`,
      );
    } else {
      query.sort = { field: field as DatasetSortField, direction: sort.startsWith('-') ? 'desc' : 'asc' };
    }
  }

  if (problems.length) {
    throw InvalidError.of(problems);
  }
  return query;
}

/** Repeated parameters and comma-separated values both give lists (`model=A&model=B`, `model=A,B`). */
export function listOf(value: unknown): string[] {
  const parts = Array.isArray(value) ? value : [value];
  return parts
    .filter((v): v is string => typeof v === 'string')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A parameter given at most once, trimmed; a repeated one is reported to `bad`. */
export function singleParam(raw: RawQuery, name: string, bad: Bad): string | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    bad(name, 'must be given once');
    return undefined;
  }
  return value.trim();
}

/**
 * Every parameter named after a facet filters by it (empty values ignored);
 * any other parameter not in `known` is reported to `bad`.
 */
export function parseFacetFilters(
  raw: RawQuery,
  known: ReadonlySet<string>,
  bad: Bad,
): Partial<Record<FacetName, string[]>> {
  const facets: Partial<Record<FacetName, string[]>> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (known.has(key)) continue;
    if (isFacetName(key)) {
      const values = listOf(value);
      if (values.length) facets[key] = values;
      continue;
    }
    bad(key, `unknown parameter; facets are ${FACET_NAMES.join(', ')}`);
  }
  return facets;
}

/** The facets to count (`facets=model,experiment`), or undefined after reporting unknown names. */
export function parseFacetNames(names: string[], bad: Bad): FacetName[] | undefined {
  const unknown = names.filter((f) => !isFacetName(f));
  if (unknown.length) {
    bad('facets', `unknown facet ${unknown.join(', ')}; facets are ${FACET_NAMES.join(', ')}`);
    return undefined;
  }
  return names as FacetName[];
}

/**
 * `start`/`end` of a time-overlap filter, each a possibly partial date
 * completed by `normaliseDate`. `ordered` also rejects end before start; the
 * ESGF dialect passes false because esg-search answers an inverted range
 * (with the overlap of both bounds) rather than refusing it.
 */
export function parseTimeRange(
  raw: RawQuery,
  bad: Bad,
  { ordered }: { ordered: boolean },
): { start?: string; end?: string } | undefined {
  const start = singleParam(raw, 'start', bad);
  const end = singleParam(raw, 'end', bad);
  if (start === undefined && end === undefined) return undefined;
  const time: { start?: string; end?: string } = {};
  for (const [edge, value] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (value === undefined) continue;
    const date = normaliseDate(value, edge);
    if (date) time[edge] = date;
    else bad(edge, 'must be a date YYYY[-MM[-DD[THH[:MM[:SS]]]]]');
  }
  if (ordered && time.start && time.end && time.start > time.end) bad('end', 'must not be before start');
  return time;
}

/** The `bbox` parameter (see `parseBBox`), or undefined when absent or reported to `bad`. */
export function parseBBoxParam(raw: RawQuery, bad: Bad): BBox | undefined {
  const value = singleParam(raw, 'bbox', bad);
  if (value === undefined) return undefined;
  const parsed = parseBBox(value);
  if (typeof parsed !== 'string') return parsed;
  bad('bbox', parsed);
  return undefined;
}

function integer(raw: RawQuery, name: string, min: number, max: number, bad: Bad): number | undefined {
  return parseInteger(singleParam(raw, name, bad), name, min, max, bad);
}

/** A whole number within [min, max], else reported to `bad`. Shared by every query dialect (REST, ESGF). */
export function parseInteger(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  bad: Bad,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    bad(name, `must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return Number(value);
}

function enumList<T extends string>(
  raw: RawQuery,
  name: string,
  allowed: readonly T[],
  bad: Bad,
): T[] | undefined {
  if (raw[name] === undefined) return undefined;
  const values = listOf(raw[name]);
  const unknown = values.filter((v) => !(allowed as readonly string[]).includes(v));
  if (unknown.length) {
    bad(name, `unknown value ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
    return undefined;
  }
  return values as T[];
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?)?)?Z?$/;

/**
 * Completes a partial calendar date. Starts fill with the earliest values,
 * ends with values that sort after every real date of that period (day 31
 * also bounds 360_day months), so string comparison stays calendar-agnostic.
 */
export function normaliseDate(value: string, edge: 'start' | 'end'): string | null {
  const m = DATE.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const lo = edge === 'start';
  const month = mo ?? (lo ? '01' : '12');
  const day = d ?? (lo ? '01' : '31');
  const parts = [Number(month), Number(day), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)];
  if (
    parts[0]! < 1 ||
    parts[0]! > 12 ||
    parts[1]! < 1 ||
    parts[1]! > 31 ||
    parts[2]! > 23 ||
    parts[3]! > 59 ||
    parts[4]! > 60
  ) {
    return null;
  }
  return `${y}-${month}-${day}T${h ?? (lo ? '00' : '23')}:${mi ?? (lo ? '00' : '59')}:${s ?? (lo ? '00' : '59')}`;
}

/** `w,s,e,n`; west may exceed east (antimeridian). Returns an error message or the box. */
export function parseBBox(value: string): BBox | string {
  const parts = value
    .replace(/^\[|\]$/g, '')
    .split(',')
    .map((p) => p.trim());
  if (parts.length !== 4 || parts.some((p) => !/^-?\d+(\.\d+)?$/.test(p))) {
    return 'must be four numbers west,south,east,north';
  }
  const [w, s, e, n] = parts.map(Number) as [number, number, number, number];
  return normalizeBBox(w, s, e, n);
}
