/**
 * Ingest benchmark: a scan of N small NetCDF-3 files (generated here) end to
 * end into the catalog (sqlite), with the header-reading cost and the catalog
 * write cost reported separately, against `ncdump -h` run per file in the
 * same run; RSS sampled through the scan to show memory stays flat.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/ingest.bench.ts [files]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SYSTEM } from '@climcat/core';
import { writeNetcdf3 } from '@climcat/netcdf';
import { createApp, loadConfig, StorageService } from '@climcat/platform';
import { FileIngestService } from '../apps/ingestor/src/files/file-ingest.service';
import { IngestorModule } from '../apps/ingestor/src/ingestor.module';
import { ScanService } from '../apps/ingestor/src/scans/scan.service';
import { CMIP5_TAS_VARIABLES, cmip5Globals, fmt } from './lib';

const FILES = Number(process.argv[2] ?? 10_000);
const PER_DATASET = 100;

async function generate(root: string): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const ds = Math.floor(i / PER_DATASET);
    const year = 1850 + (i % PER_DATASET);
    const ensemble = `r${1 + (ds % 10)}i1p1`;
    const model = `MODEL${Math.floor(ds / 10)}`;
    const dir = `cmip5/output1/INST/${model}/historical/mon/atmos/Amon/${ensemble}/v20120101/tas`;
    const rel = `${dir}/tas_Amon_${model}_historical_${ensemble}_${year}01-${year}12.nc`;
    mkdirSync(join(root, dir), { recursive: true });
    const days = Float64Array.from({ length: 12 }, (_, m) => (year - 1850) * 360 + m * 30 + 15);
    await writeNetcdf3(
      join(root, rel),
      {
        dimensions: [
          { name: 'time', length: 0, unlimited: true },
          { name: 'lat', length: 4 },
          { name: 'lon', length: 8 },
          { name: 'bnds', length: 2 },
        ],
        variables: CMIP5_TAS_VARIABLES,
        globalAttributes: cmip5Globals(model, 'mon'),
        numRecords: 12,
      },
      {
        time: days,
        lat: Float64Array.from([-67.5, -22.5, 22.5, 67.5]),
        lon: Float64Array.from({ length: 8 }, (_, k) => k * 45),
        tas: new Float32Array(12 * 32).fill(280),
      },
    );
    paths.push(rel);
  }
  return paths;
}

async function main(): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'climcat-bench-ingest-'));
  const data = join(state, 'data');
  process.stdout.write(`generating ${FILES} NetCDF-3 files under ${data}\n`);
  const paths = await generate(data);

  // Baseline: ncdump -h per file (a sample, extrapolated).
  const sample = paths.filter((_, i) => i % Math.max(1, Math.floor(FILES / 500)) === 0);
  let t = performance.now();
  for (const p of sample) execFileSync('ncdump', ['-h', join(data, p)], { stdio: 'ignore' });
  const ncdumpRate = sample.length / ((performance.now() - t) / 1000);

  const config = loadConfig('ingestor', {
    STATE_DIR: state,
    DATA_ROOT: data,
    LOG_LEVEL: 'silent',
    INGEST_CONCURRENCY: '4',
  });
  const app = await createApp(config, [IngestorModule]);
  await app.init();
  const files = app.get(FileIngestService);
  const storage = app.get(StorageService);

  // Header + CF + DRS only (what the scan reads), no catalog writes, same concurrency as the scan.
  t = performance.now();
  const pool = new Set<Promise<unknown>>();
  for await (const object of storage.list('data', '')) {
    const task: Promise<unknown> = files.inspect('data', object).finally(() => pool.delete(task));
    pool.add(task);
    if (pool.size >= 4) await Promise.race(pool);
  }
  await Promise.all(pool);
  const inspectSeconds = (performance.now() - t) / 1000;

  // Full scan end to end into the catalog, RSS sampled every 250 ms.
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss / 1e6), 250);
  const scans = app.get(ScanService);
  t = performance.now();
  const scan = await scans.start(SYSTEM, 'data', '');
  await scans.drained();
  const scanSeconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  const done = await scans.get(SYSTEM, scan.id);

  // Rescan of the unchanged tree (reads no file contents).
  t = performance.now();
  await scans.start(SYSTEM, 'data', '');
  await scans.drained();
  const rescanSeconds = (performance.now() - t) / 1000;
  await app.close();

  const scanRate = FILES / scanSeconds;
  const perFileWriteMs = ((scanSeconds - inspectSeconds) / FILES) * 1000;
  const quarter = Math.max(1, Math.floor(rss.length / 4));
  process.stdout.write(
    [
      '',
      `ingest bench: ${FILES} files in ${FILES / PER_DATASET} datasets, sqlite catalog, concurrency 4, 2 cores`,
      `  scan end to end: ${fmt(scanRate, 0)} files/s (${done.counts.new} new, ${done.counts.failed} failed)`,
      `  ncdump -h per file (baseline, ${sample.length} files): ${fmt(ncdumpRate, 0)} files/s`,
      `  ratio scan / ncdump -h: ${fmt(scanRate / ncdumpRate, 2)}× (goal ≥ 2)`,
      `  header+CF+DRS only: ${fmt(FILES / inspectSeconds, 0)} files/s; catalog write cost ≈ ${fmt(perFileWriteMs, 2)} ms/file (${fmt(Math.max(0, (scanSeconds - inspectSeconds) / scanSeconds) * 100, 0)}% of the scan)`,
      `  rescan of the unchanged tree: ${fmt(FILES / rescanSeconds, 0)} files/s`,
      `  RSS during scan: first quarter avg ${fmt(avg(rss.slice(0, quarter)), 0)} MB, last quarter avg ${fmt(avg(rss.slice(-quarter)), 0)} MB, max ${fmt(Math.max(...rss), 0)} MB`,
      '',
    ].join('\n'),
  );
  rmSync(state, { recursive: true, force: true });
}

function avg(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

void main();
