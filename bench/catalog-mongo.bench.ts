/**
 * The catalog benchmark's query mix on the mongo adapter, against the
 * MongoDB-wire test server the e2e harness uses (jongodb, started here the
 * same way): the catalog of bench/catalog-data.ts seeded through the store
 * (indexes built first by the migration), then over HTTP facet search
 * (3 filters + 8 facet counts) anonymous and admin, free text, get-by-id
 * p50/p95 and get-by-id requests/s against a bare Node server, and each
 * search's first answer (totals and facet counts computed) against repeats
 * (served from the count cache).
 *
 * Before measuring, each query of the mix is sent once while the commands
 * the adapter sends are recorded (mongoose's debug hook), and for each
 * command two verdicts are printed: the server's own plan (`explain`, when
 * the server answers it) and the index our checker (test/store/index-coverage.ts,
 * MongoDB's documented prefix rules against the declared indexes) says serves it.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/catalog-mongo.bench.ts [datasets] [filesPerDataset]
 *
 * BENCH_MONGO_URI uses a running server instead of starting one (BENCH_MONGO_PID: its
 * process, for its memory); with
 * BENCH_MONGO_DB it keeps a seeded database between runs (seeding is skipped
 * when it holds the same counts). BENCH_MONGO_SEED_BUDGET_S (default 900)
 * stops seeding datasets after that many seconds and measures what was seeded
 * (the size reached is printed). Seeding writes the store's own documents by
 * insertMany (BENCH_MONGO_BULK_BATCH per command, default 20000; see seedBulk);
 * BENCH_MONGO_SEED=store seeds through store.datasets.create and
 * store.files.upsert instead, one command per record, which the test server
 * sustains only to a few thousand records (see README, performance). BENCH_MONGO_REPS (default 200) sets the latency samples per
 * search kind, BENCH_MONGO_COLD (default 20) the first-vs-repeat pairs; BENCH_LOG_LEVEL the app's log level (default silent).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execSync } from 'node:child_process';
import mongoose, { mongo } from 'mongoose';
import { createStore, migrateStore, MONGO_INDEXES, type StoreOptions } from '@climcat/store';
import type { FileRecord, Store } from '@climcat/core';
import { toDocument } from '../libs/store/src/mongo/mongo-dataset.repository';
import { COLLECTIONS, datasetSchema, fileSchema, META_COLLECTION } from '../libs/store/src/mongo/schemas';
import { startJongodb } from '../test/harness/servers';
import { coverageOf } from '../test/store/index-coverage';
import { recordMongoCalls, type LoggedCall } from '../test/store/mongo-query-log';
import { catalogQueries, datasetAt, seededFile, serveCatalog } from './catalog-data';
import { bareJsonServer, fmt, interleavedThroughput, latencies, peakRssMb, prng } from './lib';

const DATASETS = Number(process.argv[2] ?? 5_000);
const FILES_PER = Number(process.argv[3] ?? 2);
const SEED_BUDGET_S = Number(process.env.BENCH_MONGO_SEED_BUDGET_S ?? 900);
const REPS = Number(process.env.BENCH_MONGO_REPS ?? 200);
const COLD = Number(process.env.BENCH_MONGO_COLD ?? 20);
const DB = process.env.BENCH_MONGO_DB ?? `climcat_bench_${process.pid}`;
/** Concurrent store writes while seeding (the server handles one write per collection at a time). */
const SEED_CONCURRENCY = 4;
/** `bulk` (default): the store's documents by insertMany (see seedBulk); `store`: one store call per record. */
const SEED_MODE = process.env.BENCH_MONGO_SEED === 'store' ? 'store' : 'bulk';
const BULK_BATCH = Number(process.env.BENCH_MONGO_BULK_BATCH ?? 20_000);

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Resident and peak memory of a process (MB), from /proc. */
function memoryOf(pid: number | undefined): { rss: number; peak: number } | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const external = process.env.BENCH_MONGO_URI;
  const server = external ? null : await startJongodb();
  try {
    const pid =
      server?.process.pid ?? (process.env.BENCH_MONGO_PID ? Number(process.env.BENCH_MONGO_PID) : undefined);
    await run(external ?? server!.url, pid, external !== undefined);
  } finally {
    server?.process.kill();
  }
}

