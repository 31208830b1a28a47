/**
 * Facet value counts for dataset search.
 *
 * Counting with SQL (`GROUP BY value` over the matching datasets' facet rows)
 * sorts every facet row of the match: hundreds of milliseconds once the match
 * holds tens of thousands of datasets. Instead each (name, value) gets an
 * integer code (`facet_values`), every dataset row carries its codes as a
 * little-endian uint32 BLOB (`datasets.facet_codes`), and counting is one pass
 * over the matching rows incrementing a typed array: about 1 µs per dataset.
 *
 * A pass costs what it visits, so large matches are counted through their
 * complement: counts over all datasets (cached until the next write) minus
 * counts over the datasets that do not match.
 */
import type { FacetCount, FacetName } from '@climcat/core';
import type { Statement } from 'better-sqlite3';
import { topFacetValues } from '../shared/facet-order';
import type { FacetValue } from '../shared/search-index';
import type { FacetCountUnit } from '../shared/search-plan';
import type { Db } from './sqlite-database';

interface DictionaryEntry {
  code: number;
  name: string;
  value: string;
}

/** Histogram over facet codes, growing as codes appear. */
class CodeCounts {
  // Uint32 holds file-weighted counts too: a value would need 4 billion files to overflow.
  counts = new Uint32Array(1024);
  rows = 0;

  /** A dataset's codes, counted `weight` times (1, or its number of files). */
  add(codes: Buffer, weight = 1): void {
    this.rows++;
    const n = codes.length >> 2;
    for (let i = 0; i < n; i++) {
      const code = codes.readUInt32LE(i << 2);
      if (code >= this.counts.length) this.grow(code);
      this.counts[code]! += weight;
    }
  }

  get(code: number): number {
    return this.counts[code] ?? 0;
  }

  private grow(code: number): void {
    const bigger = new Uint32Array(Math.max(code + 1, this.counts.length * 2));
    bigger.set(this.counts);
    this.counts = bigger;
  }
}

export class FacetCounter {
  private readonly codeOf = new Map<string, number>();
  private readonly byName = new Map<string, DictionaryEntry[]>();
  private maxCode = 0;
  private totals: Record<FacetCountUnit, CodeCounts | null> = { datasets: null, files: null };
  private dataVersion = -1;
  private readonly insertValue: Statement<[string, string]>;
  private readonly selectCode: Statement<[string, string], number>;
  private readonly newerEntries: Statement<[number], DictionaryEntry>;
  private readonly allCodes: Statement<[], Buffer>;
  private readonly allCodesAndFiles: Statement<[], [Buffer, number]>;

  constructor(private readonly db: Db) {
    this.insertValue = db.prepare('INSERT OR IGNORE INTO facet_values (name, value) VALUES (?, ?)');
    this.selectCode = db
      .prepare('SELECT code FROM facet_values WHERE name = ? AND value = ?')
      .pluck() as Statement<[string, string], number>;
    this.newerEntries = db.prepare('SELECT code, name, value FROM facet_values WHERE code > ? ORDER BY code');
    this.allCodes = db.prepare('SELECT facet_codes FROM datasets').pluck() as Statement<[], Buffer>;
    this.allCodesAndFiles = db.prepare('SELECT facet_codes, file_count FROM datasets').raw() as Statement<
      [],
      [Buffer, number]
    >;
  }

  /**
   * The BLOB of codes for a dataset's facet values. Runs before (outside) the
   * dataset's own transaction: a dictionary entry must never be rolled back
   * while this process keeps its code, and an unused entry is harmless.
   */
  encode(facets: FacetValue[]): Buffer {
    const missing = facets.filter((f) => !this.codeOf.has(key(f.name, f.value)));
    if (missing.length > 0) {
      this.db.transaction(() => {
        for (const f of missing) this.insertValue.run(f.name, f.value);
      })();
      this.refresh();
    }
    const codes = Buffer.alloc(facets.length * 4);
    facets.forEach((f, i) => {
      const code = this.codeOf.get(key(f.name, f.value)) ?? this.selectCode.get(f.name, f.value);
      if (code === undefined) throw new Error(`facet value ${f.name}=${f.value} has no code`);
      codes.writeUInt32LE(code, i * 4);
    });
    return codes;
  }

