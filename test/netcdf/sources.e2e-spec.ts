/**
 * Byte sources against real servers: S3 range GETs on the s3rver the e2e
 * harness starts, and HTTP Range requests on a local server. The same
 * metadata and hyperslabs must come out as from the local file, and
 * NetCDF-4 objects go through the bounded local cache.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'minio';
import {
  ByteSourceNotFoundError,
  HttpByteSource,
  LocalFileCache,
  S3ByteSource,
  extractCf,
  openNetcdf,
  type ByteSource,
} from '@climcat/netcdf';
import { testEnv } from '../harness/env';
import { makeTempDir, ncgen, requireTool } from './tools';

/** Counts requests so we can see coalescing and header-only reads. */
function counting(source: ByteSource): ByteSource & { reads: number; bytes: number } {
  const wrapped = Object.create(source) as ByteSource & { reads: number; bytes: number };
  wrapped.reads = 0;
  wrapped.bytes = 0;
  wrapped.read = async (offset, length) => {
    wrapped.reads++;
    wrapped.bytes += length;
    return source.read(offset, length);
  };
  return wrapped;
}

describe('S3 and HTTP byte sources', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let classic: string;
  let nc4: string;
  let client: Client;
  let bucket: string;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    requireTool('ncgen');
    tmp = await makeTempDir('climcat-sources-');
    classic = await ncgen('cmip5_tas_amon.cdl', '64-bit-offset', tmp.dir);
    nc4 = await ncgen('nc4_features.cdl', 'nc4', tmp.dir);
    const endpoint = new URL(testEnv('TEST_S3_ENDPOINT'));
    bucket = testEnv('TEST_S3_BUCKET');
    client = new Client({
      endPoint: endpoint.hostname,
      port: Number(endpoint.port),
      useSSL: false,
      accessKey: process.env.TEST_S3_ACCESS_KEY ?? 'S3RVER',
      secretKey: process.env.TEST_S3_SECRET_KEY ?? 'S3RVER',
      pathStyle: true,
    });
    await client.fPutObject(bucket, 'netcdf/tas.nc', classic);
    await client.fPutObject(bucket, 'netcdf/nc4.nc', nc4);

    const files: Record<string, Buffer> = { '/tas.nc': await readFile(classic) };
    server = createServer((req, res) => {
      const body = files[req.url ?? ''];
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (!m) {
        res.writeHead(200, { 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), body.length - 1);
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}`, 'content-length': b - a + 1 });
      res.end(body.subarray(a, b + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await tmp?.cleanup();
  });

  async function expectSameAsLocal(remote: ByteSource): Promise<void> {
    const local = await openNetcdf(classic);
    const ds = await openNetcdf(remote);
    try {
      expect(ds.metadata).toEqual(local.metadata);
      expect(await extractCf(ds)).toEqual(await extractCf(local));
      expect(await ds.read('tas', [1, 0, 1], [3, 3, 2], [1, 1, 2])).toEqual(
        await local.read('tas', [1, 0, 1], [3, 3, 2], [1, 1, 2]),
      );
    } finally {
      await ds.close();
      await local.close();
    }
  }

  it('reads a NetCDF-3 object from S3 with range GETs', async () => {
    const source = counting(new S3ByteSource(client, bucket, 'netcdf/tas.nc'));
    await expectSameAsLocal(source);
    expect(source.bytes).toBeLessThan(3 * (await source.size()));
  });

  it('reports a missing S3 object as not found', async () => {
    await expect(new S3ByteSource(client, bucket, 'netcdf/missing.nc').size()).rejects.toThrow(
      ByteSourceNotFoundError,
    );
  });

  it('reads a NetCDF-3 file over HTTP with Range requests', async () => {
    await expectSameAsLocal(counting(new HttpByteSource(`${baseUrl}/tas.nc`)));
    const ds = await openNetcdf(`${baseUrl}/tas.nc`);
    expect(ds.metadata.format).toBe('64bit-offset');
    await ds.close();
  });

  it('opens a NetCDF-4 object from S3 through the size-bounded local cache', async () => {
    const cache = new LocalFileCache({ dir: join(tmp.dir, 'cache'), maxBytes: 10 * 1024 * 1024 });
    const remote = await openNetcdf(new S3ByteSource(client, bucket, 'netcdf/nc4.nc'), { cache });
    const local = await openNetcdf(nc4);
    try {
      expect(remote.metadata).toEqual(local.metadata);
      expect(await remote.read('tas', [1, 0, 0], [2, 2, 3])).toEqual(
        await local.read('tas', [1, 0, 0], [2, 2, 3]),
      );
    } finally {
      await remote.close();
      await local.close();
    }
    await expect(
      openNetcdf(new S3ByteSource(client, bucket, 'netcdf/nc4.nc'), {
        cache: new LocalFileCache({ dir: join(tmp.dir, 'tiny'), maxBytes: 1024 }),
      }),
    ).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });
});