async function run(uri: string, serverPid: number | undefined, external: boolean): Promise<void> {
  const serverMemory = () => {
    const m = memoryOf(serverPid);
    return m
      ? `server RSS ${fmt(m.rss, 0)} MB (peak ${fmt(m.peak, 0)} MB)`
      : 'server memory unknown (external)';
  };
  process.stdout.write(`mongo server ${uri} (${external ? 'external' : 'jongodb started here'}), db ${DB}\n`);
  const storeOptions: StoreOptions = { adapter: 'mongo', uri, dbName: DB };

  const rand = prng(42);
  const ids: string[] = [];
  const client = new mongo.MongoClient(uri);
  await client.connect();
  const db = client.db(DB);
  const seeded = await seededCounts(db);
  let seedReport = '';
  if (seeded.datasets === DATASETS && seeded.files === DATASETS * FILES_PER) {
    process.stdout.write(`reusing ${DB} (${DATASETS} datasets × ${FILES_PER} files)\n`);
    for (let i = 0; i < DATASETS; i++) ids.push(datasetAt(i, rand, FILES_PER).id);
  } else {
    if (seeded.datasets > 0) await dropAll(db);
    // `climcat migrate` first, as production runs it: the indexes exist before the data does.
    const report = await migrateStore(storeOptions);
    process.stdout.write(
      `migrated: ${report?.created.length ?? 0} indexes created, schema ${report?.toVersion}\n`,
    );
    if (SEED_MODE === 'bulk') {
      seedReport = await seedBulk(uri, rand, ids, serverMemory);
    } else {
      const store = await createStore({ ...storeOptions, migrate: 'verify' });
      seedReport = await seed(store, rand, ids, serverMemory);
      await store.close();
    }
  }

  const { app, admin, get } = await serveCatalog({
    STATE_DIR: mkdtempSync(join(tmpdir(), 'climcat-bench-mongo-')),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    MONGODB_URI: uri,
    MONGODB_DB: DB,
    MONGODB_MIGRATE: 'verify',
    // Measured, not cut off: at large sizes a count may run past the production default of 30 s.
    MONGODB_MAX_TIME_MS: '600000',
  });
  const { facet, text, byId } = catalogQueries(ids);

  // Plans first, while every count is still uncached (a cached search sends no count).
  const plans: string[] = [];
  const mix: [string, () => Promise<unknown>][] = [
    ['facet search, anonymous', () => get(facet(0))],
    ['facet search, admin', () => get(facet(0), admin)],
    ['free text', () => get(text(0))],
    ['get by id', () => get(byId(0), admin)],
  ];
  for (const [name, call] of mix) plans.push(...(await planOf(name, call, db)));

  // The first answer of a search computes its total and facet counts; a repeat within the cache's
  // max age (60 s) with no dataset written meanwhile reads them from the cache. COLD distinct
  // searches of each kind not asked before (i = 1..COLD), each asked twice in a row (a second
  // pass after all of them would find entries past the max age at large sizes).
  const coldWarm = async (path: (i: number) => string, headers?: Record<string, string>) => {
    const time = async (i: number) => {
      const t = performance.now();
      await get(path(i), headers);
      return performance.now() - t;
    };
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 1; i <= COLD; i++) {
      cold.push(await time(i));
      warm.push(await time(i));
    }
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    return { cold: med(cold), warm: med(warm), load: load() };
  };
  const cw = {
    facetAnonymous: await coldWarm(facet),
    facetAdmin: await coldWarm(facet, admin),
    freeText: await coldWarm(text),
  };

  // The same mix as bench/catalog.bench.ts (60 distinct facet searches, 42 free texts: mostly cached).
  const results: Record<string, { p50: number; p95: number }> = {};
  const measured: Record<string, string> = {};
  const measure = async (name: string, count: number, call: (i: number) => Promise<unknown>) => {
    results[name] = await latencies(count, call, Math.min(20, count));
    measured[name] = load();
  };
  await measure('facetSearchAnonymous', REPS, (i) => get(facet(i)));
  await measure('facetSearchAdmin', REPS, (i) => get(facet(i), admin));
  await measure('freeText', REPS, (i) => get(text(i)));
  await measure('getById', 500, (i) => get(byId(i), admin));
  const sample = await get(byId(1), admin);
  const bare = await bareJsonServer(sample);
  const rps = await interleavedThroughput(
    {
      climcat: (i) => get(byId(i), admin),
      // The very request climcat gets (path and Authorization header): the client's share is the same.
      bareNode: async (i) => (await fetch(`${bare.base}${byId(i)}`, { headers: admin })).text(),
    },
    10,
    0.5,
    16,
  );
  const rpsLoad = load();
  bare.server.close();
  await app.close();
  const memory = serverMemory();

  const row = (label: string, name: string) =>
    `  ${label.padEnd(52)} p50 ${fmt(results[name]!.p50)} ms, p95 ${fmt(results[name]!.p95)} ms   [load ${measured[name]}]`;
  const cwRow = (label: string, v: { cold: number; warm: number; load: string }) =>
    `  ${label.padEnd(52)} first ${fmt(v.cold)} ms, repeat ${fmt(v.warm)} ms (medians of ${COLD})   [load ${v.load}]`;
  process.stdout.write(
    [
      '',
      `catalog bench: ${ids.length} datasets, ${ids.length * FILES_PER} files, mongo adapter on ${external ? uri : 'jongodb (test server)'}, seeded ${SEED_MODE === 'bulk' ? 'in bulk' : 'through the store'}, ${execSync('nproc').toString().trim()} cores`,
      ...(seedReport ? [seedReport] : []),
      '',
      'plans (per command the adapter sent for one request of each kind):',
      ...plans,
      '',
      row('facet search (3 filters + 8 facet counts), anonymous:', 'facetSearchAnonymous'),
      row('facet search, admin (no access filter):', 'facetSearchAdmin'),
      row('free text (2 terms):', 'freeText'),
      row('get by id:', 'getById'),
      cwRow('facet search anonymous, first vs repeat:', cw.facetAnonymous),
      cwRow('facet search admin, first vs repeat:', cw.facetAdmin),
      cwRow('free text, first vs repeat:', cw.freeText),
      `  get by id throughput: ${fmt(rps.climcat, 0)} req/s vs bare Node ${fmt(rps.bareNode, 0)} req/s = ${fmt(rps.climcat / rps.bareNode, 2)}×   [load ${rpsLoad}]`,
      `  bench process peak RSS ${fmt(peakRssMb(), 0)} MB; ${memory}`,
      '',
    ].join('\n'),
  );
  // A server started here goes with its data; an external one keeps a BENCH_MONGO_DB for the next run.
  if (external && !process.env.BENCH_MONGO_DB) await dropAll(db);
  await client.close();
}