  /** Forget cached totals after a write through this connection. */
  invalidate(): void {
    this.totals = { datasets: null, files: null };
  }

  /** Counts for `names` over the `matching` rows (see {@link CodeRows}). */
  countMatching(matching: CodeRows, names: FacetName[], limit: number): Record<string, FacetCount[]> {
    const counts = tally(matching);
    return this.report(names, limit, (code) => counts.get(code));
  }

  /** Counts for `names` over all datasets except the `notMatching` rows. */
  countComplement(notMatching: CodeRows, names: FacetName[], limit: number): Record<string, FacetCount[]> {
    const rest = tally(notMatching);
    const totals = this.allDatasets(notMatching.unit);
    return this.report(names, limit, (code) => totals.get(code) - rest.get(code));
  }

  /** Counts for `names` over all datasets. */
  countAll(names: FacetName[], limit: number, unit: FacetCountUnit): Record<string, FacetCount[]> {
    const totals = this.allDatasets(unit);
    return this.report(names, limit, (code) => totals.get(code));
  }

  /**
   * Number of datasets, from whichever cached totals there are (both count
   * every row), else from the totals for `unit`: pass the unit the facet
   * counts will use, so one pass over the table serves both.
   */
  datasetCount(unit: FacetCountUnit): number {
    this.dropStaleTotals();
    return (this.totals.datasets ?? this.totals.files ?? this.allDatasets(unit)).rows;
  }

  /** Another connection's commit changes data_version; our own writes call invalidate(). */
  private dropStaleTotals(): void {
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version !== this.dataVersion) {
      this.invalidate();
      this.dataVersion = version;
    }
  }

  private allDatasets(unit: FacetCountUnit): CodeCounts {
    this.dropStaleTotals();
    return (this.totals[unit] ??= tally(
      unit === 'files'
        ? { unit, rows: this.allCodesAndFiles.iterate() }
        : { unit, rows: this.allCodes.iterate() },
    ));
  }

  private report(
    names: FacetName[],
    limit: number,
    countOf: (code: number) => number,
  ): Record<string, FacetCount[]> {
    this.refresh();
    const result: Record<string, FacetCount[]> = {};
    for (const name of names) {
      const values: FacetCount[] = [];
      for (const entry of this.byName.get(name) ?? []) {
        const count = countOf(entry.code);
        if (count > 0) values.push({ value: entry.value, count });
      }
      result[name] = topFacetValues(values, limit);
    }
    return result;
  }

  /** Loads dictionary entries added since the last look (by us or another connection). */
  private refresh(): void {
    for (const entry of this.newerEntries.all(this.maxCode)) {
      this.codeOf.set(key(entry.name, entry.value), entry.code);
      const list = this.byName.get(entry.name) ?? [];
      list.push(entry);
      this.byName.set(entry.name, list);
      this.maxCode = entry.code;
    }
  }
}

/**
 * Rows to count: each dataset's facet codes, or its codes with its number of
 * files when counts count files (ESGF File searches).
 */
export type CodeRows =
  { unit: 'datasets'; rows: Iterable<Buffer> } | { unit: 'files'; rows: Iterable<[Buffer, number]> };

function tally(rows: CodeRows): CodeCounts {
  const counts = new CodeCounts();
  if (rows.unit === 'files') for (const [codes, files] of rows.rows) counts.add(codes, files);
  else for (const codes of rows.rows) counts.add(codes);
  return counts;
}

function key(name: string, value: string): string {
  return `${name}\u0000${value}`;
}
