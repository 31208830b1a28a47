import {
  type CapacityRow,
  type DatasetQuery,
  type DatasetRecord,
  type DatasetRepository,
  type DatasetSearchResult,
  type DatasetTotals,
} from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { inRequestedOrder, revisionConflict } from '../shared/records';
import { searchKeys, type DatasetSearchKeys } from '../shared/search-index';
import { nextCursor, planSearch, type SearchPlan } from '../shared/search-plan';
import { compareCodePoints } from '../shared/facet-order';
import {
  datasetCondition,
  json,
  prefixUpperBound,
  type DrivingFilter,
  matchesEverything,
  SORT_COLUMNS,
  type SqlCondition,
} from './sqlite-dataset-filter';
import { conflictOnDuplicate, StatementCache, type Db } from './sqlite-database';
import { FacetCounter, type CodeRows } from './sqlite-facet-counter';

/** Filter and sort columns of `datasets`, written from each record by `rowParams`. */
const DATASET_COLUMNS = [
  'id',
  'dataset_id',
  'kind',
  'project',
  'status',
  'availability',
  'public',
  'owner_group',
  'created_at',
  'updated_at',
  'size',
  'file_count',
  'time_start',
  'time_end',
  'south',
  'north',
  'lon1_min',
  'lon1_max',
  'lon2_min',
  'lon2_max',
  'revision',
  'facet_codes',
] as const;

type DatasetRow = Record<(typeof DATASET_COLUMNS)[number], string | number | Buffer | null>;

/** Largest driving facet for a one-pass search: it holds every match in memory. */
const ONE_PASS_MAX = 100_000;

/** The first limit up to which text terms' token rows are counted (see rarestTerm). */
const RAREST_TERM_FIRST_LIMIT = 4_096;

/**
 * Smallest driving facet whose datasets are intersected with the next facet filters' (see
 * intersectFacets): below it, probing the others per driving row costs less than listing them.
 */
const INTERSECT_MIN = 1_000;
/**
 * A facet filter joins the intersection while it lists at most this many times the datasets left:
 * listing its datasets (an index range, ~0.3 µs a row) then costs less than probing it for each
 * dataset left (a descent of the facet index, 2-4 µs at a million datasets).
 */
const INTERSECT_RATIO = 8;

interface DocRow {
  doc: string;
  revision: number;
}

export class SqliteDatasetRepository implements DatasetRepository {
  private readonly statements: StatementCache;
  private readonly facetCounter: FacetCounter;
  private readonly byId: Statement<[string], DocRow & { pk: number }>;
  private readonly byPk: Statement<[number], DocRow>;
  private readonly insertRow: Statement<[DatasetRow]>;
  private readonly updateRow: Statement<[DatasetRow & { pk: number }]>;
  private readonly deleteRow: Statement<[number]>;
  private readonly insertDoc: Statement<[number, string]>;
  private readonly updateDoc: Statement<[string, number]>;
  private readonly insertFacet: Statement<[string, string, number]>;
  private readonly insertGroup: Statement<[string, number]>;
  private readonly insertToken: Statement<[string, number]>;
  private readonly insertDerived: Statement<[string, number]>;
  private readonly clearSearchRows: Statement<[number]>[];