async function seededCounts(db: mongo.Db): Promise<{ datasets: number; files: number }> {
  // The test server has no listCollections; a count of a missing collection is 0.
  const count = (name: string) => db.collection(name).countDocuments({});
  return { datasets: await count('datasets'), files: await count('files') };
}

/** Drops the store's collections (the test server has no dropDatabase). */
async function dropAll(db: mongo.Db): Promise<void> {
  for (const name of [...Object.values(COLLECTIONS), META_COLLECTION])
    await db
      .collection(name)
      .drop()
      .catch(() => undefined);
}

/** Runs `work(i)` for i in [0, n) with SEED_CONCURRENCY in flight, in order of i; stops starting new ones when `stop()` says so. */
async function pool(n: number, work: (i: number) => Promise<void>, stop: () => boolean): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: SEED_CONCURRENCY }, async () => {
      while (next < n && !stop()) await work(next++);
    }),
  );
  return Math.min(next, n);
}

async function seed(
  store: Store,
  rand: () => number,
  ids: string[],
  serverMemory: () => string,
): Promise<string> {
  process.stdout.write(`seeding ${DATASETS} datasets × ${FILES_PER} files (budget ${SEED_BUDGET_S} s)\n`);
  const records = Array.from({ length: DATASETS }, (_, i) => datasetAt(i, rand, FILES_PER));
  const started = performance.now();
  const overBudget = () => (performance.now() - started) / 1000 > SEED_BUDGET_S;
  const step = Math.max(1000, Math.round(DATASETS / 20));
  let done = 0;
  let mark = performance.now();
  const progress = (what: string, total: number) => {
    done++;
    if (done % step === 0) {
      const now = performance.now();
      process.stdout.write(
        `  ${what} ${done}/${total}: ${fmt(step / ((now - mark) / 1000), 0)}/s over the last ${step}, ${fmt((now - started) / 1000, 0)} s, ${serverMemory()}, load ${load()}\n`,
      );
      mark = now;
    }
  };
  let t = performance.now();
  const created = await pool(
    DATASETS,
    async (i) => {
      await store.datasets.create(records[i]!);
      progress('datasets', DATASETS);
    },
    overBudget,
  );
  const datasetSeconds = (performance.now() - t) / 1000;
  for (let i = 0; i < created; i++) ids.push(records[i]!.id);
  if (created < DATASETS)
    process.stdout.write(`  seeding budget spent: ${created} of ${DATASETS} datasets created\n`);
  const fileAt = filesOf(ids);
  done = 0;
  mark = t = performance.now();
  const fileTotal = created * FILES_PER;
  // Files are not cut by the budget: every seeded dataset gets all of its files.
  await pool(
    fileTotal,
    async (n) => {
      await store.files.upsert(fileAt(n));
      progress('files', fileTotal);
    },
    () => false,
  );
  const fileSeconds = (performance.now() - t) / 1000;
  return `  seeded through the store: datasets ${fmt(created / datasetSeconds, 0)}/s (${fmt(datasetSeconds, 0)} s), files ${fmt(fileTotal / fileSeconds, 0)}/s (${fmt(fileSeconds, 0)} s); after seeding ${serverMemory()}, load ${load()}`;
}

