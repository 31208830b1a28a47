/**
 * NCSS and whole-dataset aggregation benchmark on loopback against the
 * standalone app in this process, with every figure a ratio to a baseline
 * measured in the same run (repeated figures alternate target and baseline and
 * keep the median):
 *
 * - NCSS of a 10% region (61 × 91 of 192 × 288 cells) × all times of a generated
 *   NetCDF-3 file (float tas(time, lat, lon), ≥ 300 MB by default) against
 *   `ncks -d lat,66,126 -d lon,100,190` of the same file locally. Speed-up =
 *   ncks seconds / NCSS seconds (as in thredds.bench.ts), goal ≥ 1.5.
 * - A 30-file aggregation (one dataset, 30 consecutive files, ~1 GB in all):
 *   `.dds` cold (first request of a freshly started app on the scanned state: plan built from
 *   30 files) and warm;
 *   a one-point time series across all files, as NCSS `latitude/longitude`
 *   (`accept=csv` and `accept=netcdf`) and as an OPeNDAP hyperslab `tas[0:1:N-1][j][i]`,
 *   against `ncrcat` of the files then `ncks -d lat,j -d lon,i` locally; goal ≥ 2.
 *   `ncrcat -d lat,j,j -d lon,i,i` (one step, no concatenated copy) is shown for context.
 * - RSS while one NCSS response of the whole aggregation (~1 GB) is written, against idle RSS after a GC.
 *
 * Answers are read by curl processes that write them to a file (as ncks does), so the
 * client does not share the app's event loop; the RSS figure sends its answer to /dev/null.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/ncss.bench.ts [megabytes]
 *
 * Knobs: BENCH_NCSS_MB (single file size, default 320), BENCH_NCSS_REPS (default 3),
 * BENCH_NCSS_AGG_FILES (default 30), BENCH_NCSS_AGG_RECORDS (records per member file, default 720:
 * 30 × 720 × 84 × 144 floats ≈ 1.05 GB, the size of the RSS figure's answer),
 * BENCH_NCSS_ONLY=region (only the single-file region figure: no aggregation files written).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SYSTEM } from '@climcat/core';
import { Netcdf3Writer } from '@climcat/netcdf';
import { createApp, loadConfig } from '@climcat/platform';
import { CatalogModule } from '../apps/catalog/src/catalog.module';
import { IngestorModule } from '../apps/ingestor/src/ingestor.module';
import { ScanService } from '../apps/ingestor/src/scans/scan.service';
import { ScratchQuotaModule } from '../apps/scratch-quota/src/scratch-quota.module';
import { ThreddsProxyModule } from '../apps/thredds-proxy/src/thredds-proxy.module';
import { CMIP5_TAS_VARIABLES, cmip5Globals, fmt, alternateMedians, median } from './lib';

// Bench knobs are read here, not through libs/platform config: they are not product settings.
const MB = Number(process.argv[2] ?? process.env.BENCH_NCSS_MB ?? 320);
const REPS = Number(process.env.BENCH_NCSS_REPS ?? 3);
const AGG_FILES = Number(process.env.BENCH_NCSS_AGG_FILES ?? 30);
const AGG_RECORDS = Number(process.env.BENCH_NCSS_AGG_RECORDS ?? 720);
const REGION_ONLY = process.env.BENCH_NCSS_ONLY === 'region';
const KEY = 'bench-admin-key-0123456789';

interface Grid {
  lat: number;
  lon: number;
}
const BIG: Grid = { lat: 192, lon: 288 };
const AGG: Grid = { lat: 84, lon: 144 };
const BIG_TIMES = Math.ceil((MB * 1e6) / (BIG.lat * BIG.lon * 4));
/** The 10% region of the single file, as indices (ncks) and as the box of their cell centres (NCSS). */
const REGION = { lat: [66, 126], lon: [100, 190] } as const;
/** The aggregation's point, as indices and as its cell centre. */
const POINT = { j: 60, i: 37 };

const latOf = (g: Grid, j: number) => -90 + (j + 0.5) * (180 / g.lat);
const lonOf = (g: Grid, i: number) => i * (360 / g.lon);

