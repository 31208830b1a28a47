import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteSourceError, ByteSourceNotFoundError } from '../errors';
import { coalesceRanges, MemoryByteSource, readRanges, readSpan } from './byte-source';
import { FileByteSource } from './file-byte-source';
import { HttpByteSource } from './http-byte-source';
import { LocalFileCache } from './local-cache';
import { preadWorker } from './pread-worker';

const payload = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 251);

describe('coalesceRanges', () => {
  it('merges adjacent, overlapping and nearby ranges, bounded in span', () => {
    const ranges = [
      { offset: 100, length: 10 },
      { offset: 0, length: 10 },
      { offset: 10, length: 5 },
      { offset: 12, length: 10 },
      { offset: 1000, length: 10 },
    ];
    expect(coalesceRanges(ranges, { maxGap: 50 })).toEqual([
      { offset: 0, length: 22, members: [1, 2, 3] },
      { offset: 100, length: 10, members: [0] },
      { offset: 1000, length: 10, members: [4] },
    ]);
    expect(coalesceRanges(ranges, { maxGap: 100 })[0]).toEqual({
      offset: 0,
      length: 110,
      members: [1, 2, 3, 0],
    });
    expect(coalesceRanges(ranges, { maxGap: 100, maxSpan: 20 }).map((r) => r.members)).toEqual([
      [1, 2],
      [3],
      [0],
      [4],
    ]);
  });

  it('returns each requested range from one read', async () => {
    const src = new MemoryByteSource(payload);
    const spy = jest.spyOn(src, 'read');
    const out = await readRanges(src, [
      { offset: 50, length: 3 },
      { offset: 10, length: 4 },
      { offset: 12, length: 4 },
    ]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(Array.from(out[0] as Uint8Array)).toEqual(Array.from(payload.subarray(50, 53)));
    expect(Array.from(out[2] as Uint8Array)).toEqual(Array.from(payload.subarray(12, 16)));
  });

  it('splits spans larger than the per-read limit', async () => {
    const src = new MemoryByteSource(payload, 'mem', 1000);
    const spy = jest.spyOn(src, 'read');
    expect(await readSpan(src, 100, 3500)).toEqual(payload.subarray(100, 3600));
    expect(spy).toHaveBeenCalledTimes(4);
    await expect(src.read(0, 1001)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(src.read(9999, 2)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
  });
});

describe('FileByteSource', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'climcat-bytes-'));
    await writeFile(join(dir, 'f.bin'), payload);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads at offsets and refuses reads past the end', async () => {
    const src = await FileByteSource.open(join(dir, 'f.bin'));
    expect(await src.size()).toBe(10_000);
    expect(await src.read(9990, 10)).toEqual(payload.subarray(9990));
    await expect(src.read(9995, 10)).rejects.toThrow(ByteSourceError);
    await src.close();
    await expect(src.read(0, 1)).rejects.toThrow(/after close/);
  });

  it('reports missing files as not found', async () => {
    await expect(FileByteSource.open(join(dir, 'missing.nc'))).rejects.toThrow(ByteSourceNotFoundError);
  });

  it('starts the read worker on the first run of reads, not on open or plain reads', async () => {
    const src = await FileByteSource.open(join(dir, 'f.bin'));
    await src.read(0, 100);
    // A header reader (the ingestor) never needs the thread.
    expect(preadWorker().started).toBe(false);
    const target = new Uint8Array(new SharedArrayBuffer(20));
    // One block of 100 bytes at 1000, two runs of 10 bytes 50 apart.
    await src.readRuns({ ops: [1000, 100, 1, 0, 10, 50, 2] }, target);
    expect(preadWorker().started).toBe(true);
    expect(target).toEqual(
      Uint8Array.from([...payload.subarray(1000, 1010), ...payload.subarray(1050, 1060)]),
    );
    await src.close();
  });

  it('copies short and long runs of several blocks to the target in order', async () => {
    const src = await FileByteSource.open(join(dir, 'f.bin'));
    // Block 1 (0..9000): 3 long runs of 2,500 bytes 3,000 apart, then 40 short runs of 3 bytes
    // 7 apart (gathered locally first). Block 2 (9,500..10,000): one run of 500 bytes.
    // Block 3 (0..1000): 400 short runs of 200 bytes 1 apart, 80,000 bytes in all, more than
    // the worker's first 64 KiB gathering buffer.
    const shortFrom = 9000 - 7 * 40 - 100;
    const target = new Uint8Array(new SharedArrayBuffer(3 * 2500 + 40 * 3 + 500 + 400 * 200));
    await src.readRuns(
      {
        // prettier-ignore
        ops: [
          0, 9000, 2, 0, 2500, 3000, 3, shortFrom, 3, 7, 40,
          9500, 500, 1, 0, 500, 0, 1,
          0, 1000, 1, 0, 200, 1, 400,
        ],
      },
      target,
    );
    const expected = [
      ...[0, 3000, 6000].flatMap((at) => [...payload.subarray(at, at + 2500)]),
      ...Array.from({ length: 40 }, (_, r) => [
        ...payload.subarray(shortFrom + 7 * r, shortFrom + 7 * r + 3),
      ]).flat(),
      ...payload.subarray(9500, 10_000),
      ...Array.from({ length: 400 }, (_, r) => [...payload.subarray(r, r + 200)]).flat(),
    ];
    expect(Buffer.from(target).equals(Buffer.from(expected))).toBe(true);
    await src.close();
  });
});

describe('HttpByteSource', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/missing.nc') {
        res.writeHead(404).end();
        return;
      }
      const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (req.url === '/norange.nc' || !range) {
        res.writeHead(200, { 'content-length': payload.length });
        res.end(req.method === 'HEAD' ? undefined : Buffer.from(payload));
        return;
      }
      const a = Number(range[1]);
      const b = Math.min(Number(range[2]), payload.length - 1);
      res.writeHead(206, {
        'content-range': `bytes ${a}-${b}/${payload.length}`,
        'content-length': b - a + 1,
      });
      res.end(Buffer.from(payload.subarray(a, b + 1)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads ranges with 206 responses', async () => {
    const src = new HttpByteSource(`${base}/file.nc`);
    expect(await src.size()).toBe(10_000);
    expect(await src.read(1234, 100)).toEqual(payload.subarray(1234, 1334));
  });

  it('refuses a server that ignores Range instead of downloading the whole file', async () => {
    const src = new HttpByteSource(`${base}/norange.nc`);
    await expect(src.read(0, 10)).rejects.toMatchObject({ code: 'RANGE_NOT_SUPPORTED' });
  });

  it('maps 404 to not found and hides credentials in descriptions', async () => {
    const src = new HttpByteSource(`http://user:secret@127.0.0.1:${new URL(base).port}/missing.nc`);
    expect(src.description).not.toMatch(/secret/);
    await expect(src.size()).rejects.toThrow(ByteSourceNotFoundError);
  });

  it('copies remote objects into a bounded local cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'climcat-cache-'));
    try {
      const cache = new LocalFileCache({ dir, maxBytes: 25_000, copyChunkBytes: 4096 });
      const path = await cache.materialize(new HttpByteSource(`${base}/file.nc`));
      const local = await FileByteSource.open(path);
      expect(await local.read(0, 10_000)).toEqual(payload);
      await local.close();
      expect(await cache.materialize(new HttpByteSource(`${base}/file.nc`))).toBe(path);
      await expect(
        new LocalFileCache({ dir, maxBytes: 5000 }).materialize(new HttpByteSource(`${base}/file.nc`)),
      ).rejects.toMatchObject({ code: 'TOO_LARGE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
