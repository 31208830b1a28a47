import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetcdfDataset } from '../dataset';
import { writeNetcdf3 } from '../cdf3/writer';
import { Hdf5Worker } from '../hdf5/h5-worker-client';
import { FileByteSource } from '../io/file-byte-source';
import {
  cacheableDataset,
  DatasetCache,
  MemoKey,
  type CacheableDataset,
  type DatasetKey,
} from './dataset-cache';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'climcat-dataset-cache-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small NetCDF-3 file whose `v` holds `values`. */
async function writeFile(name: string, values: number[]): Promise<string> {
  const path = join(dir, name);
  await writeNetcdf3(
    path,
    {
      dimensions: [{ name: 'x', length: values.length }],
      variables: [{ name: 'v', type: 'double', dimensions: ['x'], attributes: [] }],
      globalAttributes: [{ name: 'title', type: 'char', value: name }],
    },
    { v: Float64Array.from(values) },
  );
  return path;
}

/** The key a server would build: path + size + mtime + inode. */
function keyOf(path: string): DatasetKey {
  const st = statSync(path, { bigint: true });
  return { id: path, version: `${st.size}:${st.mtimeNs}:${st.ino}` };
}

/** Opens real files and counts opens and closes per path. */
function opener() {
  const opens = new Map<string, number>();
  const closes = new Map<string, number>();
  const open = (path: string) => async (): Promise<CacheableDataset<NetcdfDataset>> => {
    opens.set(path, (opens.get(path) ?? 0) + 1);
    const entry = await cacheableDataset(await FileByteSource.open(path));
    return {
      ...entry,
      close: async () => {
        closes.set(path, (closes.get(path) ?? 0) + 1);
        await entry.close();
      },
    };
  };
  return { open, opens: (p: string) => opens.get(p) ?? 0, closes: (p: string) => closes.get(p) ?? 0 };
}

const values = async (ds: NetcdfDataset) => Array.from((await ds.read('v')) as Float64Array);
const TEXT = new MemoKey<string>('text');