/** The n-th file of the seeded datasets (as bench/catalog.bench.ts writes them). */
function filesOf(ids: string[]): (n: number) => FileRecord {
  const now = new Date().toISOString();
  return (n) => seededFile(ids[Math.floor(n / FILES_PER)]!, Math.floor(n / FILES_PER), n % FILES_PER, now);
}

/**
 * The store's own documents (its toDocument and schemas, revision 1) written by
 * insertMany in batches of BULK_BATCH, on a connection of its own. The test
 * server checks every unique index against the whole collection on every
 * insert command (a list scan per document: quadratic in the collection's
 * size), so one command per document, as the store's create and upsert send,
 * stops being feasible past a few thousand documents; one command per batch
 * pays that check once per batch. Skips what the store adds around a write
 * (duplicate checks, the count cache's generation bump), nothing in the documents.
 */
async function seedBulk(
  uri: string,
  rand: () => number,
  ids: string[],
  serverMemory: () => string,
): Promise<string> {
  process.stdout.write(
    `seeding ${DATASETS} datasets × ${FILES_PER} files in bulk (batches of ${BULK_BATCH})\n`,
  );
  const connection = await mongoose.createConnection(uri, { dbName: DB }).asPromise();
  try {
    const Dataset = connection.model('Dataset', datasetSchema);
    const File = connection.model('File', fileSchema);
    const started = performance.now();
    const insert = async (
      what: string,
      total: number,
      write: (from: number, to: number) => Promise<unknown>,
    ): Promise<number> => {
      const t = performance.now();
      for (let from = 0; from < total; from += BULK_BATCH) {
        const to = Math.min(total, from + BULK_BATCH);
        const b = performance.now();
        await write(from, to);
        process.stdout.write(
          `  ${what} ${to}/${total}: batch ${fmt((to - from) / ((performance.now() - b) / 1000), 0)}/s, ${fmt((performance.now() - started) / 1000, 0)} s, ${serverMemory()}, load ${load()}\n`,
        );
      }
      return (performance.now() - t) / 1000;
    };
    const datasetSeconds = await insert('datasets', DATASETS, async (from, to) => {
      const docs = [];
      for (let i = from; i < to; i++) {
        const record = { ...datasetAt(i, rand, FILES_PER), revision: 1 };
        ids.push(record.id);
        docs.push(toDocument(record));
      }
      await Dataset.insertMany(docs);
    });
    const fileAt = filesOf(ids);
    const fileTotal = DATASETS * FILES_PER;
    const fileSeconds = await insert('files', fileTotal, async (from, to) => {
      const docs = [];
      for (let n = from; n < to; n++) docs.push(fileAt(n));
      await File.insertMany(docs);
    });
    return `  seeded in bulk: datasets ${fmt(DATASETS / datasetSeconds, 0)}/s (${fmt(datasetSeconds, 0)} s), files ${fmt(fileTotal / fileSeconds, 0)}/s (${fmt(fileSeconds, 0)} s); after seeding ${serverMemory()}, load ${load()}`;
  } finally {
    await connection.close();
  }
}

