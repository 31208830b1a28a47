/**
 * Index coverage: does a declared index serve a recorded query? Applies
 * MongoDB's documented rules (https://www.mongodb.com/docs/manual/tutorial/equality-sort-range-rule/,
 * .../core/index-compound/#prefixes, .../core/index-multikey/, .../core/index-partial/):
 *
 * - An index bounds a filter when its first key has an indexable predicate
 *   (equality, `$in`, a range, `$type`, an anchored case-sensitive regex, a
 *   `$elemMatch` on the array holding the key); `$exists: true` only on a
 *   sparse or partial index. A top-level `$or` is bounded when every branch is
 *   (index union); an `$and` when any conjunct is.
 * - A partial index is usable only when the filter carries its filter expression.
 * - A sort is served (no blocking sort) by an index whose keys are: fields the
 *   filter fixes by equality (or `$in`, merged as SORT_MERGE), then the sort
 *   keys in order, all in the index's direction or all reversed. With no
 *   equality prefix the index is walked in order: that serves a query only
 *   with a limit.
 */
import type { mongo } from 'mongoose';
import type { LoggedCall } from './mongo-query-log';

type Predicate = 'eq' | 'range' | 'exists' | 'none';

interface Conjunct {
  field: string;
  kind: Predicate;
  raw: unknown;
}

interface Analysed {
  conjuncts: Conjunct[];
  /** Top-level `$or`s: each branch analysed on its own. */
  ors: Analysed[][];
}

export interface QueryShape {
  collection: string;
  method: string;
  filter: Record<string, unknown>;
  sort?: Record<string, 1 | -1>;
  limited: boolean;
}

export interface Verdict {
  query: QueryShape;
  index?: string;
  reason?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RegExp);

function operatorKind(op: string, value: unknown): Predicate {
  switch (op) {
    case '$eq':
      return 'eq';
    case '$in':
      // An empty list gives empty bounds: the scan ends at once.
      return Array.isArray(value) ? 'eq' : 'none';
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
    case '$type':
      return 'range';
    case '$exists':
      return value === true ? 'exists' : 'none';
    case '$regex':
      return typeof value === 'string' && value.startsWith('^') ? 'range' : 'none';
    default:
      return 'none';
  }
}

function strongest(kinds: Predicate[]): Predicate {
  for (const k of ['eq', 'range', 'exists'] as const) if (kinds.includes(k)) return k;
  return 'none';
}

function analyse(filter: Record<string, unknown>): Analysed {
  const out: Analysed = { conjuncts: [], ors: [] };
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value as Record<string, unknown>[]) {
        const inner = analyse(part);
        out.conjuncts.push(...inner.conjuncts);
        out.ors.push(...inner.ors);
      }
    } else if (key === '$or' && Array.isArray(value)) {
      out.ors.push((value as Record<string, unknown>[]).map(analyse));
    } else if (key.startsWith('$')) {
      continue; // $nor, $expr, $where: never index bounds
    } else if (value instanceof RegExp) {
      out.conjuncts.push({
        field: key,
        kind: value.source.startsWith('^') && !value.flags ? 'range' : 'none',
        raw: value,
      });
    } else if (isObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
      const elem = value.$elemMatch;
      if (isObject(elem) && !Object.keys(elem).some((k) => k.startsWith('$'))) {
        // $elemMatch on sub-documents bounds the multikey index's sub-fields of one element.
        for (const c of analyse(elem).conjuncts) out.conjuncts.push({ ...c, field: `${key}.${c.field}` });
      }
      const kinds = Object.entries(value).map(([op, v]) =>
        op === '$regex' && typeof value.$options === 'string' && value.$options !== ''
          ? 'none'
          : operatorKind(op, v),
      );
      out.conjuncts.push({ field: key, kind: strongest(kinds), raw: value });
    } else {
      out.conjuncts.push({ field: key, kind: 'eq', raw: value });
    }
  }
  return out;
}

