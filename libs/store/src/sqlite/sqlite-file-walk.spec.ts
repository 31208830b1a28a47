import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from './sqlite-database';
import { SqliteAuditRepository } from './sqlite-audit.repository';
import { SqliteDatasetRepository } from './sqlite-dataset.repository';
import { SqliteFileRepository } from './sqlite-file.repository';

/** The query plan's steps of one of the walk's statements, as EXPLAIN QUERY PLAN words them. */
function planOf(db: Db, statement: { source: string }): string[] {
  const explain = db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${statement.source}`);
  const params = explain.source.includes('@root')
    ? [{ root: 'data', after: '', limit: 10, exact: 'a', from: 'a/', to: 'a0' }]
    : ['["a", "b"]'];
  return explain.all(...params).map((step) => step.detail);
}

describe('sqlite reads of a rescan', () => {
  let dir: string;
  let db: Db;
  let files: SqliteFileRepository;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'climcat-walk-'));
    db = openDatabase(join(dir, 'catalog.sqlite'), { roots: [] });
    files = new SqliteFileRepository(db, new SqliteDatasetRepository(db), new SqliteAuditRepository(db));
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // A rescan walks every present file of a root: read through the table, a 10M-file walk reads
  // every file's doc too (~17 GB), which pushes the scanned tree out of the page cache.
  it('walks the states through their covering index alone, for a whole root and under a prefix', () => {
    const walk = files['iterateStates'];
    expect(planOf(db, walk.all)).toEqual([
      'SEARCH files USING COVERING INDEX files_present_states (root=? AND path>?)',
    ]);
    // The prefix's own path (a file named like the directory) is one lookup; its sub-tree is a range.
    expect(planOf(db, walk.under)).toContain(
      'SEARCH files USING COVERING INDEX files_present_states (root=? AND path>? AND path<?)',
    );
  });

  // After a rescan every dataset it saw has its totals checked against its files' aggregate.
  it('aggregates the files of one dataset or of many from their covering index alone', () => {
    const covered = 'USING COVERING INDEX files_present_totals (dataset_id=?)';
    expect(planOf(db, files['aggregateDataset']).join('\n')).toContain(covered);
    expect(planOf(db, files['aggregateDatasets']).join('\n')).toContain(covered);
  });
});
