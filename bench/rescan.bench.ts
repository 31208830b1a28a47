/**
 * Rescan of unchanged files with the catalog at CMIP6 scale: the sqlite store seeded by
 * catalog-seed.ts (1M datasets / 10M file records for `1000000 10`), and on disk the files of
 * the records under `prefix` (all of them when empty) as sparse files of the recorded size and
 * mtime, which is all a scan's unchanged test looks at (no content is read). Reports the scan's
 * files/s, and for the explanation the listing alone and the catalog walk alone (the file states
 * the scan merges with the listing, and the whole records for comparison).
 *
 *   BENCH_STATE_DIR=/tmp/cat1m npx ts-node -r tsconfig-paths/register --transpile-only bench/rescan.bench.ts [datasets] [filesPerDataset] [prefix]
 *
 * The tree is made under $BENCH_STATE_DIR/tree-<prefix> and removed at the end unless
 * BENCH_KEEP_TREE=1 (10M files take minutes to create and to delete).
 */
import Database from 'better-sqlite3';
import {
  closeSync,
  existsSync,
  futimesSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SYSTEM } from '@climcat/core';
import { createApp, loadConfig, StorageService } from '@climcat/platform';
import { STORE, type Store } from '@climcat/core';
import { IngestorModule } from '../apps/ingestor/src/ingestor.module';
import { ScanService } from '../apps/ingestor/src/scans/scan.service';
import { pathPrefixRange } from '../libs/store/src/shared/file-rules';
import { seededCatalog } from './catalog-seed';
import { fmt, peakRssMb } from './lib';

const DATASETS = Number(process.argv[2] ?? 100_000);
const FILES_PER = Number(process.argv[3] ?? 10);
const PREFIX = process.argv[4] ?? '';

/** Sparse files with the size and mtime of the store's present records under `prefix`. */
function layOut(catalog: string, tree: string): number {
  const db = new Database(catalog, { readonly: true });
  const range = pathPrefixRange(PREFIX);
  const rows = (
    range
      ? db
          .prepare(
            "SELECT path, size, mtime FROM files WHERE root = 'data' AND status = 'present'" +
              ' AND (path = @exact OR (path >= @from AND path < @to))',
          )
          .raw()
          .iterate(range)
      : db
          .prepare("SELECT path, size, mtime FROM files WHERE root = 'data' AND status = 'present'")
          .raw()
          .iterate()
  ) as IterableIterator<[string, number, string]>;
  let made = 0;
  let dir = '';
  for (const [path, size, mtime] of rows) {
    const file = join(tree, path);
    if (dirname(file) !== dir) {
      dir = dirname(file);
      mkdirSync(dir, { recursive: true });
    }
    const fd = openSync(file, 'w');
    ftruncateSync(fd, size);
    const at = new Date(mtime);
    futimesSync(fd, at, at);
    closeSync(fd);
    made++;
  }
  db.close();
  return made;
}

/**
 * The seed draws each dataset's size, time span and availability apart from its files', so a
 * scan's totals check after the walk would rewrite nearly every dataset (~300 datasets/s here),
 * which is a repair and not a rescan. A catalog kept by ingestion agrees with its files: this makes
 * the seeded one agree as DatasetRules' fromFiles would (columns and docs; search rows do not
 * hold these members), once. Returns how many datasets it changed.
 */
function settleTotals(db: Database.Database): number {
  const agg =
    "SELECT dataset_id, count(*) AS n, sum(size) AS size, min(time_start) AS ts, max(time_end) AS te FROM files WHERE status = 'present' GROUP BY dataset_id";
  const availability = "CASE WHEN d.availability = 'offline' THEN 'online' ELSE d.availability END";
  const differs =
    "d.size <> a.size OR d.file_count <> a.n OR d.time_start IS NOT a.ts OR d.time_end IS NOT a.te OR d.availability = 'offline'";
  return db.transaction(() => {
    db.prepare(
      `UPDATE dataset_docs SET doc = json_set(doc, '$.size', a.size, '$.fileCount', a.n, '$.timeCoverage.start', a.ts,` +
        ` '$.timeCoverage.end', a.te, '$.availability', ${availability})` +
        ` FROM datasets d JOIN (${agg}) a ON a.dataset_id = d.id` +
        ` WHERE dataset_docs.pk = d.pk AND a.ts IS NOT NULL AND json_type(doc, '$.timeCoverage') = 'object' AND (${differs})`,
    ).run();
    return db
      .prepare(
        `UPDATE datasets AS d SET size = a.size, file_count = a.n, time_start = a.ts, time_end = a.te, availability = ${availability}` +
          ` FROM (${agg}) a WHERE a.dataset_id = d.id AND a.ts IS NOT NULL AND d.time_start IS NOT NULL AND (${differs})`,
      )
      .run().changes;
  })();
}

