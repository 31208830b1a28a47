/**
 * kill -9 at a random point of a scan that ingests new files and marks
 * removed ones, restart, and every dataset's totals must equal its file
 * records (issue 9, class 8). On sqlite they agree in the database the kill
 * left, before any restart (totals are written in the file rows' transaction);
 * on mongo every disagreeing dataset has a pending file there, and the boot
 * scan settles it. Seeds are printed; CRASH_SEEDS=1,2,3 replays them.
 */
import { createStore } from '@climcat/store';
import mongoose from 'mongoose';
import { prng as random } from '../harness/random';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, TEST_ADMIN_KEY } from '../harness/app';
import { testEnv } from '../harness/env';
import { freePort, waitForPort } from '../harness/servers';
import { plainFile } from './archive';
import { exited, getJson, standalone } from './standalone';

jest.setTimeout(300_000);

/** Each seed adds a batch of new datasets, removes files of earlier ones, and kills the server while it scans. */
const DATASETS_PER_BATCH = 17;
const FILES_PER_DATASET = 6;

const seeds = (process.env.CRASH_SEEDS ?? '')
  .split(',')
  .filter(Boolean)
  .map(Number)
  .concat(Array.from({ length: 3 }, () => Math.floor(Math.random() * 2 ** 31)))
  .slice(0, 3);

let source: string;

beforeAll(async () => {
  // One file written with the project's writer, copied under every path: fast to make.
  source = tempDir('climcat-source-');
  await plainFile(source, 'frame.nc');
});
afterAll(() => rmSync(source, { recursive: true, force: true }));

/** Dataset directories, relative to the archive; `crash/runDD/bR` sorts a batch among the earlier ones. */
const dirOf = (batch: number, d: number) => `crash/run${String(d).padStart(2, '0')}/b${batch}`;
const datasetIdOf = (dir: string) => `other.${dir.replace(/\//g, '.')}`;

/** A batch of new datasets (directories) of identical small files. */
function addBatch(archive: string, batch: number): string[] {
  const dirs: string[] = [];
  for (let d = 0; d < DATASETS_PER_BATCH; d++) {
    const dir = dirOf(batch, d);
    mkdirSync(join(archive, dir), { recursive: true });
    for (let f = 0; f < FILES_PER_DATASET; f++)
      copyFileSync(join(source, 'frame.nc'), join(archive, dir, `frame_${f}.nc`));
    dirs.push(dir);
  }
  return dirs;
}

/**
 * Deletes files of earlier batches: about a third of their datasets lose 1 to
 * 6 files (6 empties the dataset). Spread over the listing, between the new
 * batch's directories, so the scan marks files removed while it ingests.
 */