/**
 * The commands one request sends, each with the server's own plan (explain)
 * and our checker's verdict (the declared index that serves it by MongoDB's rules).
 */
async function planOf(name: string, call: () => Promise<unknown>, db: mongo.Db): Promise<string[]> {
  const log = recordMongoCalls();
  try {
    await call();
  } finally {
    log.stop();
  }
  const out = [`  ${name}:`];
  // climcat_meta (the count cache's generation) is read by _id: the _id index, always there.
  const declared = { ...MONGO_INDEXES, climcat_meta: [{ key: { _id: 1 }, name: '_id_' }] };
  for (const c of log.calls) {
    const { verdicts } = coverageOf([c], declared, []);
    const verdict = [...verdicts.values()][0];
    const checker = verdict ? (verdict.index ?? `NONE: ${verdict.reason}`) : '(not a query)';
    out.push(
      `    ${c.collection}.${c.method} ${brief(c)}`,
      `      our checker: ${checker}`,
      `      server plan: ${await explain(db, c)}`,
    );
  }
  return out;
}

/** The filter (and sort, limit) of a recorded call, shortened for the report. */
function brief(c: LoggedCall): string {
  const text = JSON.stringify(c.args[0]) + (c.args[1] ? ` ${JSON.stringify(pick(c.args[1]))}` : '');
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function pick(options: unknown): unknown {
  if (typeof options !== 'object' || options === null) return options;
  const o = options as Record<string, unknown>;
  return Object.fromEntries(['sort', 'skip', 'limit'].filter((k) => k in o).map((k) => [k, o[k]]));
}

/** The server's winning plan for a recorded read, summarised (stage names and index names), or why there is none. */
async function explain(db: mongo.Db, c: LoggedCall): Promise<string> {
  const collection = db.collection(c.collection);
  const [first, second] = c.args as [Record<string, unknown>, Record<string, unknown> | undefined];
  try {
    let plan: mongo.Document;
    if (c.method === 'find' || c.method === 'findOne') {
      const cursor = collection.find(first ?? {});
      if (second?.sort) cursor.sort(second.sort as mongo.Sort);
      if (typeof second?.limit === 'number') cursor.limit(second.limit);
      if (c.method === 'findOne') cursor.limit(1);
      plan = await cursor.explain('queryPlanner');
    } else if (c.method === 'countDocuments') {
      plan = await collection.find(first ?? {}).explain('queryPlanner');
    } else if (c.method === 'aggregate') {
      plan = await collection.aggregate(first as unknown as mongo.Document[]).explain('queryPlanner');
    } else {
      return '(not a read)';
    }
    return summarisePlan(plan);
  } catch (error) {
    return `explain refused by the server: ${(error as Error).message}`;
  }
}

function summarisePlan(plan: mongo.Document): string {
  const stages: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    if (typeof n.stage === 'string')
      stages.push(typeof n.indexName === 'string' ? `${n.stage}(${n.indexName})` : n.stage);
    for (const key of [
      'winningPlan',
      'queryPlan',
      'inputStage',
      'inputStages',
      'queryPlanner',
      'stages',
      '$cursor',
    ])
      if (key in n) walk(n[key]);
  };
  walk(plan);
  return stages.length
    ? stages.join(' ← ')
    : `no plan stages in the answer: ${JSON.stringify(plan).slice(0, 300)}`;
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
