/**
 * kill -9 at a random point of a boot scan that ingests new files, restart,
 * and every dataset's totals must equal its file records (issue 9, class 8).
 * Seeds are printed; CRASH_SEEDS=1,2,3 replays them.
 */
import { prng as random } from '../harness/random';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, TEST_ADMIN_KEY } from '../harness/app';
import { testEnv } from '../harness/env';
import { freePort, waitForPort } from '../harness/servers';
import { plainFile } from './archive';
import { exited, getJson, standalone } from './standalone';

jest.setTimeout(150_000);

/** Each seed adds a batch of new files and kills the server while it ingests them. */
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

/** A batch of new datasets (directories) of identical small files. */
function addBatch(archive: string, batch: number): void {
  for (let d = 0; d < DATASETS_PER_BATCH; d++) {
    const dir = join(archive, `crash/b${batch}/run${String(d).padStart(2, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DATASET; f++)
      copyFileSync(join(source, 'frame.nc'), join(dir, `frame_${f}.nc`));
  }
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

/** Every dataset's fileCount and size equal its file records; no file is recorded twice. */
async function expectConsistent(port: number, datasets: number): Promise<void> {
  const list = await getJson(port, '/api/v1/datasets?limit=1000');
  expect(list.total).toBe(datasets);
  const paths = new Set<string>();
  let files = 0;
  for (const dataset of list.items) {
    const listed = await getJson(port, `/api/v1/datasets/${dataset.id}/files?limit=1000`);
    files += listed.items.length;
    for (const f of listed.items) paths.add(f.path);
    const size = listed.items.reduce((sum: number, f: { size: number }) => sum + f.size, 0);
    expect({ id: dataset.id, fileCount: dataset.fileCount, size: dataset.size }).toEqual({
      id: dataset.id,
      fileCount: listed.total,
      size,
    });
    expect(listed.total).toBe(FILES_PER_DATASET);
  }
  expect(files).toBe(datasets * FILES_PER_DATASET);
  expect(paths.size).toBe(files);
  // And the consistency check finds nothing left to fix.
  expect(await post(port, '/ingest/v1/repair', { dryRun: true })).toEqual({
    checked: datasets,
    dryRun: true,
    fixed: [],
  });
}

/**
 * One server state per adapter; per seed: add new files, scan them (the boot
 * scan the first time), kill -9 once a seeded number of their datasets exist,
 * restart (boot scan; the interrupted scan resumes), wait, check.
 */
async function crashAndRecover(adapter: 'sqlite' | 'mongo'): Promise<void> {
  const archive = tempDir('climcat-archive-');
  const state = tempDir();
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    STATE_DIR: state,
    DATA_ROOT: archive,
    DEMO_DATA: 'false',
    SCAN_ON_BOOT: 'true',
    NODE_RED_ENABLED: 'false',
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    ...(adapter === 'mongo'
      ? { MONGODB_URI: testEnv('TEST_MONGODB_URI'), MONGODB_DB: `crash_${Date.now()}` }
      : {}),
  };
  let child: ChildProcess | undefined;
  let scans = 0;
  try {
    for (const [round, seed] of seeds.entries()) {
      const before = round * DATASETS_PER_BATCH;
      const killAt = before + 1 + Math.floor(random(seed)() * (DATASETS_PER_BATCH - 1));
      addBatch(archive, round);
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

      child = standalone(env);
      await waitForPort(port, 60_000, 'standalone');
      scans++;
      const done = await until('the scans to finish', async () => {
        const list = await getJson(port, '/ingest/v1/scans');
        return list.total >= scans && list.items.every((s: any) => s.state === 'completed')
          ? list
          : undefined;
      });
      console.log(
        `${adapter} seed ${seed}: killed with ${atKill - before} of ${DATASETS_PER_BATCH} new datasets; ` +
          `scans repaired ${done.items.map((s: any) => s.repaired ?? '-').join(', ')}`,
      );
      await expectConsistent(port, before + DATASETS_PER_BATCH);
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

describe('kill -9 during ingestion of new files', () => {
  it.each(['sqlite', 'mongo'] as const)(
    `leaves totals equal to the file records after a restart (%s; seeds ${seeds.join(', ')})`,
    async (adapter) => {
      await crashAndRecover(adapter);
    },
  );
});
