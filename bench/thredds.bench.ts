/**
 * OPeNDAP benchmark on loopback against the standalone app in this process:
 * a generated NetCDF-3 file (float tas(time, lat, lon), ≥ 300 MB by default)
 * and a deflated NetCDF-4 copy (`nccopy -k nc4 -d 1`), both catalogued by a
 * scan, then `.dods` throughput against a raw sequential read of the file and
 * against `ncks` run locally, `.dds` cold vs warm, 16 concurrent streams
 * (alone for their aggregate, then again with catalog get-by-id calls for
 * the API's latency meanwhile) and RSS while streaming 1 GB.
 * Every figure is a ratio to a baseline measured in the same run; repeated
 * figures alternate target and baseline and keep the median.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/thredds.bench.ts [megabytes]
 *
 * Knobs: BENCH_THREDDS_MB (file size, default 320), BENCH_THREDDS_REPS (default 3),
 * BENCH_THREDDS_STREAMS (default 16), BENCH_THREDDS_RSS_MB (bytes streamed for RSS, default 1000),
 * BENCH_THREDDS_CLIENT=in-process (read the .dods and fileServer answers in this process instead of
 * with curl processes: the client then shares the server's event loop and CPU, which a real client does not),
 * BENCH_THREDDS_ONLY=dds (stop after the .dds figures), BENCH_THREDDS_ONLY=dods (NetCDF-3 .dods figures
 * only: no NetCDF-4 copy, no .dds), BENCH_THREDDS_CACHE_FILES (THREDDS_CACHE_FILES; 0 = no cache).
 *
 * Baselines: "raw read" is the same file read sequentially in this process through
 * fs.createReadStream (1 MiB highWaterMark), counted and dropped, as a local client
 * would read it; "fileServer" (printed, no goal) is a GET of the whole file from
 * /thredds/fileServer over the same loopback client; "bare Node HTTP server" (printed, no
 * goal) sends the same file from a server with nothing but positioned reads into reused buffers
 * and socket writes, read by the same client: the ceiling of any answer over HTTP in Node here,
 * as a ratio to a raw read measured beside it; "sendfile server" (printed, no goal) sends it with
 * python3's os.sendfile (zero copy, which Node lacks): the ceiling of any server with this client.
 * The app runs with THREDDS_MAX_CONCURRENT_PER_CALLER = max(4, streams): every request
 * is the same admin caller, and the default 4 would answer 12 of the 16 streams 429.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, createServer, get as httpGet } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SYSTEM } from '@climcat/core';
import { Netcdf3Writer } from '@climcat/netcdf';
import { AuthService, createApp, DatasetCacheService, loadConfig } from '@climcat/platform';
import { CatalogModule } from '../apps/catalog/src/catalog.module';
import { IngestorModule } from '../apps/ingestor/src/ingestor.module';
import { ScanService } from '../apps/ingestor/src/scans/scan.service';
import { ScratchQuotaModule } from '../apps/scratch-quota/src/scratch-quota.module';
import { ThreddsPathService } from '../apps/thredds-proxy/src/access/thredds-path.service';
import { ThreddsProxyModule } from '../apps/thredds-proxy/src/thredds-proxy.module';
import {
  CMIP5_TAS_VARIABLES,
  cmip5Globals,
  fmt,
  latencies,
  percentile,
  alternateMedians,
  median,
} from './lib';

// Bench knobs are read here, not through libs/platform config: they are not product settings.
const MB = Number(process.argv[2] ?? process.env.BENCH_THREDDS_MB ?? 320);
const REPS = Number(process.env.BENCH_THREDDS_REPS ?? 3);
const STREAMS = Number(process.env.BENCH_THREDDS_STREAMS ?? 16);
const RSS_MB = Number(process.env.BENCH_THREDDS_RSS_MB ?? 1000);
const ONLY_DDS = process.env.BENCH_THREDDS_ONLY === 'dds';
const ONLY_DODS = process.env.BENCH_THREDDS_ONLY === 'dods';
const CACHE_FILES = process.env.BENCH_THREDDS_CACHE_FILES;
const LAT = 192;
const LON = 288;
const RECORD_BYTES = LAT * LON * 4;
const TIMES = Math.ceil((MB * 1e6) / RECORD_BYTES);
const KEY = 'bench-admin-key-0123456789';
const DRS = (ensemble: string) =>
  `cmip5/output1/INST/MODEL/historical/day/atmos/day/${ensemble}/v20120101/tas/tas_day_MODEL_historical_${ensemble}_18500101-18531230.nc`;

async function writeArchive(file: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const writer = await Netcdf3Writer.create(file, {
    dimensions: [
      { name: 'time', length: 0, unlimited: true },
      { name: 'lat', length: LAT },
      { name: 'lon', length: LON },
    ],
    variables: CMIP5_TAS_VARIABLES,
    globalAttributes: cmip5Globals('MODEL', 'day'),
    numRecords: TIMES,
  });
  await writer.write(
    'lat',
    Float64Array.from({ length: LAT }, (_, i) => -90 + (i + 0.5) * (180 / LAT)),
  );
  await writer.completeSlot();
  await writer.write(
    'lon',
    Float64Array.from({ length: LON }, (_, i) => i * (360 / LON)),
  );
  await writer.completeSlot();
  // A smooth field with a little noise, so that deflate sees something like real data.
  const base = new Float32Array(LAT * LON);
  let seed = 1;
  for (let j = 0; j < LAT; j++)
    for (let i = 0; i < LON; i++) {
      seed = (seed * 16807) % 2147483647;
      base[j * LON + i] =
        273 + 30 * Math.cos((j / LAT - 0.5) * Math.PI) + 3 * Math.sin(i / 20) + seed / 2147483647;
    }
  const record = new Float32Array(LAT * LON);
  for (let r = 0; r < TIMES; r++) {
    const season = 10 * Math.sin((2 * Math.PI * r) / 360);
    for (let k = 0; k < record.length; k++) record[k] = base[k]! + season;
    await writer.write('time', Float64Array.of(r + 0.5), r);
    await writer.write('tas', record, r);
  }
  await writer.close();
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

// .dods and fileServer answers read by curl processes, so the client does not share the app's event loop
// (BENCH_THREDDS_CLIENT=in-process for the in-process client).
const CURL = process.env.BENCH_THREDDS_CLIENT !== 'in-process';

function curl(url: string): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      [
        '-gsS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{size_download}',
        '-H',
        `Authorization: Bearer ${KEY}`,
        url,
      ],
      (error, stdout) => {
        const [code, size] = stdout.split(' ');
        if (error || code !== '200') reject(error ?? new Error(`${url}: ${code}`));
        else resolve({ bytes: Number(size), seconds: (performance.now() - t) / 1000 });
      },
    );
  });
}

/** GETs `url` and counts the body without keeping it; returns bytes and seconds. */
function stream(url: string): Promise<{ bytes: number; seconds: number }> {
  return CURL ? curl(url) : inProcess(url);
}