function usable(index: mongo.IndexDescription, filter: Analysed): boolean {
  const partial = index.partialFilterExpression;
  if (!partial) return true;
  return Object.entries(partial).every(([field, cond]) =>
    filter.conjuncts.some((c) => c.field === field && JSON.stringify(c.raw) === JSON.stringify(cond)),
  );
}

function predicateOn(filter: Analysed, field: string): Predicate {
  return strongest(filter.conjuncts.filter((c) => c.field === field).map((c) => c.kind));
}

function bounds(index: mongo.IndexDescription, filter: Analysed): boolean {
  if (!usable(index, filter)) return false;
  const first = Object.keys(index.key)[0]!;
  const kind = predicateOn(filter, first);
  return (
    kind === 'eq' ||
    kind === 'range' ||
    (kind === 'exists' && (!!index.sparse || !!index.partialFilterExpression))
  );
}

/** The index bounding `filter`, or null; `$or` needs every branch bounded. */
function boundingIndex(indexes: mongo.IndexDescription[], filter: Analysed): string | null {
  const direct = indexes.find((ix) => bounds(ix, filter));
  if (direct) return String(direct.name);
  for (const or of filter.ors) {
    const names = or.map((branch) =>
      boundingIndex(indexes, { conjuncts: [...filter.conjuncts, ...branch.conjuncts], ors: branch.ors }),
    );
    if (names.every((n) => n !== null)) return `union(${[...new Set(names)].join(', ')})`;
  }
  return null;
}

/** An index giving `sort` without a blocking sort, and whether it is bound by equality first. */
function sortingIndex(
  indexes: mongo.IndexDescription[],
  filter: Analysed,
  sort: Record<string, 1 | -1>,
): { name: string; bounded: boolean } | null {
  const sortKeys = Object.entries(sort);
  for (const index of indexes) {
    if (!usable(index, filter)) continue;
    const keys = Object.entries(index.key) as [string, number][];
    for (let k = 0; k + sortKeys.length <= keys.length; k++) {
      if (k > 0 && predicateOn(filter, keys[k - 1]![0]) !== 'eq') break;
      const window = keys.slice(k, k + sortKeys.length);
      const same = window.every(([f, d], i) => f === sortKeys[i]![0] && d === sortKeys[i]![1]);
      const reversed = window.every(([f, d], i) => f === sortKeys[i]![0] && d === -sortKeys[i]![1]);
      if (same || reversed) return { name: String(index.name), bounded: k > 0 || bounds(index, filter) };
    }
  }
  return null;
}

/** The query shapes of one recorded call (none for writes without a filter and for index commands). */
export function shapesOf(call: LoggedCall): QueryShape[] {
  const [first, second, third] = call.args as [unknown, unknown, unknown];
  const base = { collection: call.collection, method: call.method };
  const options = (v: unknown) => (isObject(v) ? v : {});
  switch (call.method) {
    case 'find':
    case 'findOne': {
      const o = options(second);
      const sort = isObject(o.sort) ? (o.sort as Record<string, 1 | -1>) : undefined;
      return [
        {
          ...base,
          filter: options(first),
          ...(sort && Object.keys(sort).length ? { sort } : {}),
          limited: call.method === 'findOne' || typeof o.limit === 'number',
        },
      ];
    }
    case 'countDocuments':
    case 'updateMany':
    case 'updateOne':
    case 'replaceOne':
    case 'deleteMany':
    case 'deleteOne':
    case 'findOneAndUpdate':
    case 'findOneAndReplace':
    case 'findOneAndDelete':
      return [{ ...base, filter: options(first), limited: false }];
    case 'aggregate': {
      const pipeline = Array.isArray(first) ? (first as Record<string, unknown>[]) : [];
      const match = pipeline[0]?.$match;
      const sort = pipeline[1]?.$sort;
      return [
        {
          ...base,
          filter: options(match),
          ...(isObject(sort) ? { sort: sort as Record<string, 1 | -1> } : {}),
          limited: false,
        },
      ];
    }
    default:
      // insertOne/insertMany, estimatedDocumentCount (metadata), createIndex, listIndexes, dropIndex.
      void third;
      return [];
  }
}

