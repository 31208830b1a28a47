/** Translates a search plan into one SQL condition over `datasets d`. */
import type { DatasetSortField } from '@climcat/core';
import type { SearchPlan } from '../shared/search-plan';

export interface SqlCondition {
  sql: string;
  params: unknown[];
}

export const SORT_COLUMNS: Record<DatasetSortField, string> = {
  datasetId: 'd.dataset_id',
  createdAt: 'd.created_at',
  updatedAt: 'd.updated_at',
  size: 'd.size',
};

/** True when the condition is no condition at all (every dataset matches). */
export function matchesEverything(condition: SqlCondition): boolean {
  return condition.sql === '1';
}

/** Smallest string greater than every string that starts with `prefix`, or null if there is none. */
export function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    // Skip the surrogate range: the next code point after 0xD7FF is 0xE000.
    const next = last === 0xd7ff ? 0xe000 : last + 1;
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return null;
}

export function json(values: readonly string[]): string {
  return JSON.stringify(values);
}

/** Token rows of `t` that prefix-match `token` (a range on the primary key, or on `(ds, token)` with `t.ds`). */
function tokenRange(token: string, params: unknown[]): string {
  const upper = prefixUpperBound(token);
  params.push(token);
  if (upper === null) return 't.token >= ?';
  params.push(upper);
  return 't.token >= ? AND t.token < ?';
}

/**
 * Which filter drives the query: the first facet filter or the first text term (the caller
 * orders both most selective first, and passes `text` when that term is rarer than the facet),
 * or the datasets `pks` (ascending) that the caller found by intersecting the facet filters it
 * took out of the plan.
 */
export type DrivingFilter = 'facet' | 'text' | { pks: readonly number[] };

/**
 * Lists are bound as one JSON parameter (`IN (SELECT value FROM json_each(?))`),
 * so the SQL text depends only on the shape of the query and prepared
 * statements are reused across searches.
 */
export function datasetCondition(
  plan: SearchPlan,
  drive: DrivingFilter = plan.facets.length > 0 ? 'facet' : 'text',
): SqlCondition {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (!plan.access.everything) {
    if (plan.access.groups.length === 0) {
      conditions.push('d.public = 1');
    } else {
      conditions.push(
        '(d.public = 1 OR d.owner_group IN (SELECT value FROM json_each(?))' +
          ' OR d.pk IN (SELECT g.ds FROM dataset_groups g WHERE g.grp IN (SELECT value FROM json_each(?))))',
      );
      params.push(json(plan.access.groups), json(plan.access.groups));
    }
  }
  // One filter drives the query as an IN set; the others are per-row index probes. SQLite would
  // otherwise materialise every IN set, and a broad one (project=CMIP5, or a text term such as
  // `esm`: most of the catalog) costs tens of ms per evaluation.
  if (typeof drive === 'object') {
    conditions.push('d.pk IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(drive.pks));
  }
  plan.facets.forEach((facet, i) => {
    conditions.push(
      drive === 'facet' && i === 0
        ? 'd.pk IN (SELECT f.ds FROM dataset_facets f WHERE f.name = ? AND f.value IN (SELECT value FROM json_each(?)))'
        : 'EXISTS (SELECT 1 FROM dataset_facets f WHERE f.name = ? AND f.value IN (SELECT value FROM json_each(?)) AND f.ds = d.pk)',
    );
    params.push(facet.name, json(facet.values));
  });
  plan.text.forEach((token, i) => {
    // A probe is a range on the `(ds, token)` index of dataset_tokens.
    conditions.push(
      drive === 'text' && i === 0
        ? `d.pk IN (SELECT t.ds FROM dataset_tokens t WHERE ${tokenRange(token, params)})`
        : `EXISTS (SELECT 1 FROM dataset_tokens t WHERE t.ds = d.pk AND ${tokenRange(token, params)})`,
    );
  });
  const lists: [string, readonly string[] | undefined][] = [
    ['d.id', plan.ids],
    ['d.dataset_id', plan.datasetIds],
    ['d.kind', plan.kind],
    ['d.status', plan.status],
    ['d.availability', plan.availability],
  ];
  for (const [column, values] of lists) {
    if (values === undefined) continue;
    conditions.push(`${column} IN (SELECT value FROM json_each(?))`);
    params.push(json(values));
  }
  if (plan.derivedFrom !== undefined) {
    conditions.push(
      'd.pk IN (SELECT r.ds FROM dataset_derived r WHERE r.parent IN (SELECT value FROM json_each(?)))',
    );
    params.push(json(plan.derivedFrom));
  }
  if (plan.time) {
    conditions.push('d.time_start IS NOT NULL');
    if (plan.time.end !== undefined) {
      conditions.push('d.time_start <= ?');
      params.push(plan.time.end);
    }
    if (plan.time.start !== undefined) {
      conditions.push('d.time_end >= ?');
      params.push(plan.time.start);
    }
  }
  if (plan.updated?.from !== undefined) {
    conditions.push('d.updated_at >= ?');
    params.push(plan.updated.from);
  }
  if (plan.updated?.to !== undefined) {
    conditions.push('d.updated_at <= ?');
    params.push(plan.updated.to);
  }
  if (plan.bbox) {
    conditions.push('d.south <= ? AND d.north >= ?');
    params.push(plan.bbox.north, plan.bbox.south);
    const lon: string[] = [];
    for (const q of plan.bbox.lon) {
      lon.push('(d.lon1_min <= ? AND d.lon1_max >= ?)', '(d.lon2_min <= ? AND d.lon2_max >= ?)');
      params.push(q.max, q.min, q.max, q.min);
    }
    conditions.push(`(${lon.join(' OR ')})`);
  }
  return { sql: conditions.length > 0 ? conditions.join(' AND ') : '1', params };
}