function inProcess(url: string): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    httpGet(url, { agent, headers: { Authorization: `Bearer ${KEY}` } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
        else resolve({ bytes, seconds: (performance.now() - t) / 1000 });
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

/**
 * The transport's ceiling on this machine: a bare Node HTTP server that sends
 * the file with 2 MiB positioned reads into two reused buffers, each
 * written to the socket before it is read into again (no framework, no
 * format), read by the same client as the .dods answers.
 */
async function bareFileServer(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const size = statSync(file).size;
  const server = createServer((req, res) => {
    void (async () => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
      const handle = await open(file, 'r');
      try {
        const buffers = [Buffer.allocUnsafeSlow(2 << 20), Buffer.allocUnsafeSlow(2 << 20)];
        const written: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
        for (let offset = 0, i = 0; offset < size; i ^= 1) {
          await written[i];
          const { bytesRead } = await handle.read(buffers[i]!, 0, Math.min(2 << 20, size - offset), offset);
          offset += bytesRead;
          written[i] = new Promise((r) => res.write(buffers[i]!.subarray(0, bytesRead), r));
        }
        await Promise.all(written);
        res.end();
      } finally {
        await handle.close();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * The ceiling of any server on this machine: python3's `os.sendfile` (zero copy: the kernel
 * moves page-cache pages to the socket, no copy through the server's memory), read by the
 * same client. What no Node server can reach (Node has no sendfile), shown beside the bare
 * Node server so the transport's share of the gap to a raw read is visible.
 */
async function sendfileServer(file: string): Promise<{ url: string; close: () => Promise<void> }> {
  const script = [
    'import http.server, os, sys',
    'path = sys.argv[1]',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    protocol_version = "HTTP/1.1"',
    '    def do_GET(self):',
    '        size = os.path.getsize(path)',
    '        self.send_response(200)',
    '        self.send_header("Content-Length", str(size))',
    '        self.end_headers()',
    '        self.wfile.flush()',
    '        with open(path, "rb") as f:',
    '            sent = 0',
    '            while sent < size:',
    '                sent += os.sendfile(self.connection.fileno(), f.fileno(), sent, size - sent)',
    '    def log_message(self, *args):',
    '        pass',
    'server = http.server.HTTPServer(("127.0.0.1", 0), H)',
    'print(server.server_address[1], flush=True)',
    'server.serve_forever()',
  ].join('\n');
  const child = spawn('python3', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      child.kill();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function rawRead(file: string): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }))
    bytes += (chunk as Buffer).length;
  return { bytes, seconds: (performance.now() - t) / 1000 };
}

/** Wall seconds of `ncks args` in a fresh temporary working directory (output removed after). */
function ncks(args: string[]): number {
  const cwd = mkdtempSync(join(tmpdir(), 'climcat-bench-ncks-'));
  try {
    const t = performance.now();
    execFileSync('ncks', ['-O', ...args, 'out.nc'], { cwd, stdio: 'ignore' });
    return (performance.now() - t) / 1000;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** Alternates the two measures REPS times; medians of their results (bench/lib.ts `alternate`). */
const alternate = (a: () => Promise<number> | number, b: () => Promise<number> | number) =>
  alternateMedians(REPS, a, b);

interface Row {
  figure: string;
  value: string;
  goal: string;
  /** Undefined for figures shown for context, without a goal. */
  met?: boolean;
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? NaN;
  const state = mkdtempSync(join(tmpdir(), 'climcat-bench-thredds-'));
  const data = join(state, 'data');
  const nc3Rel = DRS('r1i1p1');
  const nc4Rel = DRS('r2i1p1');
  const nc3 = join(data, nc3Rel);
  const nc4 = join(data, nc4Rel);
  let t = performance.now();
  await writeArchive(nc3);
  process.stdout.write(
    `wrote ${nc3} (${fmt(statSync(nc3).size / 1e6, 0)} MB, tas(${TIMES}, ${LAT}, ${LON})) in ${fmt((performance.now() - t) / 1000)} s\n`,
  );
  if (!ONLY_DODS) {
    mkdirSync(dirname(nc4), { recursive: true });
    t = performance.now();
    execFileSync('nccopy', ['-k', 'nc4', '-d', '1', nc3, nc4]);
    process.stdout.write(
      `nccopy -k nc4 -d 1: ${fmt(statSync(nc4).size / 1e6, 0)} MB in ${fmt((performance.now() - t) / 1000)} s\n`,
    );
  }

  const config = loadConfig('standalone', {
    STATE_DIR: state,
    DATA_ROOT: data,
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: KEY,
    SCAN_ON_BOOT: 'false',
    DEMO_DATA: 'false',
    THREDDS_BIN_LIMIT: String(Math.max(500e6, MB * 2e6)),
    // BENCH_THREDDS_CACHE_FILES=0: the same run without the opened-file cache, for comparison.
    ...(CACHE_FILES !== undefined ? { THREDDS_CACHE_FILES: CACHE_FILES } : {}),
    // One caller opens all the concurrent streams; the product default (4) would refuse the rest with 429.
    THREDDS_MAX_CONCURRENT_PER_CALLER: String(Math.max(4, STREAMS)),
  });
  const app = await createApp(config, [
    CatalogModule,
    IngestorModule,
    ThreddsProxyModule,
    ScratchQuotaModule,
  ]);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const scans = app.get(ScanService);
  const scan = await scans.start(SYSTEM, 'data', '');
  await scans.drained();
  const scanned = await scans.get(SYSTEM, scan.id);
  process.stdout.write(`scan: ${JSON.stringify(scanned.counts)}\n`);
  (globalThis as { gc?: () => void }).gc?.();
  const startRss = process.memoryUsage().rss / 1e6;
  const getJson = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const list = (await getJson('/api/v1/datasets?limit=10')) as { items: { id: string }[] };
  const datasetId = list.items[0]!.id;
  const byId = () => getJson(`/api/v1/datasets/${encodeURIComponent(datasetId)}`);

  const dap3 = `${base}/thredds/dodsC/data/${nc3Rel}`;
  const dap4 = `${base}/thredds/dodsC/data/${nc4Rel}`;
  const varBytes = TIMES * RECORD_BYTES;
  const rows: Row[] = [];
  const row = (figure: string, value: number, unit: string, goal: string, met?: boolean) =>
    rows.push({ figure, value: `${fmt(value, 2)}${unit}`, goal, met });

  let dds3 = { cold: NaN, warm: NaN };
  let dds4 = { cold: NaN, warm: NaN };
  if (!ONLY_DODS) {
    // .dds cold (first request for each file since start) vs warm, always in-process (curl's start-up would swamp it).
    const ddsTimes = async (url: string) => {
      const t0 = performance.now();
      await inProcess(`${url}.dds`);
      const cold = performance.now() - t0;
      const warm = await latencies(50, () => inProcess(`${url}.dds`), 5);
      return { cold, warm: warm.p50 };
    };
    dds3 = await ddsTimes(dap3);
    dds4 = await ddsTimes(dap4);
    process.stdout.write(
      `.dds NetCDF-3 cold ${fmt(dds3.cold, 2)} ms, warm p50 ${fmt(dds3.warm, 2)} ms; NetCDF-4 cold ${fmt(dds4.cold, 2)} ms, warm p50 ${fmt(dds4.warm, 2)} ms\n`,
    );
    // In a warm process, misses and hits alternated: a miss follows a touch (new mtime = new file
    // version, opened again), without the first request's one-time costs (JIT, worker start).
    const missAndHit = async (url: string, file: string) => {
      let touch = Date.now() / 1000;
      const misses: number[] = [];
      const hits: number[] = [];
      for (let i = 0; i < 5 + REPS * 10; i++) {
        touch += 1;
        utimesSync(file, touch, touch);
        let t = performance.now();
        await inProcess(`${url}.dds`);
        if (i >= 5) misses.push(performance.now() - t);
        t = performance.now();
        await inProcess(`${url}.dds`);
        if (i >= 5) hits.push(performance.now() - t);
      }
      return { miss: median(misses), hit: median(hits) };
    };
    const mh3 = await missAndHit(dap3, nc3);
    const mh4 = await missAndHit(dap4, nc4);
    // What a hit still does: the access check (catalog reads) and the freshness stat.
    const caller = await app.get(AuthService).authenticate(`Bearer ${KEY}`);
    const paths = app.get(ThreddsPathService);
    const datasets = app.get(DatasetCacheService);
    const access = await latencies(200, () => paths.resolve(caller, `data/${nc3Rel}`), 20);
    const fresh = await latencies(200, () => datasets.keyOf({ root: 'data', path: nc3Rel }), 20);
    process.stdout.write(
      `.dds in a warm process p50: NetCDF-3 miss ${fmt(mh3.miss, 2)} ms, hit ${fmt(mh3.hit, 2)} ms; ` +
        `NetCDF-4 miss ${fmt(mh4.miss, 2)} ms, hit ${fmt(mh4.hit, 2)} ms; ` +
        `in a hit: access check p50 ${fmt(access.p50, 3)} ms, freshness stat p50 ${fmt(fresh.p50, 3)} ms; ` +
        `cache ${JSON.stringify(datasets.cache.stats())}\n`,
    );
    if (ONLY_DDS) {
      await app.close();
      agent.destroy();
      process.stdout.write(
        [
          '',
          `thredds bench (.dds only): NetCDF-3 ${fmt(statSync(nc3).size / 1e6, 0)} MB, NetCDF-4 ${fmt(statSync(nc4).size / 1e6, 0)} MB`,
          `  .dds NetCDF-3 cold / warm p50  ${fmt(dds3.cold / dds3.warm, 2)}×  goal ≥ 10  ${dds3.cold / dds3.warm >= 10 ? 'met' : 'NOT met'}`,
          `  .dds NetCDF-4 cold / warm p50  ${fmt(dds4.cold / dds4.warm, 2)}×  goal ≥ 10  ${dds4.cold / dds4.warm >= 10 ? 'met' : 'NOT met'}`,
          `  .dds NetCDF-3 miss / hit p50 (warm process)  ${fmt(mh3.miss / mh3.hit, 2)}×`,
          `  .dds NetCDF-4 miss / hit p50 (warm process)  ${fmt(mh4.miss / mh4.hit, 2)}×`,
          '',
        ].join('\n'),
      );
      rmSync(state, { recursive: true, force: true });
      return;
    }
  }

  // Full variable vs raw sequential read of the file (MB/s of bytes delivered).
  const full3 = `${dap3}.dods?tas`;
  const rate = (r: { bytes: number; seconds: number }) => r.bytes / r.seconds / 1e6;
  const [dodsRate, rawRate] = await alternate(
    async () => rate(await stream(full3)),
    async () => rate(await rawRead(nc3)),
  );
  // The same bytes' worth of plain file over the same HTTP path: how much of the gap is transport.
  const [dodsRate2, fileServerRate] = await alternate(
    async () => rate(await stream(full3)),
    async () => rate(await stream(`${base}/thredds/fileServer/data/${nc3Rel}`)),
  );
  // The ceiling of any HTTP answer here: the file from a bare Node server, against the raw read again.
  const bare = await bareFileServer(nc3);
  const [bareRate, rawRate2] = await alternate(
    async () => rate(await stream(bare.url)),
    async () => rate(await rawRead(nc3)),
  );
  await bare.close();
  const zeroCopy = await sendfileServer(nc3);
  const [sendfileRate, rawRate3] = await alternate(
    async () => rate(await stream(zeroCopy.url)),
    async () => rate(await rawRead(nc3)),
  );
  await zeroCopy.close();
  process.stdout.write(
    `.dods tas ${fmt(dodsRate, 0)} MB/s, raw read ${fmt(rawRate, 0)} MB/s; .dods again ${fmt(dodsRate2, 0)} MB/s, fileServer GET of the file ${fmt(fileServerRate, 0)} MB/s; ` +
      `bare Node HTTP server ${fmt(bareRate, 0)} MB/s, raw read again ${fmt(rawRate2, 0)} MB/s; ` +
      `sendfile server ${fmt(sendfileRate, 0)} MB/s, raw read again ${fmt(rawRate3, 0)} MB/s\n`,
  );

  // Full variable vs ncks -v tas locally (seconds for the same variable).
  const [dodsSec, ncksSec] = await alternate(
    async () => (await stream(full3)).seconds,
    () => ncks(['-v', 'tas', nc3]),
  );
  // 10% of the time steps (stride 10).
  const [strideSec, ncksStrideSec] = await alternate(
    async () => (await stream(`${dap3}.dods?tas[0:10:${TIMES - 1}][0:1:${LAT - 1}][0:1:${LON - 1}]`)).seconds,
    () => ncks(['-d', 'time,0,,10', '-v', 'tas', nc3]),
  );
  // NetCDF-4 (deflated) full variable vs ncks -v tas on the same file.
  const [dods4Sec, ncks4Sec] = ONLY_DODS
    ? [NaN, NaN]
    : await alternate(
        async () => (await stream(`${dap4}.dods?tas`)).seconds,
        () => ncks(['-v', 'tas', nc4]),
      );
  process.stdout.write(
    `NetCDF-3 full: .dods ${fmt(dodsSec, 2)} s, ncks ${fmt(ncksSec, 2)} s; stride 10: .dods ${fmt(strideSec, 2)} s, ncks ${fmt(ncksStrideSec, 2)} s; NetCDF-4 full: .dods ${fmt(dods4Sec, 2)} s, ncks ${fmt(ncks4Sec, 2)} s\n`,
  );

  // Catalog get-by-id latency idle, then while STREAMS concurrent .dods run.
  const idle = await latencies(200, byId);
  // Process CPU per MB served, single vs concurrent: tells a costlier path apart from a busy machine.
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let c0 = cpuMs();
  const singleRun = await stream(full3);
  const singleCpu = (cpuMs() - c0) / (singleRun.bytes / 1e6);
  const single = rate(singleRun);
  const concurrent = async () => {
    const c = cpuMs();
    const t0 = performance.now();
    const runs = await Promise.all(Array.from({ length: STREAMS }, () => stream(full3)));
    const bytes = runs.reduce((a, r) => a + r.bytes, 0);
    return { rate: bytes / ((performance.now() - t0) / 1000) / 1e6, cpu: (cpuMs() - c) / (bytes / 1e6) };
  };
  // The streams alone: their aggregate against the single stream's.
  const many = await concurrent();
  // The streams again while the catalog API is called back to back (5 ms apart): its latency meanwhile.
  // Each call also takes the process's CPU from the streams, so their aggregate here is context only.
  let streaming = true;
  const busyTimes: number[] = [];
  const prober = (async () => {
    while (streaming) {
      const t0 = performance.now();
      await byId();
      busyTimes.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const probed = await concurrent();
  streaming = false;
  await prober;
  const aggregate = many.rate;
  const busyP95 = percentile(
    busyTimes.sort((a, b) => a - b),
    95,
  );
  // What one get-by-id costs this process (client and server), idle.
  c0 = cpuMs();
  await latencies(100, byId);
  const byIdCpu = (cpuMs() - c0) / 100;
  process.stdout.write(
    `${STREAMS} streams: ${fmt(aggregate, 0)} MB/s aggregate vs ${fmt(single, 0)} MB/s single; process CPU ${fmt(many.cpu, 2)} ms/MB vs ${fmt(singleCpu, 2)} ms/MB single; ` +
      `with get-by-id calls: ${fmt(probed.rate, 0)} MB/s aggregate, ${fmt(probed.cpu, 2)} ms/MB, get-by-id p95 ${fmt(busyP95, 2)} ms (${busyTimes.length} calls) vs idle ${fmt(idle.p95, 2)} ms, ` +
      `one get-by-id ${fmt(byIdCpu, 2)} ms of process CPU\n`,
  );

  // RSS while streaming RSS_MB of .dods, against idle RSS after a GC.
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const idleRss = process.memoryUsage().rss / 1e6;
  let maxRss = idleRss;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss / 1e6)), 50);
  let streamed = 0;
  while (streamed < RSS_MB * 1e6) streamed += (await stream(full3)).bytes;
  clearInterval(sampler);
  maxRss = Math.max(maxRss, process.memoryUsage().rss / 1e6);
  // Settled: the .dods read buffers' slabs are freed after 10 s with nothing lent (opendap.service.ts).
  await new Promise((r) => setTimeout(r, 11_000));
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const settledRss = process.memoryUsage().rss / 1e6;
  process.stdout.write(
    `RSS: ${fmt(startRss, 0)} MB after start and scan, ${fmt(idleRss, 0)} MB idle before the 1 GB phase, max ${fmt(maxRss, 0)} MB while streaming, ` +
      `${fmt(settledRss, 0)} MB 11 s after the last stream\n`,
  );

  row(
    '.dods full float var / raw sequential read (MB/s)',
    dodsRate / rawRate,
    '×',
    '≥ 0.8',
    dodsRate / rawRate >= 0.8,
  );
  row('.dods full float var / fileServer GET (MB/s, context)', dodsRate2 / fileServerRate, '×', '—');
  row('bare Node HTTP server sending the file / raw read (ceiling, context)', bareRate / rawRate2, '×', '—');
  row(
    'zero-copy sendfile server (python3) / raw read (any server, context)',
    sendfileRate / rawRate3,
    '×',
    '—',
  );
  row(
    '.dods full float var vs ncks -v tas (speed-up)',
    ncksSec / dodsSec,
    '×',
    '≥ 2',
    ncksSec / dodsSec >= 2,
  );
  row(
    '.dods 10% strided hyperslab vs ncks -d (speed-up)',
    ncksStrideSec / strideSec,
    '×',
    '≥ 1.5',
    ncksStrideSec / strideSec >= 1.5,
  );
  if (!ONLY_DODS) {
    row(
      'NetCDF-4 .dods full var vs ncks -v tas (speed-up)',
      ncks4Sec / dods4Sec,
      '×',
      '≥ 1.0',
      ncks4Sec / dods4Sec >= 1,
    );
    row('.dds NetCDF-3 cold / warm p50', dds3.cold / dds3.warm, '×', '≥ 10', dds3.cold / dds3.warm >= 10);
    row('.dds NetCDF-4 cold / warm p50', dds4.cold / dds4.warm, '×', '≥ 10', dds4.cold / dds4.warm >= 10);
  }
  row(
    `${STREAMS} streams aggregate / single stream`,
    aggregate / single,
    '×',
    '≥ 0.8',
    aggregate / single >= 0.8,
  );
  row(
    `${STREAMS} streams aggregate with get-by-id calls / single stream (context)`,
    probed.rate / single,
    '×',
    '—',
  );
  row(
    `get-by-id p95 during ${STREAMS} streams / idle p95`,
    busyP95 / idle.p95,
    '×',
    '≤ 3',
    busyP95 / idle.p95 <= 3,
  );
  row(
    `RSS streaming ${fmt(streamed / 1e9, 2)} GB − idle (${fmt(idleRss, 0)} MB)`,
    maxRss - idleRss,
    ' MB',
    '< 128 MB',
    maxRss - idleRss < 128,
  );

  row('RSS 11 s after the last stream − after start and scan (context)', settledRss - startRss, ' MB', '—');

  await app.close();
  agent.destroy();
  const w = Math.max(...rows.map((r) => r.figure.length));
  process.stdout.write(
    [
      '',
      `thredds bench${ONLY_DODS ? ' (NetCDF-3 .dods only)' : ''}: NetCDF-3 ${fmt(statSync(nc3).size / 1e6, 0)} MB, NetCDF-4 (deflate 1) ${ONLY_DODS ? '—' : fmt(statSync(nc4).size / 1e6, 0)} MB, tas ${fmt(varBytes / 1e6, 0)} MB, loopback (${CURL ? 'curl' : 'in-process'} client), ${REPS} reps (median), ${availableParallelism()} cores, load average (1 min) ${fmt(loadAtStart, 2)} at start, ${fmt(loadavg()[0] ?? NaN, 2)} at end`,
      ...rows.map(
        (r) =>
          `  ${r.figure.padEnd(w)}  ${r.value.padStart(10)}  goal ${r.goal.padEnd(8)}  ${r.met === undefined ? '' : r.met ? 'met' : 'NOT met'}`,
      ),
      '',
    ].join('\n'),
  );
  rmSync(state, { recursive: true, force: true });
}

void main();
