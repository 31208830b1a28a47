/**
 * Parses the query string of `GET /api/v1/datasets` (and the facet/ESGF
 * endpoints) into the shared DatasetQuery. Facet names are dynamic, so this
 * is hand-validated: every unknown parameter is a 400 naming it.
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

export function parseSearchParams(raw: RawQuery, access: AccessFilter): DatasetQuery {
  const problems: FieldProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field: `query.${field}`, message });
  const facets: Partial<Record<FacetName, string[]>> = {};

  for (const [key, value] of Object.entries(raw)) {
    if (KNOWN.has(key)) continue;
    if (isFacetName(key)) {
      const values = listOf(value);
      if (values.length) facets[key] = values;
      continue;
    }
    bad(key, `unknown parameter; facets are ${FACET_NAMES.join(', ')}`);
  }

  const query: DatasetQuery = { access, limit: DEFAULT_LIMIT };
  if (Object.keys(facets).length) query.facets = facets;

  const q = single(raw, 'q', bad);
  if (q !== undefined) {
    const tokens = tokenize(q);
    if (tokens.length > 16) bad('q', 'at most 16 search terms');
    else if (tokens.length) query.text = tokens;
  }

  const start = single(raw, 'start', bad);
  const end = single(raw, 'end', bad);
  if (start !== undefined || end !== undefined) {
    const time: { start?: string; end?: string } = {};
    if (start !== undefined) {
      const s = normaliseDate(start, 'start');
      if (s) time.start = s;
      else bad('start', 'must be a date YYYY[-MM[-DD[THH[:MM[:SS]]]]]');
    }
    if (end !== undefined) {
      const e = normaliseDate(end, 'end');
      if (e) time.end = e;
      else bad('end', 'must be a date YYYY[-MM[-DD[THH[:MM[:SS]]]]]');
    }
    if (time.start && time.end && time.start > time.end) bad('end', 'must not be before start');
    query.time = time;
  }

  const bbox = single(raw, 'bbox', bad);
  if (bbox !== undefined) {
    const parsed = parseBBox(bbox);
    if (typeof parsed === 'string') bad('bbox', parsed);
    else query.bbox = parsed;
  }

  const kinds = enumList(raw, 'kind', DATASET_KINDS, bad);
  if (kinds) query.kind = kinds;
  const statuses = enumList(raw, 'status', DATASET_STATUSES, bad);
  if (statuses) query.status = statuses;
  const availability = enumList(raw, 'availability', AVAILABILITIES, bad);
  if (availability) query.availability = availability;

  const facetCounts = raw.facets === undefined ? undefined : listOf(raw.facets);
  if (facetCounts) {
    const unknown = facetCounts.filter((f) => !isFacetName(f));
    if (unknown.length)
      bad('facets', `unknown facet ${unknown.join(', ')}; facets are ${FACET_NAMES.join(', ')}`);
    else query.facetCounts = facetCounts as FacetName[];
  }

  const limit = integer(raw, 'limit', 0, MAX_LIMIT, bad);
  if (limit !== undefined) query.limit = limit;
  const offset = integer(raw, 'offset', 0, 10_000_000, bad);
  const cursor = single(raw, 'cursor', bad);
  if (offset !== undefined && cursor !== undefined) bad('offset', 'use either cursor or offset, not both');
  if (offset !== undefined) query.offset = offset;
  if (cursor !== undefined) query.cursor = cursor;

  const sort = single(raw, 'sort', bad);
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

function single(raw: RawQuery, name: string, bad: (f: string, m: string) => void): string | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    bad(name, 'must be given once');
    return undefined;
  }
  return value.trim();
}

function integer(
  raw: RawQuery,
  name: string,
  min: number,
  max: number,
  bad: (f: string, m: string) => void,
): number | undefined {
  return parseInteger(single(raw, name, bad), name, min, max, bad);
}

/** A whole number within [min, max], else reported to `bad`. Shared by every query dialect (REST, ESGF). */
export function parseInteger(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  bad: (f: string, m: string) => void,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    bad(name, `must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return Number(value);
}

/** `true` or `false`, else reported to `bad`. */
export function parseBoolean(
  value: string | undefined,
  name: string,
  bad: (f: string, m: string) => void,
): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  bad(name, 'must be true or false');
  return undefined;
}

function enumList<T extends string>(
  raw: RawQuery,
  name: string,
  allowed: readonly T[],
  bad: (f: string, m: string) => void,
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