describe('DatasetCache', () => {
  it('serves a second acquire of the same version from the open entry, memo included', async () => {
    const a = await writeFile('hit.nc', [1, 2, 3]);
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 4 });
    const first = await cache.acquire(keyOf(a), o.open(a));
    let computed = 0;
    expect(first.memo(TEXT, () => `text ${++computed}`)).toBe('text 1');
    await first.release();
    const second = await cache.acquire(keyOf(a), o.open(a));
    expect(second.value).toBe(first.value);
    expect(second.memo(TEXT, () => `text ${++computed}`)).toBe('text 1');
    expect(await values(second.value)).toEqual([1, 2, 3]);
    await second.release();
    expect([o.opens(a), o.closes(a)]).toEqual([1, 0]);
    expect(cache.stats()).toMatchObject({ entries: 1, hits: 1, misses: 1, leased: 0 });
    await cache.closeAll();
    expect(o.closes(a)).toBe(1);
  });

  it('opens the new version when size or mtime changed, and closes the old one', async () => {
    const a = await writeFile('changed.nc', [1, 2, 3]);
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 4 });
    const old = await cache.acquire(keyOf(a), o.open(a));
    old.memo(TEXT, () => 'old');
    await old.release();
    await writeFile('changed.nc', [4, 5, 6, 7]);
    const changed = await cache.acquire(keyOf(a), o.open(a));
    expect(await values(changed.value)).toEqual([4, 5, 6, 7]);
    expect(changed.memo(TEXT, () => 'new')).toBe('new');
    await changed.release();
    // Same size, new mtime only.
    const later = new Date(Date.now() + 5000);
    utimesSync(a, later, later);
    const touched = await cache.acquire(keyOf(a), o.open(a));
    expect(touched.value).not.toBe(changed.value);
    await touched.release();
    expect([o.opens(a), o.closes(a)]).toEqual([3, 2]);
    expect(cache.stats().entries).toBe(1);
    await cache.closeAll();
  });

  it('evicts the least recently used entry first', async () => {
    const [a, b, c] = await Promise.all(['lru-a.nc', 'lru-b.nc', 'lru-c.nc'].map((n) => writeFile(n, [1])));
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 2 });
    const use = async (p: string) => (await cache.acquire(keyOf(p), o.open(p))).release();
    await use(a!);
    await use(b!);
    await use(a!); // a is now more recent than b
    await use(c!); // evicts b
    expect([o.closes(a!), o.closes(b!), o.closes(c!)]).toEqual([0, 1, 0]);
    await use(a!);
    await use(b!); // reopened; evicts c (a was used after c)
    expect([o.opens(a!), o.opens(b!), o.opens(c!)]).toEqual([1, 2, 1]);
    expect(o.closes(c!)).toBe(1);
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 2 });
    await cache.closeAll();
  });

  it('bounds the estimated bytes of kept entries, memoised text included', async () => {
    const [a, b] = await Promise.all(['bytes-a.nc', 'bytes-b.nc'].map((n) => writeFile(n, [1])));
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 10, maxBytes: 20_000 });
    const la = await cache.acquire(keyOf(a!), o.open(a!));
    la.memo(TEXT, () => 'x'.repeat(6000)); // 12 kB as UTF-16
    await la.release();
    const lb = await cache.acquire(keyOf(b!), o.open(b!));
    lb.memo(TEXT, () => 'y'.repeat(6000)); // over 20 kB together: a goes
    await lb.release();
    expect([o.closes(a!), o.closes(b!)]).toEqual([1, 0]);
    expect(cache.stats().entries).toBe(1);
    expect(cache.stats().bytes).toBeLessThanOrEqual(20_000);
    await cache.closeAll();
  });

  it('never closes an entry under a lease: evicted while leased, it closes on the last release', async () => {
    const [a, b] = await Promise.all(['lease-a.nc', 'lease-b.nc'].map((n) => writeFile(n, [7, 8, 9])));
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 1 });
    const first = await cache.acquire(keyOf(a!), o.open(a!));
    const second = await cache.acquire(keyOf(a!), o.open(a!));
    const other = await cache.acquire(keyOf(b!), o.open(b!)); // a leaves the cache, still leased twice
    await other.release();
    expect(cache.stats().entries).toBe(1);
    expect(o.closes(a!)).toBe(0);
    expect(await values(first.value)).toEqual([7, 8, 9]);
    await first.release();
    await first.release(); // idempotent: does not count twice
    expect(o.closes(a!)).toBe(0);
    expect(await values(second.value)).toEqual([7, 8, 9]);
    await second.release();
    expect(o.closes(a!)).toBe(1);
    // A new acquire of a opens it again rather than reviving the closed entry.
    const again = await cache.acquire(keyOf(a!), o.open(a!));
    expect(await values(again.value)).toEqual([7, 8, 9]);
    await again.release();
    expect(o.opens(a!)).toBe(2);
    await cache.closeAll();
  });

  it('opens once for concurrent acquires of one key (single flight)', async () => {
    const a = await writeFile('flight.nc', [1, 2]);
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 4 });
    const leases = await Promise.all(Array.from({ length: 8 }, () => cache.acquire(keyOf(a), o.open(a))));
    expect(o.opens(a)).toBe(1);
    expect(new Set(leases.map((l) => l.value)).size).toBe(1);
    expect(cache.stats().leased).toBe(8);
    await Promise.all(leases.map((l) => l.release()));
    expect(cache.stats()).toMatchObject({ leased: 0, entries: 1 });
    expect(o.closes(a)).toBe(0);
    await cache.closeAll();
  });

  it('does not keep a failed open: every waiter gets the error, the next acquire retries', async () => {
    const a = join(dir, 'not-yet.nc');
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 4 });
    const key = { id: a, version: 'v1' };
    const failures = await Promise.all(
      [1, 2, 3].map(() => cache.acquire(key, o.open(a)).catch((e: unknown) => e)),
    );
    expect(o.opens(a)).toBe(1);
    for (const f of failures) expect(String(f)).toMatch(/not-yet\.nc/);
    expect(cache.stats()).toMatchObject({ entries: 0, leased: 0 });
    await writeFile('not-yet.nc', [5]);
    const lease = await cache.acquire(key, o.open(a));
    expect(await values(lease.value)).toEqual([5]);
    await lease.release();
    expect(o.opens(a)).toBe(2);
    await cache.closeAll();
  });

  it('forgets a memoised promise that rejected', async () => {
    const a = await writeFile('memo-fail.nc', [1]);
    const cache = new DatasetCache({ maxEntries: 4 });
    const lease = await cache.acquire(keyOf(a), opener().open(a));
    const key = new MemoKey<Promise<string>>('async');
    await expect(lease.memo(key, () => Promise.reject(new Error('transient')))).rejects.toThrow('transient');
    await new Promise((r) => setImmediate(r));
    await expect(lease.memo(key, () => Promise.resolve('ok'))).resolves.toBe('ok');
    await lease.release();
    await cache.closeAll();
  });

  it('closes idle entries on closeAll, leased ones on release, and keeps nothing afterwards', async () => {
    const [a, b] = await Promise.all(['all-a.nc', 'all-b.nc'].map((n) => writeFile(n, [1])));
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 4 });
    await (await cache.acquire(keyOf(a!), o.open(a!))).release();
    const leased = await cache.acquire(keyOf(b!), o.open(b!));
    await cache.closeAll();
    expect([o.closes(a!), o.closes(b!)]).toEqual([1, 0]);
    expect(await values(leased.value)).toEqual([1]);
    await leased.release();
    expect(o.closes(b!)).toBe(1);
    const late = await cache.acquire(keyOf(a!), o.open(a!));
    await late.release();
    expect([o.opens(a!), o.closes(a!)]).toEqual([2, 2]);
    expect(cache.stats().entries).toBe(0);
  });

  it('with admit: false uses a cached entry but keeps nothing it opened itself', async () => {
    const [a, b] = await Promise.all(['scan-a.nc', 'scan-b.nc'].map((n) => writeFile(n, [1])));
    const o = opener();
    const cache = new DatasetCache({ maxEntries: 1 });
    await (await cache.acquire(keyOf(a!), o.open(a!))).release();
    await (await cache.acquire(keyOf(a!), o.open(a!), { admit: false })).release();
    await (await cache.acquire(keyOf(b!), o.open(b!), { admit: false })).release();
    expect([o.opens(a!), o.closes(a!), o.opens(b!), o.closes(b!)]).toEqual([1, 0, 1, 1]);
    expect(cache.stats().entries).toBe(1);
    await cache.closeAll();
  });

  it('reopens a NetCDF-4 entry whose HDF5 worker was restarted', async () => {
    const nc4 = join(dir, 'features.nc');
    try {
      execFileSync('ncgen', [
        '-k',
        'nc4',
        '-o',
        nc4,
        join(__dirname, '../../test-fixtures/nc4_features.cdl'),
      ]);
    } catch (error) {
      throw new Error(`ncgen (apt-get install netcdf-bin) is needed: ${(error as Error).message}`);
    }
    const worker = new Hdf5Worker({ timeoutMs: 30_000 });
    let opens = 0;
    const open = async () => {
      opens++;
      return cacheableDataset(await FileByteSource.open(nc4), { worker });
    };
    const cache = new DatasetCache({ maxEntries: 4 });
    try {
      const first = await cache.acquire(keyOf(nc4), open);
      const lat = Array.from((await first.value.read('lat')) as Float64Array);
      await first.release();
      await worker.shutdown();
      const second = await cache.acquire(keyOf(nc4), open);
      expect(Array.from((await second.value.read('lat')) as Float64Array)).toEqual(lat);
      await second.release();
      expect(opens).toBe(2);
    } finally {
      await cache.closeAll();
      await worker.shutdown();
    }
  }, 60_000);
});
