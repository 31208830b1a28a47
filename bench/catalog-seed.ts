/**
 * The seeded sqlite catalog of the catalog and rescan benchmarks: the synthetic datasets of
 * catalog-data.ts with `filesPer` file records each. BENCH_STATE_DIR keeps the seeded store
 * between runs (seeding 1M datasets takes long): the directory is reused when it holds a store
 * seeded with the same sizes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { openDatabase, type Db } from '../libs/store/src/sqlite/sqlite-database';
import { SqliteDatasetRepository } from '../libs/store/src/sqlite/sqlite-dataset.repository';
import { datasetAt, seededFile } from './catalog-data';
import { fmt, prng } from './lib';

/** Records per write transaction while seeding: one commit per batch instead of one per record. */
const SEED_BATCH = 2_000;

export interface SeededCatalog {
  /** The STATE_DIR of the services under test. */
  state: string;
  path: string;
  ids: string[];
  /** Removes the state directory unless BENCH_STATE_DIR keeps it. */
  cleanup(): void;
}

/**
 * A copy of `s` in one piece: an id built by template literals is a tree of its parts (a V8 cons
 * string), and a million of them kept ~730 MB alive in the bench process (~100 MB flat), which
 * made the process's RSS say little about the app's.
 */
function flat(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

export async function seededCatalog(datasets: number, filesPer: number): Promise<SeededCatalog> {
  const kept = process.env.BENCH_STATE_DIR;
  const state = kept ?? mkdtempSync(join(tmpdir(), 'climcat-bench-catalog-'));
  if (kept) mkdirSync(kept, { recursive: true });
  const path = join(state, 'catalog.sqlite');
  const marker = join(state, 'seeded.json');
  const sizes = JSON.stringify({ datasets, filesPerDataset: filesPer });
  const reuse = kept !== undefined && existsSync(marker) && readFileSync(marker, 'utf8') === sizes;
  const rand = prng(42);
  const ids: string[] = [];
  if (reuse) {
    process.stdout.write(`reusing ${path} (${datasets} datasets × ${filesPer} files)\n`);
    for (let i = 0; i < datasets; i++) ids.push(flat(datasetAt(i, rand, filesPer).id));
  } else {
    // An interrupted seeding with as many files per dataset resumes: its committed batches are
    // the first datasets of any catalog with that many files per dataset.
    const progress = join(state, 'seeding.json');
    const resumable =
      kept !== undefined &&
      existsSync(progress) &&
      readFileSync(progress, 'utf8') === JSON.stringify({ filesPerDataset: filesPer });
    if (!resumable) for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    rmSync(marker, { force: true });
    if (kept) writeFileSync(progress, JSON.stringify({ filesPerDataset: filesPer }));
    seed(path, datasets, filesPer, rand, ids);
    if (kept) {
      writeFileSync(marker, sizes);
      rmSync(progress);
    }
  }
  return { state, path, ids, cleanup: () => kept ?? rmSync(state, { recursive: true, force: true }) };
}

/**
 * Datasets through the sqlite repository's synchronous create (the same rows, search keys and
 * triggers as `create`), SEED_BATCH per transaction; then the file rows (see seedFiles).
 */
function seed(path: string, datasets: number, filesPer: number, rand: () => number, ids: string[]): void {
  process.stdout.write(`seeding ${datasets} datasets × ${filesPer} files into ${path}\n`);
  const db = openDatabase(path, { roots: [] });
  // The whole catalog in the page cache: random index inserts otherwise read a page from the OS each.
  db.pragma('cache_size = -4000000');
  const repo = new SqliteDatasetRepository(db);
  const done = db.prepare('SELECT count(*) FROM datasets').pluck().get() as number;
  if (db.prepare('SELECT count(*) FROM files').pluck().get() !== 0 || done > datasets)
    throw new Error(`${path} holds another catalog: remove it`);
  for (let i = 0; i < done; i++) ids.push(flat(datasetAt(i, rand, filesPer).id));
  if (done > 0) process.stdout.write(`resuming after ${done} datasets\n`);
  let t = performance.now();
  for (let from = done; from < datasets; from += SEED_BATCH)
    db.transaction(() => {
      for (let i = from; i < Math.min(datasets, from + SEED_BATCH); i++)
        ids.push(flat(repo.createNow(datasetAt(i, rand, filesPer)).id));
    })();
  const datasetSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const mtime = new Date().toISOString();
  seedFiles(db, filesPer, mtime);
  const fileSeconds = (performance.now() - t) / 1000;
  checkSeededFiles(db, ids, filesPer, mtime);
  db.close();
  process.stdout.write(
    `seeded: datasets ${fmt((datasets - done) / datasetSeconds, 0)}/s, files ${fmt((datasets * filesPer) / fileSeconds, 0)}/s\n`,
  );
}

/**
 * The rows `files.upsert(seededFile(...))` writes for every dataset (number i = pk - 1, as created
 * in order into an empty store), made by SQLite itself: 10M upserts from JavaScript take 15 minutes.
 * checkSeededFiles compares a sample with what the repository would have written.
 */
function seedFiles(db: Db, filesPer: number, mtime: string): void {
  const insert = db.prepare(`
    WITH RECURSIVE n(f) AS (SELECT 0 UNION ALL SELECT f + 1 FROM n WHERE f + 1 < @filesPer)
    INSERT INTO files (id, dataset_id, root, path, status, size, mtime, etag, time_start, time_end, doc)
    SELECT id, dataset_id, 'data', path, 'present', 400000000, @mtime, NULL, ts, te,
      json_object('id', id, 'datasetId', dataset_id, 'location', json_object('root', 'data', 'path', path),
        'size', 400000000, 'mtime', @mtime, 'format', 'NETCDF4',
        'timeCoverage', json_object('start', ts, 'end', te, 'calendar', '360_day'),
        'variables', json_array('tas'), 'status', 'present', 'createdAt', @mtime, 'updatedAt', @mtime)
    FROM (
      SELECT (d.pk - 1) || '-' || n.f AS id, d.id AS dataset_id,
        replace(d.id, '.', '/') || '/f_' || (2006 + n.f * 10) || '01-' || (2015 + n.f * 10) || '12.nc' AS path,
        (2006 + n.f * 10) || '-01-16T00:00:00' AS ts, (2015 + n.f * 10) || '-12-16T00:00:00' AS te
      FROM datasets d, n WHERE d.pk > @from AND d.pk <= @to ORDER BY d.pk, n.f
    )`);
  const last = db.prepare('SELECT coalesce(max(pk), 0) FROM datasets').pluck().get() as number;
  for (let from = 0; from < last; from += 100_000)
    db.transaction(() => insert.run({ filesPer, mtime, from, to: from + 100_000 }))();
}

function checkSeededFiles(db: Db, ids: string[], filesPer: number, mtime: string): void {
  const row = db.prepare('SELECT * FROM files WHERE id = ?');
  const count = db.prepare('SELECT count(*) FROM files').pluck().get() as number;
  if (count !== ids.length * filesPer) throw new Error(`seeded ${count} files, not ${ids.length * filesPer}`);
  for (let k = 0; k < 200 && ids.length > 0; k++) {
    const i = Math.floor((k / 200) * ids.length);
    const f = k % filesPer;
    const file = seededFile(ids[i]!, i, f, mtime);
    const stored = row.get(file.id) as Record<string, unknown> | undefined;
    const expected = {
      id: file.id,
      dataset_id: file.datasetId,
      root: 'data',
      path: file.location.path,
      status: 'present',
      size: file.size,
      mtime,
      etag: null,
      time_start: file.timeCoverage!.start,
      time_end: file.timeCoverage!.end,
      doc: JSON.stringify(file),
    };
    const { pk: _pk, ...columns } = stored ?? {};
    if (!isDeepStrictEqual(columns, expected))
      throw new Error(`seeded file ${file.id} differs from its upsert: ${JSON.stringify(stored)}`);
  }
}