const drs = (ensemble: string, from: number, to: number) =>
  `cmip5/output1/INST/MODEL/historical/day/atmos/day/${ensemble}/v20120101/tas/` +
  `tas_day_MODEL_historical_${ensemble}_${String(from).padStart(4, '0')}0101-${String(to).padStart(4, '0')}1230.nc`;

/** tas(time, lat, lon) in the 360_day calendar, records `first`.. `first + times - 1` (days). */
async function writeTas(file: string, g: Grid, times: number, first: number): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const writer = await Netcdf3Writer.create(file, {
    dimensions: [
      { name: 'time', length: 0, unlimited: true },
      { name: 'lat', length: g.lat },
      { name: 'lon', length: g.lon },
    ],
    variables: CMIP5_TAS_VARIABLES,
    globalAttributes: cmip5Globals('MODEL', 'day'),
    numRecords: times,
  });
  await writer.write(
    'lat',
    Float64Array.from({ length: g.lat }, (_, j) => latOf(g, j)),
  );
  await writer.completeSlot();
  await writer.write(
    'lon',
    Float64Array.from({ length: g.lon }, (_, i) => lonOf(g, i)),
  );
  await writer.completeSlot();
  const base = new Float32Array(g.lat * g.lon);
  let seed = 1;
  for (let j = 0; j < g.lat; j++)
    for (let i = 0; i < g.lon; i++) {
      seed = (seed * 16807) % 2147483647;
      base[j * g.lon + i] =
        273 + 30 * Math.cos((j / g.lat - 0.5) * Math.PI) + 3 * Math.sin(i / 20) + seed / 2147483647;
    }
  const record = new Float32Array(g.lat * g.lon);
  for (let r = 0; r < times; r++) {
    const season = 10 * Math.sin((2 * Math.PI * (first + r)) / 360);
    for (let k = 0; k < record.length; k++) record[k] = base[k]! + season;
    await writer.write('time', Float64Array.of(first + r + 0.5), r);
    await writer.write('tas', record, r);
  }
  await writer.close();
}

/** GETs `url` with curl into `out` (or /dev/null); seconds and bytes. */
function curl(url: string, out = '/dev/null'): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-gsS', '-o', out, '-w', '%{http_code} %{size_download}', '-H', `Authorization: Bearer ${KEY}`, url],
      (error, stdout) => {
        const [code, size] = stdout.split(' ');
        if (error || code !== '200') reject(error ?? new Error(`${url}: ${code}`));
        else resolve({ bytes: Number(size), seconds: (performance.now() - t) / 1000 });
      },
    );
  });
}

/** Wall seconds of one NCO command; `work` is its working directory. */
function nco(tool: string, args: string[], work: string): number {
  const t = performance.now();
  execFileSync(tool, ['-O', ...args], { cwd: work, stdio: 'ignore' });
  return (performance.now() - t) / 1000;
}

/** Alternates the two measures REPS times; medians of their results (bench/lib.ts `alternate`). */
const alternate = (a: () => Promise<number> | number, b: () => Promise<number> | number) =>
  alternateMedians(REPS, a, b);