  constructor(
    private readonly db: Db,
    private readonly onePassMax = ONE_PASS_MAX,
    private readonly firstTermLimit = RAREST_TERM_FIRST_LIMIT,
    private readonly intersectMin = INTERSECT_MIN,
  ) {
    this.statements = new StatementCache(db);
    this.facetCounter = new FacetCounter(db);
    const withDoc = 'SELECT d.pk, x.doc, d.revision FROM datasets d JOIN dataset_docs x ON x.pk = d.pk';
    this.byId = db.prepare(`${withDoc} WHERE d.id = ?`);
    this.byPk = db.prepare(`${withDoc} WHERE d.pk = ?`);
    const columns = DATASET_COLUMNS;
    this.insertRow = db.prepare(
      `INSERT INTO datasets (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
    );
    this.updateRow = db.prepare(
      `UPDATE datasets SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE pk = @pk`,
    );
    this.deleteRow = db.prepare('DELETE FROM datasets WHERE pk = ?');
    this.insertDoc = db.prepare('INSERT INTO dataset_docs (pk, doc) VALUES (?, ?)');
    this.updateDoc = db.prepare('UPDATE dataset_docs SET doc = ? WHERE pk = ?');
    this.insertFacet = db.prepare('INSERT OR IGNORE INTO dataset_facets (name, value, ds) VALUES (?, ?, ?)');
    this.insertGroup = db.prepare('INSERT OR IGNORE INTO dataset_groups (grp, ds) VALUES (?, ?)');
    this.insertToken = db.prepare('INSERT OR IGNORE INTO dataset_tokens (token, ds) VALUES (?, ?)');
    this.insertDerived = db.prepare('INSERT OR IGNORE INTO dataset_derived (parent, ds) VALUES (?, ?)');
    this.clearSearchRows = ['dataset_facets', 'dataset_groups', 'dataset_tokens', 'dataset_derived'].map(
      (t) => db.prepare(`DELETE FROM ${t} WHERE ds = ?`),
    );
  }

  async get(id: string): Promise<DatasetRecord | null> {
    return this.getNow(id);
  }

  /** Synchronous, for use inside another repository's transaction. */
  getNow(id: string): DatasetRecord | null {
    const row = this.byId.get(id);
    return row ? toRecord(row) : null;
  }

  async getMany(ids: string[]): Promise<DatasetRecord[]> {
    const rows = this.statements
      .get(
        'SELECT d.id, x.doc, d.revision FROM datasets d JOIN dataset_docs x ON x.pk = d.pk' +
          ' WHERE d.id IN (SELECT value FROM json_each(?))',
      )
      .all(json(ids)) as (DocRow & { id: string })[];
    return inRequestedOrder(ids, new Map(rows.map((row) => [row.id, toRecord(row)])));
  }

  async totalsOf(ids: string[]): Promise<DatasetTotals[]> {
    // The columns hold what the record holds for these members (rowParams writes both).
    return this.statements
      .get(
        'SELECT id, size, file_count AS fileCount, availability, time_start AS timeStart, time_end AS timeEnd' +
          ' FROM datasets WHERE id IN (SELECT value FROM json_each(?))',
      )
      .all(json(ids)) as DatasetTotals[];
  }

  async create(record: Omit<DatasetRecord, 'revision'>): Promise<DatasetRecord> {
    return this.createNow(record);
  }

  /** Synchronous, for use inside another transaction (a bulk load's: one commit per batch). */
  createNow(record: Omit<DatasetRecord, 'revision'>): DatasetRecord {
    const stored: DatasetRecord = { ...record, revision: 1 };
    const row = this.rowFor(stored);
    this.write(() => {
      const { lastInsertRowid } = conflictOnDuplicate(
        () => this.insertRow.run(row.columns),
        `dataset ${record.id} already exists`,
      );
      const pk = Number(lastInsertRowid);
      this.insertDoc.run(pk, docJson(stored));
      this.writeSearchRows(pk, stored, row.keys);
    });
    return stored;
  }

  async replace(record: DatasetRecord, expectedRevision: number): Promise<DatasetRecord> {
    return this.replaceNow(record, expectedRevision);
  }

  /** Synchronous, for use inside another repository's transaction (it nests as a savepoint). */
  replaceNow(record: DatasetRecord, expectedRevision: number): DatasetRecord {
    const stored: DatasetRecord = { ...record, revision: expectedRevision + 1 };
    const row = this.rowFor(stored);
    this.write(() => {
      const current = this.currentAt(record.id, expectedRevision);
      this.updateRow.run({ ...row.columns, pk: current.pk });
      this.updateDoc.run(docJson(stored), current.pk);
      for (const clear of this.clearSearchRows) clear.run(current.pk);
      this.writeSearchRows(current.pk, stored, row.keys);
    });
    return stored;
  }

  async delete(id: string, expectedRevision?: number): Promise<void> {
    this.deleteNow(id, expectedRevision);
  }

  /** Synchronous, for use inside another repository's transaction (it nests as a savepoint). */
  deleteNow(id: string, expectedRevision?: number): void {
    this.write(() => {
      const current = this.currentAt(id, expectedRevision);
      // The doc and the search rows go by ON DELETE CASCADE.
      this.deleteRow.run(current.pk);
    });
  }

  async search(query: DatasetQuery): Promise<DatasetSearchResult> {
    const plan = planSearch(query);
    // One read transaction: total, page and facet counts see the same snapshot.
    return this.db.transaction(() => this.searchNow(plan))();
  }

  async capacity(): Promise<CapacityRow[]> {
    return this.statements
      .get(
        'SELECT kind, project, count(*) AS datasets, coalesce(sum(file_count), 0) AS files,' +
          ' coalesce(sum(size), 0) AS bytes FROM datasets GROUP BY kind, project ORDER BY kind, project',
      )
      .all() as CapacityRow[];
  }

  private searchNow(unordered: SearchPlan): DatasetSearchResult {
    const { plan, drive, drivingSize } = this.mostSelectiveFirst(unordered);
    const where = datasetCondition(plan, drive);
    const everything = matchesEverything(where);
    if (!everything && drivingSize !== undefined) {
      const pks = this.statements.get('SELECT coalesce(max(pk), 0) FROM datasets').pluck();
      if (drivingSize <= Math.min(this.onePassMax, (pks.get() as number) / 2))
        return this.searchOnePass(plan, where);
    }
    // Datasets only, unless facet counts will need the file-weighted totals anyway.
    const unit = plan.facetCounts.length > 0 ? plan.facetCountUnit : 'datasets';
    const total = everything
      ? this.facetCounter.datasetCount(unit)
      : (this.statements
          .get(`SELECT count(*) FROM datasets d WHERE ${where.sql}`)
          .pluck()
          .get(...where.params) as number);

    let facets: DatasetSearchResult['facets'] = {};
    if (plan.facetCounts.length > 0) {
      const { facetCounts: names, facetLimit: limit } = plan;
      const codes = (condition: string): CodeRows =>
        plan.facetCountUnit === 'files'
          ? {
              unit: 'files',
              rows: this.statements
                .get(`SELECT d.facet_codes, d.file_count FROM datasets d WHERE ${condition}`)
                .raw()
                .iterate(...where.params) as IterableIterator<[Buffer, number]>,
            }
          : {
              unit: 'datasets',
              rows: this.statements
                .get(`SELECT d.facet_codes FROM datasets d WHERE ${condition}`)
                .pluck()
                .iterate(...where.params) as IterableIterator<Buffer>,
            };
      if (everything) facets = this.facetCounter.countAll(names, limit, plan.facetCountUnit);
      else if (total <= this.facetCounter.datasetCount(unit) / 2)
        facets = this.facetCounter.countMatching(codes(where.sql), names, limit);
      // `IS NOT TRUE`, not `NOT`: a condition that is NULL for a row does not match it either.
      else facets = this.facetCounter.countComplement(codes(`(${where.sql}) IS NOT TRUE`), names, limit);
    }

    let items: DatasetRecord[] = [];
    let more = false;
    if (plan.limit > 0 && total > plan.offset) {
      const column = SORT_COLUMNS[plan.sort.field];
      const direction = plan.sort.direction === 'asc' ? 'ASC' : 'DESC';
      const conditions = [where.sql];
      const params = [...where.params];
      if (plan.after) {
        conditions.push(`(${column}, d.id) ${plan.sort.direction === 'asc' ? '>' : '<'} (?, ?)`);
        params.push(plan.after.value, plan.after.id);
      }
      // Keys first, documents only for the page: the sort never carries the JSON.
      const pks = this.statements
        .get(
          `SELECT d.pk FROM datasets d WHERE ${conditions.join(' AND ')}` +
            ` ORDER BY ${column} ${direction}, d.id ${direction} LIMIT ? OFFSET ?`,
        )
        .pluck()
        .all(...params, plan.limit + 1, plan.offset) as number[];
      more = pks.length > plan.limit;
      items = pks.slice(0, plan.limit).map((pk) => toRecord(this.byPk.get(pk)!));
    }
    return { total, items, facets, next: nextCursor(plan, items, more) };
  }

  /**
   * Few matches (bounded by the driving filter's size): total, facet counts and page from one
   * pass over the matching rows rather than three (count, codes, sorted keys), each of which
   * costs a walk of the driving facet with index probes for the other filters.
   */
  private searchOnePass(plan: SearchPlan, where: SqlCondition): DatasetSearchResult {
    const column = SORT_COLUMNS[plan.sort.field];
    const rows = this.statements
      .get(`SELECT d.pk, d.facet_codes, d.file_count, ${column}, d.id FROM datasets d WHERE ${where.sql}`)
      .raw()
      .all(...where.params) as [number, Buffer, number, string | number, string][];
    let facets: DatasetSearchResult['facets'] = {};
    if (plan.facetCounts.length > 0) {
      const counted: CodeRows =
        plan.facetCountUnit === 'files'
          ? { unit: 'files', rows: rows.map((r): [Buffer, number] => [r[1], r[2]]) }
          : { unit: 'datasets', rows: rows.map((r) => r[1]) };
      facets = this.facetCounter.countMatching(counted, plan.facetCounts, plan.facetLimit);
    }
    let items: DatasetRecord[] = [];
    let more = false;
    if (plan.limit > 0 && rows.length > plan.offset) {
      // The order of `ORDER BY column, d.id` (BINARY collation: code point order).
      const sign = plan.sort.direction === 'asc' ? 1 : -1;
      const compareKey = (value: string | number, id: string, other: string | number, otherId: string) =>
        sign *
        ((typeof value === 'number'
          ? value - (other as number)
          : compareCodePoints(value, other as string)) || compareCodePoints(id, otherId));
      const after = plan.after;
      const page = (after ? rows.filter((r) => compareKey(r[3], r[4], after.value, after.id) > 0) : rows)
        .sort((a, b) => compareKey(a[3], a[4], b[3], b[4]))
        .slice(plan.offset, plan.offset + plan.limit + 1);
      more = page.length > plan.limit;
      items = page.slice(0, plan.limit).map((r) => toRecord(this.byPk.get(r[0])!));
    }
    return { total: rows.length, items, facets, next: nextCursor(plan, items, more) };
  }

  /**
   * Orders facet filters by how many datasets each matches (the sum of its values' dataset counts,
   * kept by triggers) and picks the rarest text term if it is rarer than every facet filter: the
   * driving filter sets the query's cost. `drivingSize` bounds the number of matches (undefined
   * without facet filters or text).
   */
  private mostSelectiveFirst(plan: SearchPlan): {
    plan: SearchPlan;
    drive: DrivingFilter;
    drivingSize?: number;
  } {
    let ordered = plan;
    let sizes: number[] = [];
    if (plan.facets.length > 0) {
      const estimate = this.statements
        .get(
          'SELECT coalesce(sum(v.datasets), 0) FROM facet_values v WHERE v.name = ?' +
            ' AND v.value IN (SELECT value FROM json_each(?))',
        )
        .pluck();
      const sized = plan.facets.map((facet) => ({
        facet,
        size: estimate.get(facet.name, json(facet.values)) as number,
      }));
      sized.sort((a, b) => a.size - b.size);
      ordered = { ...plan, facets: sized.map((s) => s.facet) };
      sizes = sized.map((s) => s.size);
    }
    // The smallest facet filter's size (none: no bound).
    const facetSize = sizes[0] ?? Infinity;
    const rarest = this.rarestTerm(plan.text, facetSize);
    if (rarest) {
      const text = [plan.text[rarest.term]!, ...plan.text.filter((_, i) => i !== rarest.term)];
      if (text.length >= 2 && rarest.size >= this.intersectMin)
        return this.intersectTerms({ ...ordered, text });
      return { plan: { ...ordered, text }, drive: 'text', drivingSize: rarest.size };
    }
    if (sizes.length >= 2 && facetSize >= this.intersectMin && sizes[1]! <= INTERSECT_RATIO * facetSize)
      return this.intersectFacets(ordered, sizes);
    return {
      plan: ordered,
      drive: 'facet',
      ...(Number.isFinite(facetSize) ? { drivingSize: facetSize } : {}),
    };
  }

  /**
   * The datasets of the smallest facet filters, intersected in memory: each filter's datasets
   * come from the facet index in order, so a walk of the lists finds the common ones. The next
   * filter joins while it lists at most INTERSECT_RATIO times the datasets left; the rest stay
   * probes, now only for the datasets left. At a million datasets the bench's variable and
   * experiment filters list 50k and 83k datasets with ~4k in common: probing experiment for each
   * of the 50k cost 3-5× the two lists.
   */
  private intersectFacets(
    ordered: SearchPlan,
    sizes: number[],
  ): { plan: SearchPlan; drive: DrivingFilter; drivingSize: number } {
    const list = this.statements
      .get(
        'SELECT f.ds FROM dataset_facets f WHERE f.name = ? AND f.value IN (SELECT value FROM json_each(?))',
      )
      .pluck();
    const datasetsOf = (facet: SearchPlan['facets'][number]): Float64Array => {
      const pks = Float64Array.from(list.all(facet.name, json(facet.values)) as number[]);
      // One value's datasets come in order; several values' are runs to sort (and a dataset with
      // two of the values is listed twice).
      return facet.values.length > 1 ? unique(pks.sort()) : pks;
    };
    let pks = datasetsOf(ordered.facets[0]!);
    let used = 1;
    while (used < ordered.facets.length && sizes[used]! <= INTERSECT_RATIO * pks.length)
      pks = intersectSorted(pks, datasetsOf(ordered.facets[used++]!));
    return {
      plan: { ...ordered, facets: ordered.facets.slice(used) },
      drive: { pks: Array.from(pks) },
      drivingSize: pks.length,
    };
  }

  /**
   * The datasets of the rarest text terms, intersected in memory as intersectFacets does for facet
   * filters. A term's sizes are not known beyond the rarest's (rarestTerm stops counting there), so
   * each next term's datasets are listed up to INTERSECT_RATIO times the datasets left: a term
   * with more stays a probe, having cost at most about what probing it costs. At a million
   * datasets the bench's free text (a model and a variable: 24k and 50k datasets) probed the
   * variable 24k times.
   */
  private intersectTerms(plan: SearchPlan): { plan: SearchPlan; drive: DrivingFilter; drivingSize: number } {
    const list = (token: string, limit: number): number[] => {
      const upper = prefixUpperBound(token);
      return (
        upper === null
          ? this.statements
              .get('SELECT ds FROM dataset_tokens WHERE token >= ? LIMIT ?')
              .pluck()
              .all(token, limit)
          : this.statements
              .get('SELECT ds FROM dataset_tokens WHERE token >= ? AND token < ? LIMIT ?')
              .pluck()
              .all(token, upper, limit)
      ) as number[];
    };
    // A prefix matches several tokens: their datasets come as runs to sort (a dataset may repeat).
    const sorted = (pks: number[]) => unique(Float64Array.from(pks).sort());
    let pks = sorted(list(plan.text[0]!, -1));
    let used = 1;
    for (; used < plan.text.length; used++) {
      const limit = INTERSECT_RATIO * pks.length;
      const rows = list(plan.text[used]!, limit + 1);
      if (rows.length > limit) break;
      pks = intersectSorted(pks, sorted(rows));
    }
    return {
      plan: { ...plan, text: plan.text.slice(used) },
      drive: { pks: Array.from(pks) },
      drivingSize: pks.length,
    };
  }

  /**
   * The term with the fewest token rows (an upper bound on the datasets it matches: a dataset may
   * hold several tokens it prefixes), if it has fewer than `below`. Token rows are counted with a
   * limit that grows fourfold until some term stays under it, so the counting costs a few times the
   * rarest term's rows however common the others are (`esm` prefixes a third of the catalog).
   */
  private rarestTerm(terms: string[], below: number): { term: number; size: number } | undefined {
    if (terms.length === 0) return undefined;
    const count = (token: string, limit: number): number => {
      const upper = prefixUpperBound(token);
      return upper === null
        ? (this.statements
            .get('SELECT count(*) FROM (SELECT 1 FROM dataset_tokens WHERE token >= ? LIMIT ?)')
            .pluck()
            .get(token, limit) as number)
        : (this.statements
            .get('SELECT count(*) FROM (SELECT 1 FROM dataset_tokens WHERE token >= ? AND token < ? LIMIT ?)')
            .pluck()
            .get(token, upper, limit) as number);
    };
    const most = below - 1;
    if (most < 0) return undefined;
    for (let limit = Math.min(most, Math.max(1, this.firstTermLimit)); ; limit = Math.min(most, limit * 4)) {
      let best: { term: number; size: number } | undefined;
      for (let term = 0; term < terms.length; term++) {
        // Once a term fits, the others only need counting up to its size.
        const cap = best ? best.size - 1 : limit;
        if (cap < 0) break;
        const size = count(terms[term]!, cap + 1);
        if (size <= cap) best = { term, size };
      }
      if (best) return best;
      if (limit >= most) return undefined;
    }
  }

  /** The stored row, if it is at `expectedRevision` (any revision when undefined). */
  private currentAt(id: string, expectedRevision: number | undefined): DocRow & { pk: number } {
    const current = this.byId.get(id);
    if (!current || (expectedRevision !== undefined && current.revision !== expectedRevision))
      throw revisionConflict(id, current, expectedRevision);
    return current;
  }

  private write(fn: () => void): void {
    this.db.transaction(fn)();
    this.facetCounter.invalidate();
  }

  private rowFor(record: DatasetRecord): { columns: DatasetRow; keys: DatasetSearchKeys } {
    const keys = searchKeys(record);
    return { columns: rowParams(record, keys, this.facetCounter.encode(keys.facets)), keys };
  }

  private writeSearchRows(pk: number, record: DatasetRecord, keys: DatasetSearchKeys): void {
    for (const facet of keys.facets) this.insertFacet.run(facet.name, facet.value, pk);
    for (const group of record.access.accessGroups) this.insertGroup.run(group, pk);
    for (const token of keys.tokens) this.insertToken.run(token, pk);
    for (const parent of record.provenance?.derivedFrom ?? []) this.insertDerived.run(parent, pk);
  }
}

/** The values of `sorted` (ascending) without repeats. */
function unique(sorted: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  return sorted.subarray(0, n);
}

/** The values in both ascending lists, ascending. */
function intersectSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(Math.min(a.length, b.length));
  let n = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out[n++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.subarray(0, n);
}

function toRecord(row: DocRow): DatasetRecord {
  // The parsed document is a fresh object: set the revision on it rather than copying every member.
  const record = JSON.parse(row.doc) as DatasetRecord;
  record.revision = row.revision;
  return record;
}

function docJson(record: DatasetRecord): string {
  const { revision: _revision, ...doc } = record;
  return JSON.stringify(doc);
}

function rowParams(record: DatasetRecord, keys: DatasetSearchKeys, facetCodes: Buffer): DatasetRow {
  const [lon1, lon2] = keys.lon;
  return {
    id: record.id,
    dataset_id: record.datasetId,
    kind: record.kind,
    project: record.project,
    status: record.status,
    availability: record.availability,
    public: record.access.public ? 1 : 0,
    owner_group: record.access.ownerGroup,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    size: record.size,
    file_count: record.fileCount,
    time_start: keys.timeStart,
    time_end: keys.timeEnd,
    south: keys.south,
    north: keys.north,
    lon1_min: lon1?.min ?? null,
    lon1_max: lon1?.max ?? null,
    lon2_min: lon2?.min ?? null,
    lon2_max: lon2?.max ?? null,
    revision: record.revision,
    facet_codes: facetCodes,
  };
}