async function main(): Promise<void> {
  const { state, path, cleanup } = await seededCatalog(DATASETS, FILES_PER);
  const tree = join(state, `tree-${PREFIX.replace(/\//g, '_') || 'all'}`);
  const marker = join(tree, '.laid-out');
  let t = performance.now();
  if (!existsSync(marker)) {
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    const made = layOut(path, tree);
    writeFileSync(marker, String(made));
    process.stdout.write(
      `laid out ${made} files under ${tree} (${fmt(made / ((performance.now() - t) / 1000), 0)} files/s)\n`,
    );
  }

  // An earlier run stopped mid-scan left its scan running, which the ingestor resumes at start,
  // beside what this run measures.
  const db = new Database(path);
  const abandoned = db
    .prepare(
      "UPDATE scans SET doc = json_set(doc, '$.state', 'failed', '$.message', 'abandoned by an interrupted benchmark')" +
        " WHERE json_extract(doc, '$.state') IN ('queued', 'running')",
    )
    .run().changes;
  if (abandoned) process.stdout.write(`marked ${abandoned} scans of an interrupted run failed\n`);
  t = performance.now();
  const settled = settleTotals(db);
  db.close();
  if (settled)
    process.stdout.write(
      `settled the totals of ${settled} seeded datasets with their files (${fmt((performance.now() - t) / 1000, 1)} s)\n`,
    );

  const config = loadConfig('ingestor', {
    STATE_DIR: state,
    DATA_ROOT: tree,
    LOG_LEVEL: 'silent',
    INGEST_CONCURRENCY: '4',
    // The checksum stage (whole-file reads, its own job after a scan) is not the rescan.
    CHECKSUM_ENABLED: 'false',
  });
  const app = await createApp(config, [IngestorModule]);
  await app.init();
  const storage = app.get(StorageService);
  const store = app.get<Store>(STORE);
  const scans = app.get(ScanService);

  // The two inputs of the scan's merge, each alone (and the whole records the scan no longer reads).
  t = performance.now();
  let listed = 0;
  for await (const _object of storage.list('data', PREFIX)) listed++;
  const listSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  let known = 0;
  for await (const batch of store.files.iterateStatesByRoot('data', PREFIX)) known += batch.length;
  const knownSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  let records = 0;
  for await (const batch of store.files.iterateByRoot('data', PREFIX)) records += batch.length;
  const recordSeconds = (performance.now() - t) / 1000;

  const rescans: { seconds: number; counts: object }[] = [];
  for (let run = 0; run < 2; run++) {
    t = performance.now();
    const scan = await scans.start(SYSTEM, 'data', PREFIX);
    await scans.drained();
    const seconds = (performance.now() - t) / 1000;
    const done = await scans.get(SYSTEM, scan.id);
    if (done.state !== 'completed') throw new Error(`rescan ${done.state}: ${done.message ?? ''}`);
    rescans.push({ seconds, counts: { ...done.counts, repaired: done.repaired ?? 0 } });
  }
  await app.close();

  process.stdout.write(
    [
      '',
      `rescan bench: store of ${DATASETS} datasets / ${DATASETS * FILES_PER} files, ${listed} unchanged files on disk under '${PREFIX}', sqlite, 2 cores`,
      ...rescans.map(
        (r, i) =>
          `  rescan ${i + 1}: ${fmt(listed / r.seconds, 0)} files/s (${fmt(r.seconds, 1)} s; ${JSON.stringify(r.counts)}) (goal ≥ 20000)`,
      ),
      `  listing alone: ${fmt(listed / listSeconds, 0)} files/s; catalog walk alone (iterateStatesByRoot, ${known} files): ${fmt(known / knownSeconds, 0)} files/s` +
        ` (whole records, iterateByRoot: ${fmt(records / recordSeconds, 0)} files/s)`,
      `  peak RSS ${fmt(peakRssMb(), 0)} MB`,
      '',
    ].join('\n'),
  );
  if (process.env.BENCH_KEEP_TREE !== '1') rmSync(tree, { recursive: true, force: true });
  cleanup();
}

void main();