/** `dim = n` lines of `ncdump -h`, to check that both sides selected the same cells. */
function dims(file: string): Record<string, number> {
  const head = execFileSync('ncdump', ['-h', file], { encoding: 'utf8' });
  const out: Record<string, number> = {};
  for (const m of head.matchAll(/^\s+(\w+) = (?:UNLIMITED ; \/\/ \()?(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function same(label: string, a: Record<string, number>, b: Record<string, number>): void {
  const pick = (d: Record<string, number>) => JSON.stringify({ time: d.time, lat: d.lat, lon: d.lon });
  if (pick(a) !== pick(b)) throw new Error(`${label}: ours ${pick(a)} but NCO ${pick(b)}`);
}

interface Row {
  figure: string;
  value: string;
  goal: string;
  met?: boolean;
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const state = mkdtempSync(join(tmpdir(), 'climcat-bench-ncss-'));
  const data = join(state, 'data');
  const work = join(state, 'work');
  mkdirSync(work);
  const bigRel = drs('r1i1p1', 1850, 1850 + Math.ceil(BIG_TIMES / 360) - 1);
  const big = join(data, bigRel);
  let t = performance.now();
  await writeTas(big, BIG, BIG_TIMES, 0);
  process.stdout.write(
    `wrote ${fmt(statSync(big).size / 1e6, 0)} MB tas(${BIG_TIMES}, ${BIG.lat}, ${BIG.lon}) in ${fmt((performance.now() - t) / 1000)} s\n`,
  );
  const members: string[] = [];
  t = performance.now();
  // Whole years per file name (the default 720 records are 2 years of 360 days).
  const years = Math.max(1, Math.ceil(AGG_RECORDS / 360));
  for (let k = 0; k < (REGION_ONLY ? 0 : AGG_FILES); k++) {
    const from = 1850 + k * years;
    const file = join(data, drs('r2i1p1', from, from + years - 1));
    await writeTas(file, AGG, AGG_RECORDS, k * AGG_RECORDS);
    members.push(file);
  }
  const aggBytes = members.reduce((a, f) => a + statSync(f).size, 0);
  const aggTimes = AGG_FILES * AGG_RECORDS;
  if (!REGION_ONLY)
    process.stdout.write(
      `wrote ${AGG_FILES} files, ${fmt(aggBytes / 1e6, 0)} MB, tas(${aggTimes}, ${AGG.lat}, ${AGG.lon}) in ${fmt((performance.now() - t) / 1000)} s\n`,
    );

  const config = loadConfig('standalone', {
    STATE_DIR: state,
    DATA_ROOT: data,
    LOG_LEVEL: process.env.BENCH_NCSS_LOG ?? 'silent',
    ADMIN_API_KEY: KEY,
    SCAN_ON_BOOT: 'false',
    DEMO_DATA: 'false',
    THREDDS_BIN_LIMIT: String(Math.max(2e9, aggBytes * 1.1)),
    // The scan's checksum stage would hash the files (50 MB/s, in this process) while the figures are measured.
    CHECKSUM_ENABLED: 'false',
  });
  const modules = [CatalogModule, IngestorModule, ThreddsProxyModule, ScratchQuotaModule];
  const scanning = await createApp(config, modules);
  await scanning.init();
  const scans = scanning.get(ScanService);
  const scan = await scans.start(SYSTEM, 'data', '');
  await scans.drained();
  process.stdout.write(`scan: ${JSON.stringify((await scans.get(SYSTEM, scan.id)).counts)}\n`);
  // The scan plans the aggregation (for its warnings); a fresh process on the same state has
  // nothing cached, so its first .dds is cold.
  await scanning.close();
  const app = await createApp(config, modules);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const rows: Row[] = [];
  const row = (figure: string, value: number, unit: string, goal: string, met?: boolean) =>
    rows.push({ figure, value: `${fmt(value, 2)}${unit}`, goal, met });

  // The aggregation figures (skipped with BENCH_NCSS_ONLY=region); .dds cold must come first.
  const aggregation = async () => {
    const list = (await (
      await fetch(`${base}/api/v1/datasets?limit=10`, { headers: { Authorization: `Bearer ${KEY}` } })
    ).json()) as { items: { id: string }[] };
    const aggId = list.items.find((d) => d.id.includes('.r2i1p1.'))?.id;
    if (!aggId) throw new Error(`no r2i1p1 dataset in ${JSON.stringify(list.items.map((d) => d.id))}`);
    // Aggregation .dds: cold first (before anything touched its files through the app), then warm.
    const dap = `${base}/thredds/dodsC/datasets/${encodeURIComponent(aggId)}`;
    const ddsSec = async () => (await curl(`${dap}.dds`)).seconds;
    const ddsCold = await ddsSec();
    const warm: number[] = [];
    for (let i = 0; i < 5 + 20; i++) {
      const s = await ddsSec();
      if (i >= 5) warm.push(s);
    }
    const ddsWarm = median(warm);
    const ddsText = readFileSync(
      (await curl(`${dap}.dds`, join(work, 'agg.dds')), join(work, 'agg.dds')),
      'utf8',
    );
    if (!ddsText.includes(`tas[time = ${aggTimes}]`))
      throw new Error(`unexpected DDS: ${ddsText.slice(0, 400)}`);
    process.stdout.write(
      `aggregation .dds (${AGG_FILES} files, curl): cold ${fmt(ddsCold * 1000, 1)} ms, warm p50 ${fmt(ddsWarm * 1000, 1)} ms\n`,
    );
    return { aggId, dap, ddsCold, ddsWarm };
  };
  const aggregationRest = async ({
    aggId,
    dap,
    ddsCold,
    ddsWarm,
  }: Awaited<ReturnType<typeof aggregation>>) => {
    // One point across all files: NCSS point (csv, netcdf), OPeNDAP hyperslab; vs ncrcat + ncks.
    const lat = latOf(AGG, POINT.j);
    const lon = lonOf(AGG, POINT.i);
    const ncssPoint = `${base}/thredds/ncss/grid/datasets/${encodeURIComponent(aggId)}?var=tas&latitude=${lat}&longitude=${lon}`;
    const hyperslab = `${dap}.dods?tas[0:1:${aggTimes - 1}][${POINT.j}][${POINT.i}]`;
    const localSeries = () =>
      nco('ncrcat', [...members, 'all.nc'], work) +
      nco('ncks', ['-d', `lat,${POINT.j}`, '-d', `lon,${POINT.i}`, 'all.nc', 'point-ncks.nc'], work);
    const [csvSec, ncoSec] = await alternate(
      async () => (await curl(`${ncssPoint}&accept=csv`, join(work, 'point.csv'))).seconds,
      localSeries,
    );
    const csvLines = readFileSync(join(work, 'point.csv'), 'utf8').trim().split('\n').length;
    if (csvLines !== aggTimes + 1) throw new Error(`point CSV has ${csvLines} lines, not ${aggTimes + 1}`);
    const [pointNcSec, ncoSec2] = await alternate(
      async () => (await curl(`${ncssPoint}&accept=netcdf`, join(work, 'point-ncss.nc'))).seconds,
      localSeries,
    );
    same('point', dims(join(work, 'point-ncss.nc')), dims(join(work, 'point-ncks.nc')));
    const [dodsSec, ncoSec3] = await alternate(async () => (await curl(hyperslab)).seconds, localSeries);
    rmSync(join(work, 'all.nc'), { force: true });
    const [dodsSec2, ncrcatHyperSec] = await alternate(
      async () => (await curl(hyperslab)).seconds,
      () =>
        nco(
          'ncrcat',
          ['-d', `lat,${POINT.j},${POINT.j}`, '-d', `lon,${POINT.i},${POINT.i}`, ...members, 'p.nc'],
          work,
        ),
    );
    process.stdout.write(
      `point series (${aggTimes} times, ${AGG_FILES} files): NCSS csv ${fmt(csvSec, 2)} s, NCSS netcdf ${fmt(pointNcSec, 2)} s, ` +
        `.dods hyperslab ${fmt(dodsSec, 2)} s / ${fmt(dodsSec2, 2)} s; ncrcat + ncks ${fmt(ncoSec, 2)} / ${fmt(ncoSec2, 2)} / ${fmt(ncoSec3, 2)} s; ` +
        `ncrcat -d (one step) ${fmt(ncrcatHyperSec, 2)} s\n`,
    );

    // RSS while one NCSS answer of the whole aggregation is written (~1 GB), client curl to /dev/null.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const idleRss = process.memoryUsage().rss / 1e6;
    let maxRss = idleRss;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss / 1e6)), 50);
    const whole = await curl(
      `${base}/thredds/ncss/grid/datasets/${encodeURIComponent(aggId)}?var=tas&accept=netcdf`,
    );
    clearInterval(sampler);
    maxRss = Math.max(maxRss, process.memoryUsage().rss / 1e6);
    process.stdout.write(
      `NCSS whole aggregation: ${fmt(whole.bytes / 1e9, 2)} GB in ${fmt(whole.seconds, 1)} s (${fmt(whole.bytes / whole.seconds / 1e6, 0)} MB/s); RSS idle ${fmt(idleRss, 0)} MB, max ${fmt(maxRss, 0)} MB\n`,
    );

    row(`aggregation .dds cold / warm p50 (${AGG_FILES} files)`, ddsCold / ddsWarm, '×', '—');
    row(
      'point series NCSS csv vs ncrcat + ncks (speed-up)',
      ncoSec / csvSec,
      '×',
      '≥ 2',
      ncoSec / csvSec >= 2,
    );
    row(
      'point series NCSS netcdf vs ncrcat + ncks (speed-up)',
      ncoSec2 / pointNcSec,
      '×',
      '≥ 2',
      ncoSec2 / pointNcSec >= 2,
    );
    row(
      'point series .dods hyperslab vs ncrcat + ncks (speed-up)',
      ncoSec3 / dodsSec,
      '×',
      '≥ 2',
      ncoSec3 / dodsSec >= 2,
    );
    row('point series .dods hyperslab vs ncrcat -d one step (context)', ncrcatHyperSec / dodsSec2, '×', '—');
    row(
      `RSS writing one ${fmt(whole.bytes / 1e9, 2)} GB NCSS answer − idle (${fmt(idleRss, 0)} MB)`,
      maxRss - idleRss,
      ' MB',
      '< 128 MB',
      maxRss - idleRss < 128,
    );
  };
  const dds = REGION_ONLY ? undefined : await aggregation();

  // NCSS 10% region × all times vs ncks -d.
  const north = latOf(BIG, REGION.lat[1]);
  const south = latOf(BIG, REGION.lat[0]);
  const west = lonOf(BIG, REGION.lon[0]);
  const east = lonOf(BIG, REGION.lon[1]);
  const region = `${base}/thredds/ncss/grid/data/${bigRel}?var=tas&north=${north}&south=${south}&west=${west}&east=${east}&accept=netcdf`;
  const regionOut = join(work, 'region-ncss.nc');
  const [regionSec, ncksRegionSec] = await alternate(
    async () => (await curl(region, regionOut)).seconds,
    () =>
      nco(
        'ncks',
        [
          '-d',
          `lat,${REGION.lat[0]},${REGION.lat[1]}`,
          '-d',
          `lon,${REGION.lon[0]},${REGION.lon[1]}`,
          big,
          'region-ncks.nc',
        ],
        work,
      ),
  );
  same('10% region', dims(regionOut), dims(join(work, 'region-ncks.nc')));
  const regionBytes = statSync(regionOut).size;
  process.stdout.write(
    `10% region (${fmt(regionBytes / 1e6, 0)} MB out): NCSS ${fmt(regionSec, 2)} s, ncks ${fmt(ncksRegionSec, 2)} s\n`,
  );
  rmSync(join(work, 'region-ncks.nc'));

  row(
    'NCSS 10% region × all times vs ncks -d (speed-up)',
    ncksRegionSec / regionSec,
    '×',
    '≥ 1.5',
    ncksRegionSec / regionSec >= 1.5,
  );
  if (dds) await aggregationRest(dds);

  await app.close();
  const load1 = loadavg();
  const w = Math.max(...rows.map((r) => r.figure.length));
  process.stdout.write(
    [
      '',
      `ncss bench: NetCDF-3 ${fmt(statSync(big).size / 1e6, 0)} MB single file; aggregation ${AGG_FILES} files, ${fmt(aggBytes / 1e6, 0)} MB; ` +
        `curl client; ${REPS} reps (median); load average ${load0.map((l) => fmt(l, 2)).join(' ')} at start, ${load1.map((l) => fmt(l, 2)).join(' ')} at end`,
      ...(dds
        ? [`  .dds cold ${fmt(dds.ddsCold * 1000, 1)} ms, warm p50 ${fmt(dds.ddsWarm * 1000, 1)} ms`]
        : []),
      ...rows.map(
        (r) =>
          `  ${r.figure.padEnd(w)}  ${r.value.padStart(10)}  goal ${r.goal.padEnd(8)}  ${r.met === undefined ? '' : r.met ? 'met' : 'NOT met'}`,
      ),
      '',
    ].join('\n'),
  );
  rmSync(state, { recursive: true, force: true });
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});
