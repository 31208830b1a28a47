/**
 * `npm run bench`: every benchmark, each reporting ratios against a baseline
 * measured in the same run. Sizes can be lowered for a quick look:
 * BENCH_DATASETS, BENCH_FILES_PER_DATASET, BENCH_INGEST_FILES, BENCH_THREDDS_MB
 * (and BENCH_THREDDS_REPS, BENCH_THREDDS_STREAMS, BENCH_THREDDS_RSS_MB), BENCH_NCSS_MB
 * (and BENCH_NCSS_REPS, BENCH_NCSS_AGG_FILES, BENCH_NCSS_AGG_RECORDS), BENCH_SCRATCH_FILES,
 * BENCH_MONGO_DATASETS and BENCH_MONGO_FILES_PER_DATASET (the catalog query mix on the mongo
 * adapter against the MongoDB-wire test server, default 5000 × 2: its writes and scans grow
 * faster than the data, see bench/catalog-mongo.bench.ts for its other knobs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const runs: [string, string[]][] = [
  ['netcdf.bench.ts', []],
  ['ingest.bench.ts', [process.env.BENCH_INGEST_FILES ?? '10000']],
  ['catalog.bench.ts', [process.env.BENCH_DATASETS ?? '100000', process.env.BENCH_FILES_PER_DATASET ?? '10']],
  [
    'catalog-mongo.bench.ts',
    [process.env.BENCH_MONGO_DATASETS ?? '5000', process.env.BENCH_MONGO_FILES_PER_DATASET ?? '2'],
  ],
  ['thredds.bench.ts', [process.env.BENCH_THREDDS_MB ?? '320']],
  ['ncss.bench.ts', [process.env.BENCH_NCSS_MB ?? '320']],
  ['scratch.bench.ts', [process.env.BENCH_SCRATCH_FILES ?? '200000']],
];

let failed = 0;
for (const [file, args] of runs) {
  const path = join(__dirname, file);
  if (!existsSync(path)) continue;
  process.stdout.write(`\n=== ${file} ${args.join(' ')}\n`);
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', '-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', path, ...args],
    { stdio: 'inherit', cwd: join(__dirname, '..') },
  );
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
