/**
 * The opened-file cache behind /thredds/dodsC, with THREDDS_CACHE_FILES=1 so
 * every other file evicts: a file rewritten in place or replaced is served new
 * at once, a `.dods` stream whose entry is evicted mid-way completes with the
 * right bytes and closes its file afterwards, and access is checked on every
 * request however warm the file is.
 */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { DatasetCacheService } from '@climcat/platform';
import { writeNetcdf3, type Netcdf3Schema } from '@climcat/netcdf';
import { readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import {
  basic,
  catalogArchive,
  PATHS,
  PUBLIC_ID,
  SECRET_ID,
  writeArchive,
  type ThreddsArchive,
} from './thredds-archive';

jest.setTimeout(120_000);

let running: RunningApp;
let root: string;
let outsideDir: string;
let archive: ThreddsArchive;

const REWRITTEN = `${PATHS.nc3.replace(/[^/]+$/, '')}rewritten.nc`;
const BIG = `${PATHS.nc3.replace(/[^/]+$/, '')}big.nc`;
const BIG_SHAPE = { time: 1500, lat: 64, lon: 64 }; // 24.6 MB of tas: far more than socket buffers hold

const dap = (path: string, suffix: string) => `${running.url}/thredds/dodsC/data/${path}.${suffix}`;
const cache = () => running.app.get(DatasetCacheService).cache;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function text(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

async function bytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** One variable `v(x)` holding `values`, plus a title naming the version. */
function smallSchema(length: number, title: string): Netcdf3Schema {
  return {
    dimensions: [{ name: 'x', length }],
    variables: [{ name: 'v', type: 'double', dimensions: ['x'], attributes: [] }],
    globalAttributes: [{ name: 'title', type: 'char', value: title }],
  };
}

async function writeSmall(path: string, values: number[], title: string): Promise<void> {
  await writeNetcdf3(path, smallSchema(values.length, title), { v: Float64Array.from(values) });
}

/** A present file record in the public dataset for a file under the data root. */
async function catalogue(path: string): Promise<void> {
  const st = statSync(join(root, path));
  const now = new Date().toISOString();
  const file: FileRecord = {
    id: `${PUBLIC_ID}/${path.split('/').pop()!}`,
    datasetId: PUBLIC_ID,
    location: { root: 'data', path },
    size: st.size,
    mtime: st.mtime.toISOString(),
    format: 'NETCDF3_CLASSIC',
    timeCoverage: null,
    variables: ['v'],
    status: 'present',
    createdAt: now,
    updatedAt: now,
  };
  await running.app.get<Store>(STORE).files.upsert(file);
}

/** The values of `v` in an `.ascii` answer: the line after `v[n]`. */
function asciiValues(body: string): number[] {
  const lines = body.split('\n');
  const at = lines.findIndex((l) => /^v\[\d+\]$/.test(l));
  return at < 0 ? [] : (lines[at + 1] ?? '').split(', ').map(Number);
}

beforeAll(async () => {
  root = tempDir('climcat-thredds-cache-');
  outsideDir = tempDir('climcat-thredds-cache-outside-');
  const outside = await writeArchive(root, outsideDir);
  await writeSmall(join(root, REWRITTEN), [1, 2, 3], 'first');
  const n = BIG_SHAPE.time * BIG_SHAPE.lat * BIG_SHAPE.lon;
  await writeNetcdf3(
    join(root, BIG),
    {
      dimensions: [
        { name: 'time', length: BIG_SHAPE.time },
        { name: 'lat', length: BIG_SHAPE.lat },
        { name: 'lon', length: BIG_SHAPE.lon },
      ],
      variables: [{ name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [] }],
      globalAttributes: [],
    },
    { tas: Float32Array.from({ length: n }, (_, i) => i % 100_000) },
  );
  running = await startApp({ env: { DATA_ROOT: root, THREDDS_CACHE_FILES: '1' } });
  archive = { ...(await catalogArchive(running, root)), outside };
  await catalogue(REWRITTEN);
  await catalogue(BIG);
});

afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

describe('opened-file cache', () => {
  it('serves a second .dds from the cache and the new DDS and values right after a rewrite', async () => {
    const path = join(root, REWRITTEN);
    const first = await text(dap(REWRITTEN, 'dds'));
    expect(first.body).toContain('Float64 v[x = 3];');
    const { hits } = cache().stats();
    expect((await text(dap(REWRITTEN, 'dds'))).body).toBe(first.body);
    expect(cache().stats().hits).toBe(hits + 1);
    // The same counts reach Prometheus.
    const metrics = (await text(`${running.url}/metrics`)).body;
    expect(metrics).toContain(`climcat_dataset_cache_lookups_total{outcome="hit"} ${hits + 1}`);
    expect(metrics).toMatch(/climcat_dataset_cache_entries\{state="all"\} 1\b/);
    expect(asciiValues((await text(`${dap(REWRITTEN, 'ascii')}?v`)).body)).toEqual([1, 2, 3]);

    // In place: same inode, new size and mtime.
    const ino = statSync(path).ino;
    await writeSmall(path, [10, 20, 30, 40], 'second');
    expect(statSync(path).ino).toBe(ino);
    expect((await text(dap(REWRITTEN, 'dds'))).body).toContain('Float64 v[x = 4];');
    expect((await text(dap(REWRITTEN, 'das'))).body).toContain('String title "second";');
    expect(asciiValues((await text(`${dap(REWRITTEN, 'ascii')}?v`)).body)).toEqual([10, 20, 30, 40]);

    // Replaced by rename with the same size and mtime: only the inode tells.
    const before = statSync(path);
    const tmp = join(root, `${REWRITTEN}.tmp`);
    await writeSmall(tmp, [-1, -2, -3, -4], 'third!');
    expect(statSync(tmp).size).toBe(before.size);
    utimesSync(tmp, before.atime, before.mtime);
    renameSync(tmp, path);
    expect(asciiValues((await text(`${dap(REWRITTEN, 'ascii')}?v`)).body)).toEqual([-1, -2, -3, -4]);
    expect((await text(dap(REWRITTEN, 'das'))).body).toContain('String title "third!";');
  });

  it('completes a .dods stream whose entry is evicted mid-way, then closes its file', async () => {
    const expected = await bytes(`${dap(BIG, 'dods')}?tas`);
    expect(expected.length).toBeGreaterThan(24e6);
    expect(expected.readFloatBE(expected.length - 4)).toBe(
      (BIG_SHAPE.time * BIG_SHAPE.lat * BIG_SHAPE.lon - 1) % 100_000,
    );
    await text(dap(PATHS.nc4, 'dds')); // the HDF5 worker thread runs (its descriptors count too)
    await text(dap(PATHS.nc3, 'dds')); // the cache holds one small file: the baseline
    const before = openFds();
    for (let round = 0; round < 4; round++) {
      const stream = await startStream(`${dap(BIG, 'dods')}?tas`);
      expect(stream.status).toBe(200);
      expect(cache().stats().leased).toBe(1);
      const evictions = cache().stats().evictions;
      // Two other files through a one-file cache: the streaming entry leaves it.
      expect((await text(dap(PATHS.nc4, 'dds'))).status).toBe(200);
      expect((await text(dap(PATHS.secret, 'dds'), basic(archive.readerKey))).status).toBe(200);
      expect(cache().stats().evictions).toBeGreaterThanOrEqual(evictions + 2);
      expect(cache().stats()).toMatchObject({ entries: 1, leased: 1 });
      // The evicted entry still serves the rest of the answer.
      const body = await stream.rest();
      expect(body.length).toBe(expected.length);
      expect(body.equals(expected)).toBe(true);
    }
    await text(dap(PATHS.nc3, 'dds'));
    await new Promise((r) => setTimeout(r, 300));
    expect(cache().stats()).toMatchObject({ entries: 1, leased: 0 });
    // Four evicted streaming entries, each holding a descriptor had it not been closed.
    expect(openFds()).toBeLessThanOrEqual(before + 2);
  });

  it('checks access on every request, however warm the file is', async () => {
    const reader = basic(archive.readerKey);
    const warm = await text(dap(PATHS.secret, 'dds'), reader);
    expect(warm.status).toBe(200);
    expect((await text(dap(PATHS.secret, 'dds'), reader)).status).toBe(200);
    const { hits } = cache().stats();
    expect((await text(dap(PATHS.secret, 'dds'))).status).toBe(401);
    expect((await text(dap(PATHS.secret, 'dods'))).status).toBe(401);
    expect((await text(dap(PATHS.secret, 'dds'), basic(archive.otherKey))).status).toBe(404);
    expect((await text(dap(PATHS.secret, 'das'), basic(archive.otherKey))).status).toBe(404);
    expect(cache().stats().hits).toBe(hits); // refused before the cache is asked
    // Access withdrawn from the reader's group: the cached file no longer helps.
    const patched = await api(running, 'PATCH', `/api/v1/datasets/${SECRET_ID}`, {
      headers: ADMIN,
      body: { access: { public: false, ownerGroup: 'ichec', accessGroups: [] } },
    });
    expect(patched.status).toBe(200);
    expect((await text(dap(PATHS.secret, 'dds'), reader)).status).toBe(404);
    expect((await text(dap(PATHS.secret, 'dods'), reader)).status).toBe(404);
  });
});

/** GETs `url`, takes the first chunk and pauses (the server stalls on backpressure); `rest` reads to the end. */
function startStream(url: string): Promise<{ status: number; rest: () => Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      const ended = new Promise<Buffer>((ok, fail) => {
        res.on('end', () => ok(Buffer.concat(chunks)));
        res.on('error', fail);
      });
      res.once('data', (first: Buffer) => {
        chunks.push(first);
        res.pause();
        resolve({
          status: res.statusCode ?? 0,
          rest: () => {
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.resume();
            return ended;
          },
        });
      });
    }).on('error', reject);
  });
}