function removeSome(archive: string, dirs: string[], next: () => number): number {
  let removed = 0;
  for (const dir of dirs) {
    const files = readdirSync(join(archive, dir)).sort();
    if (!files.length || next() > 0.35) continue;
    const n = 1 + Math.floor(next() * FILES_PER_DATASET);
    for (const f of files.slice(0, n)) unlinkSync(join(archive, dir, f));
    removed += Math.min(n, files.length);
  }
  return removed;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function post(port: number, path: string, body: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}

/** Files (and their bytes) each dataset directory holds on disk now. */
function onDisk(archive: string, dirs: string[]): Map<string, { files: number; size: number }> {
  return new Map(
    dirs.map((dir) => {
      const files = readdirSync(join(archive, dir));
      const size = files.reduce((sum, f) => sum + statSync(join(archive, dir, f)).size, 0);
      return [datasetIdOf(dir), { files: files.length, size }];
    }),
  );
}

/**
 * Through the API: every dataset's fileCount and size equal its file records
 * and the files on disk, no file is recorded twice; then a repair finds nothing.
 */
async function expectConsistent(port: number, expected: Map<string, { files: number; size: number }>) {
  const list = await getJson(port, '/api/v1/datasets?limit=1000');
  expect(list.items.map((d: { id: string }) => d.id).sort()).toEqual([...expected.keys()].sort());
  const paths = new Set<string>();
  let files = 0;
  for (const dataset of list.items) {
    const listed = await getJson(port, `/api/v1/datasets/${dataset.id}/files?limit=1000`);
    files += listed.items.length;
    for (const f of listed.items) paths.add(f.path);
    const size = listed.items.reduce((sum: number, f: { size: number }) => sum + f.size, 0);
    const disk = expected.get(dataset.id)!;
    expect({ id: dataset.id, fileCount: dataset.fileCount, size: dataset.size }).toEqual({
      id: dataset.id,
      fileCount: listed.total,
      size,
    });
    expect({ id: dataset.id, files: listed.total, size }).toEqual({ id: dataset.id, ...disk });
    expect(dataset.availability).toBe(disk.files === 0 ? 'offline' : 'online');
  }
  expect(paths.size).toBe(files);
  // And the consistency check finds nothing to fix.
  expect(await post(port, '/ingest/v1/repair', {})).toEqual({
    checked: expected.size,
    dryRun: false,
    fixed: [],
  });
}

type Disagreement = { id: string; stored: [number, number]; files: [number, number] };

/** In the sqlite database a kill left: datasets whose totals disagree with their present file rows. */
async function sqliteDisagreements(state: string): Promise<Disagreement[]> {
  const store = await createStore({ adapter: 'sqlite', path: join(state, 'catalog.sqlite') });
  try {
    const out: Disagreement[] = [];
    const all = await store.datasets.search({
      access: { everything: true, groups: [] },
      sort: { field: 'datasetId', direction: 'asc' },
      limit: 1000,
    });
    for (const d of all.items) {
      const agg = await store.files.aggregate(d.id);
      if (agg.fileCount !== d.fileCount || agg.size !== d.size)
        out.push({ id: d.id, stored: [d.fileCount, d.size], files: [agg.fileCount, agg.size] });
    }
    return out;
  } finally {
    await store.close();
  }
}

/**
 * In the mongo database a kill left: datasets whose totals disagree with
 * their present files and have no pending file (what settlePending could not find).
 */
async function mongoUnsettleable(
  uri: string,
  dbName: string,
): Promise<{ unsettleable: Disagreement[]; drifted: number }> {
  const connection = await mongoose.createConnection(uri, { dbName, autoCreate: false }).asPromise();
  try {
    const datasets = await connection.collection('datasets').find({}).toArray();
    const files = await connection.collection('files').find({}).toArray();
    const unsettleable: Disagreement[] = [];
    let drifted = 0;
    for (const d of datasets) {
      const present = files.filter((f) => f.datasetId === d.id && f.status === 'present');
      const size = present.reduce((sum, f) => sum + (f.size as number), 0);
      if (present.length === d.fileCount && size === d.size) continue;
      drifted++;
      const pending = files.some(
        (f) =>
          f.pending && (f.datasetId === d.id || (f.pending.datasets as string[]).includes(d.id as string)),
      );
      if (!pending)
        unsettleable.push({
          id: d.id as string,
          stored: [d.fileCount, d.size],
          files: [present.length, size],
        });
    }
    return { unsettleable, drifted };
  } finally {
    await connection.close();
  }
}

/**
 * One server state per adapter; per seed: add new datasets (interleaved with
 * the earlier ones in path order) and delete some earlier files, scan (the
 * boot scan the first time), kill -9 once a seeded number of the new datasets
 * exist, check the database as the kill left it, restart (boot scan; the
 * interrupted scan resumes), wait, check.
 */
async function crashAndRecover(adapter: 'sqlite' | 'mongo'): Promise<void> {
  const archive = tempDir('climcat-archive-');
  const state = tempDir();
  const port = await freePort();
  const dbName = `crash_${Date.now()}`;
  const env: Record<string, string> = {
    PORT: String(port),
    STATE_DIR: state,
    DATA_ROOT: archive,
    DEMO_DATA: 'false',
    SCAN_ON_BOOT: 'true',
    NODE_RED_ENABLED: 'false',
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    ...(adapter === 'mongo' ? { MONGODB_URI: testEnv('TEST_MONGODB_URI'), MONGODB_DB: dbName } : {}),
  };
  let child: ChildProcess | undefined;
  let scans = 0;
  const dirs: string[] = [];
  try {
    for (const [round, seed] of seeds.entries()) {
      const next = random(seed);
      const before = round * DATASETS_PER_BATCH;
      const killAt = before + 1 + Math.floor(next() * (DATASETS_PER_BATCH - 1));
      const removed = removeSome(archive, dirs, next);
      dirs.push(...addBatch(archive, round));
      if (!child) {
        child = standalone(env);
        await waitForPort(port, 60_000, 'standalone');
      } else {
        await post(port, '/ingest/v1/scans', { root: 'data' });
      }
      scans++;
      const atKill = await until('datasets to appear', async () => {
        const total = (await getJson(port, '/api/v1/datasets?limit=0')).total as number;
        return total >= killAt ? total : undefined;
      });
      child.kill('SIGKILL');
      await exited(child);

      // The database as the kill left it, before anything could repair it.
      let left: string;
      if (adapter === 'sqlite') {
        expect(await sqliteDisagreements(state)).toEqual([]);
        left = 'totals agreed';
      } else {
        const { unsettleable, drifted } = await mongoUnsettleable(testEnv('TEST_MONGODB_URI'), dbName);
        expect(unsettleable).toEqual([]);
        left = `${drifted} datasets pending`;
      }

      child = standalone(env);
      await waitForPort(port, 60_000, 'standalone');
      scans++;
      const done = await until('the scans to finish', async () => {
        const list = await getJson(port, '/ingest/v1/scans');
        return list.total >= scans && list.items.every((s: any) => s.state === 'completed')
          ? list
          : undefined;
      });
      const repaired = done.items.map((s: any) => s.repaired ?? 0);
      console.log(
        `${adapter} seed ${seed}: ${removed} files deleted; killed with ${atKill - before} of ` +
          `${DATASETS_PER_BATCH} new datasets (${left}); scans repaired ${repaired.join(', ')}`,
      );
      // sqlite: consistent by construction, so no scan ever had anything to repair.
      if (adapter === 'sqlite') expect(repaired.every((n: number) => n === 0)).toBe(true);
      await expectConsistent(port, onDisk(archive, dirs));
    }
  } finally {
    if (child) {
      child.kill('SIGKILL');
      await exited(child);
    }
    rmSync(state, { recursive: true, force: true });
    rmSync(archive, { recursive: true, force: true });
  }
}

describe('kill -9 during a scan that ingests new files and marks removed ones', () => {
  it.each(['sqlite', 'mongo'] as const)(
    `leaves totals equal to the file records after a restart (%s; seeds ${seeds.join(', ')})`,
    async (adapter) => {
      await crashAndRecover(adapter);
    },
  );
});