/** Which declared index serves `query`, or why none does. */
export function judge(indexes: mongo.IndexDescription[], query: QueryShape): Verdict {
  const filter = analyse(query.filter);
  const bounding = boundingIndex(indexes, filter);
  if (query.sort) {
    const sorting = sortingIndex(indexes, filter, query.sort);
    if (!sorting)
      return { query, reason: `no index gives sort ${JSON.stringify(query.sort)} (blocking sort)` };
    if (sorting.bounded) return { query, index: sorting.name };
    if (query.limited) return { query, index: `${sorting.name} (walked in order, limit)` };
    return { query, reason: `sort index ${sorting.name} would be walked whole (no bound, no limit)` };
  }
  if (bounding) return { query, index: bounding };
  return { query, reason: 'no index bounds the filter (collection scan)' };
}

/** Distinct query shapes (values replaced by their predicate kind) for readable reports. */
export function shapeKey(query: QueryShape): string {
  const mask = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length && isObject(v[0]) ? v.map(mask) : '[…]';
    if (v instanceof RegExp) return '/…/';
    if (!isObject(v)) return '…';
    return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, mask(inner)]));
  };
  return `${query.collection}.${query.method} ${JSON.stringify(mask(query.filter))}${
    query.sort ? ` sort ${JSON.stringify(query.sort)}` : ''
  }${query.limited ? ' limit' : ''}`;
}

/** A scan an adapter makes on purpose, with why (listed beside the suite that sees it). */
export interface KnownScan {
  shape: string;
  why: string;
}

/**
 * Judges every recorded call against the declared indexes of its collection:
 * the shapes seen (one unserved instance fails a shape), those no index
 * serves and no known scan explains, and the known scans that never occurred
 * (so each list only shrinks).
 */
export function coverageOf(
  calls: readonly LoggedCall[],
  declared: Record<string, mongo.IndexDescription[]>,
  known: readonly KnownScan[],
): { verdicts: Map<string, Verdict>; unserved: string[]; stale: KnownScan[] } {
  const verdicts = new Map<string, Verdict>();
  for (const call of calls) {
    const indexes = declared[call.collection];
    if (!indexes) continue;
    for (const shape of shapesOf(call)) {
      const key = shapeKey(shape);
      const verdict = judge(indexes, shape);
      if (!verdicts.get(key) || verdicts.get(key)?.index) verdicts.set(key, verdict);
    }
  }
  const unserved = [...verdicts]
    .filter(([key, v]) => !v.index && !known.some((k) => k.shape === key))
    .map(([key, v]) => `${key}: ${v.reason}`);
  return { verdicts, unserved, stale: known.filter((k) => !verdicts.has(k.shape)) };
}

/**
 * The coverage test a contract suite ends with: every call `log` recorded
 * during the suite has a declared index, or is one of `known`.
 */
export function describeIndexCoverage(
  log: { calls: readonly LoggedCall[] },
  declared: Record<string, mongo.IndexDescription[]>,
  known: readonly KnownScan[] = [],
): void {
  describe('mongo index coverage', () => {
    it('serves every query the mongo adapter sent in this suite with a declared index', () => {
      const { verdicts, unserved, stale } = coverageOf(log.calls, declared, known);
      if (process.env.INDEX_COVERAGE_REPORT) {
        for (const [key, v] of verdicts) process.stdout.write(`${v.index ?? 'NONE'}\t${key}\n`);
      }
      // The suite queried the collections it covers; a broken recorder must not pass.
      expect(verdicts.size).toBeGreaterThan(0);
      expect(unserved).toEqual([]);
      expect(stale).toEqual([]);
    });
  });
}
