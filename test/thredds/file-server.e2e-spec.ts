/**
 * /thredds/fileServer against real clients: curl-style range requests with
 * fetch, ncdump `#mode=bytes` (netCDF-C's byte-range reader) on NetCDF-3
 * and NetCDF-4, fsspec + h5netcdf, and netCDF-C's ~/.netrc support for a
 * restricted file; access and traversal refusals never send bytes.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { STORE, type Store } from '@climcat/core';
import { bearer, startApp, tempDir, type RunningApp } from '../harness/app';
import { s3TestClient, testEnv } from '../harness/env';
import { basic, catalogArchive, PATHS, writeArchive, type ThreddsArchive } from './thredds-archive';

const exec = promisify(execFile);

let running: RunningApp;
let root: string;
let outsideDir: string;
let archive: ThreddsArchive;
const BUCKET = `thredds-fs-${Date.now()}`;

const url = (path: string) => `${running.url}/thredds/fileServer/data/${path}`;

async function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(path.startsWith('http') ? path : url(path), { method, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A request with the path exactly as given (fetch and curl normalise `..` and `%2e%2e`). */
function rawGet(
  rawPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { hostname, port } = new URL(running.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function local(path: string): Buffer {
  return readFileSync(join(root, path));
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

beforeAll(async () => {
  root = tempDir('climcat-thredds-fs-');
  outsideDir = tempDir('climcat-thredds-outside-');
  const outside = await writeArchive(root, outsideDir);
  // An S3 root `obj` (bucket + key prefix) holding copies of two files.
  const s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  for (const path of [PATHS.nc4, PATHS.bytes]) await s3.putObject(BUCKET, `p/${path}`, local(path));
  running = await startApp({
    env: {
      DATA_ROOT: root,
      ROOTS: `obj=s3://${BUCKET}/p`,
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
    },
  });
  archive = { ...(await catalogArchive(running, root)), outside };
  const store = running.app.get<Store>(STORE);
  for (const path of [PATHS.nc4, PATHS.bytes]) {
    const record = await store.files.findByLocation({ root: 'data', path });
    await store.files.upsert({ ...record!, id: `${record!.id}/s3`, location: { root: 'obj', path } });
  }
});
afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

describe('whole files, HEAD and validators', () => {
  it('serves a public file whole with its validators', async () => {
    const res = await get(PATHS.nc3);
    expect(res.status).toBe(200);
    expect(res.body.equals(local(PATHS.nc3))).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/x-netcdf');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(local(PATHS.nc3).length));
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(res.headers.get('last-modified')!).getTime()).toBeGreaterThan(0);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await get(PATHS.bytes, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('300000');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.body.length).toBe(0);
  });

  it('answers If-None-Match and If-Modified-Since with 304, and a changed validator with 200', async () => {
    const first = await get(PATHS.bytes, {}, 'HEAD');
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    expect((await get(PATHS.bytes, { 'If-None-Match': etag })).status).toBe(304);
    expect((await get(PATHS.bytes, { 'If-None-Match': `"other", W/${etag}` })).status).toBe(304);
    expect((await get(PATHS.bytes, { 'If-Modified-Since': lastModified })).status).toBe(304);
    const changed = await get(PATHS.bytes, { 'If-None-Match': '"something-else"' });
    expect(changed.status).toBe(200);
    expect(changed.body.length).toBe(300_000);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    expect(
      (await get(PATHS.bytes, { 'If-None-Match': '"x"', 'If-Modified-Since': lastModified })).status,
    ).toBe(200);
    const older = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
    expect((await get(PATHS.bytes, { 'If-Modified-Since': older })).status).toBe(200);
    expect((await get(PATHS.bytes, { 'If-Match': '"nope"' })).status).toBe(412);
  });
});

describe('byte ranges', () => {
  const bytes = () => local(PATHS.bytes);

  it('serves a single, an open-ended and a suffix range', async () => {
    const single = await get(PATHS.bytes, { Range: 'bytes=100-199' });
    expect(single.status).toBe(206);
    expect(single.headers.get('content-range')).toBe('bytes 100-199/300000');
    expect(single.headers.get('content-length')).toBe('100');
    expect(single.body.equals(bytes().subarray(100, 200))).toBe(true);

    const open = await get(PATHS.bytes, { Range: 'bytes=299990-' });
    expect(open.headers.get('content-range')).toBe('bytes 299990-299999/300000');
    expect(open.body.equals(bytes().subarray(299_990))).toBe(true);

    const suffix = await get(PATHS.bytes, { Range: 'bytes=-7' });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe('bytes 299993-299999/300000');
    expect(suffix.body.equals(bytes().subarray(299_993))).toBe(true);

    // A last byte past the end is clipped; a suffix longer than the file is the whole file.
    const clipped = await get(PATHS.bytes, { Range: 'bytes=299999-400000' });
    expect(clipped.headers.get('content-range')).toBe('bytes 299999-299999/300000');
    const all = await get(PATHS.bytes, { Range: 'bytes=-500000' });
    expect(all.status).toBe(206);
    expect(all.body.equals(bytes())).toBe(true);
  });

  it('serves several ranges as multipart/byteranges with an exact Content-Length', async () => {
    const res = await get(PATHS.bytes, { Range: 'bytes=0-9, 1000-1019,-5' });
    expect(res.status).toBe(206);
    const type = res.headers.get('content-type')!;
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
    expect(boundary).toBeTruthy();
    expect(res.headers.get('content-length')).toBe(String(res.body.length));
    const parts = parseMultipart(res.body, boundary!);
    expect(parts.map((p) => p.range)).toEqual([
      'bytes 0-9/300000',
      'bytes 1000-1019/300000',
      'bytes 299995-299999/300000',
    ]);
    expect(parts[0]!.body.equals(bytes().subarray(0, 10))).toBe(true);
    expect(parts[1]!.body.equals(bytes().subarray(1000, 1020))).toBe(true);
    expect(parts[2]!.body.equals(bytes().subarray(299_995))).toBe(true);
    expect(parts.every((p) => p.type === 'application/x-netcdf')).toBe(true);
  });

  it('refuses unsatisfiable, malformed, overlapping and too many ranges with 416 and bytes */size', async () => {
    const cases: [string, RegExp][] = [
      ['bytes=300000-', /starts before the end/],
      ['bytes=400000-500000', /starts before the end/],
      ['bytes=-0', /starts before the end/],
      ['bytes=20-10', /ends before it starts/],
      ['bytes=abc', /not first-last/],
      ['bytes=1-2-3', /not first-last/],
      ['bytes=-', /not first-last/],
      ['bytes=', /names no byte range/],
      ['bytes=0-99,50-150', /overlap/],
      ['nonsense', /not unit=ranges/],
      [
        Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 1}`)
          .join(',')
          .replace(/^/, 'bytes='),
        /17 ranges; at most 16/,
      ],
    ];
    for (const [range, reason] of cases) {
      const res = await get(PATHS.bytes, { Range: range });
      expect({ range, status: res.status }).toEqual({ range, status: 416 });
      expect(res.headers.get('content-range')).toBe('bytes */300000');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body.toString()).detail).toMatch(reason);
    }
    // Ranges beyond the end are dropped when another one is satisfiable.
    const mixed = await get(PATHS.bytes, { Range: 'bytes=5-6,900000-' });
    expect(mixed.status).toBe(206);
    expect(mixed.headers.get('content-range')).toBe('bytes 5-6/300000');
    // Another unit is ignored: the whole file.
    const other = await get(PATHS.bytes, { Range: 'items=0-5' });
    expect(other.status).toBe(200);
    expect(other.body.length).toBe(300_000);
  });

  it('applies If-Range only while the validator matches', async () => {
    const head = await get(PATHS.bytes, {}, 'HEAD');
    const etag = head.headers.get('etag')!;
    const lastModified = head.headers.get('last-modified')!;
    expect((await get(PATHS.bytes, { Range: 'bytes=0-3', 'If-Range': etag })).status).toBe(206);
    expect((await get(PATHS.bytes, { Range: 'bytes=0-3', 'If-Range': lastModified })).status).toBe(206);
    const stale = await get(PATHS.bytes, { Range: 'bytes=0-3', 'If-Range': '"stale"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(300_000);
    // Weak validators never match If-Range.
    expect((await get(PATHS.bytes, { Range: 'bytes=0-3', 'If-Range': `W/${etag}` })).status).toBe(200);
  });

  it('answers HEAD with a range like GET, without a body', async () => {
    const res = await get(PATHS.bytes, { Range: 'bytes=10-19' }, 'HEAD');
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/300000');
    expect(res.headers.get('content-length')).toBe('10');
    expect(res.body.length).toBe(0);
  });
});

/*
 * netCDF-C's own byte-range reader (`ncdump -h '<url>#mode=bytes'`) cannot be
 * exercised here: Debian's libnetcdf19 4.9.0 is built without it (ncdump makes
 * no request and reports ENOENT; checked against a plain listening socket).
 * The same protocol is exercised with fsspec (aiohttp) below and with curl.
 */
describe('real clients', () => {
  it('fsspec reads NetCDF-3 in small blocks equal to the local file, and netCDF4 parses it', async () => {
    const script = `
import sys, fsspec, netCDF4, numpy as np
url, path = sys.argv[1], sys.argv[2]
fs = fsspec.filesystem("http")
assert fs.info(url)["size"] == len(open(path, "rb").read())
with fs.open(url, "rb", block_size=64, cache_type="bytes") as f:
    local = open(path, "rb").read()
    for at in (0, 3, 100, len(local) - 10):
        f.seek(at)
        assert f.read(17) == local[at:at + 17], at
    f.seek(0)
    data = f.read()
remote = netCDF4.Dataset("remote", memory=data)
here = netCDF4.Dataset(path)
for name in here.variables:
    a, b = remote.variables[name][...], here.variables[name][...]
    assert a.dtype == b.dtype and np.ma.allequal(a, b), name
print(len(here.variables))
`;
    const { stdout } = await exec('/usr/bin/python3', ['-c', script, url(PATHS.nc3), join(root, PATHS.nc3)], {
      encoding: 'utf8',
    });
    expect(Number(stdout.trim())).toBeGreaterThan(3);
  });

  it('fsspec + h5netcdf read NetCDF-4 values equal to the local file', async () => {
    const script = `
import sys, fsspec, h5netcdf, numpy as np
url, path = sys.argv[1], sys.argv[2]
fs = fsspec.filesystem("http")
with fs.open(url, "rb", block_size=4096) as f, h5netcdf.File(f, "r") as remote, h5netcdf.File(path, "r") as here:
    names = sorted(k for k in here.variables)
    assert sorted(remote.variables) == names, (sorted(remote.variables), names)
    for name in names:
        a, b = remote.variables[name][...], here.variables[name][...]
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    print(len(names), float(remote.variables["tas"][...].sum()))
`;
    const { stdout } = await exec('/usr/bin/python3', ['-c', script, url(PATHS.nc4), join(root, PATHS.nc4)], {
      encoding: 'utf8',
    });
    expect(stdout).toMatch(/^\d+ /);
  });
});

describe('S3 roots (ranged GETs)', () => {
  const s3url = (path: string) => `${running.url}/thredds/fileServer/obj/${path}`;

  it('serves whole objects, ranges, several ranges and HEAD with the object ETag', async () => {
    const whole = await get(s3url(PATHS.bytes));
    expect(whole.status).toBe(200);
    expect(whole.body.equals(local(PATHS.bytes))).toBe(true);
    expect(whole.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    const range = await get(s3url(PATHS.bytes), { Range: 'bytes=1000-1099' });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe('bytes 1000-1099/300000');
    expect(range.body.equals(local(PATHS.bytes).subarray(1000, 1100))).toBe(true);
    const suffix = await get(s3url(PATHS.bytes), { Range: 'bytes=-3' });
    expect(suffix.body.equals(local(PATHS.bytes).subarray(-3))).toBe(true);
    const multi = await get(s3url(PATHS.bytes), { Range: 'bytes=0-1,10-11' });
    const boundary = /boundary=(\S+)$/.exec(multi.headers.get('content-type')!)![1]!;
    expect(parseMultipart(multi.body, boundary).map((p) => p.body)).toEqual([
      local(PATHS.bytes).subarray(0, 2),
      local(PATHS.bytes).subarray(10, 12),
    ]);
    const head = await get(s3url(PATHS.bytes), {}, 'HEAD');
    expect(head.headers.get('content-length')).toBe('300000');
    expect((await get(s3url(PATHS.bytes), { 'If-None-Match': whole.headers.get('etag')! })).status).toBe(304);
    expect((await get(s3url(PATHS.bytes), { Range: 'bytes=300000-' })).status).toBe(416);
  });

  it('lets fsspec + h5netcdf read a NetCDF-4 object equal to the local file', async () => {
    const script = `
import sys, fsspec, h5netcdf, numpy as np
with fsspec.filesystem("http").open(sys.argv[1], "rb", block_size=2048) as f, h5netcdf.File(f, "r") as remote, h5netcdf.File(sys.argv[2], "r") as here:
    assert np.array_equal(remote.variables["tas"][...], here.variables["tas"][...])
    print("ok")
`;
    const { stdout } = await exec(
      '/usr/bin/python3',
      ['-c', script, s3url(PATHS.nc4), join(root, PATHS.nc4)],
      {
        encoding: 'utf8',
      },
    );
    expect(stdout.trim()).toBe('ok');
  });
});

describe('access', () => {
  it('asks anonymous callers for credentials on a restricted and on a nonexistent file, with no bytes', async () => {
    for (const path of [PATHS.secret, 'cmip5/no/such/file.nc']) {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/Basic realm="climcat"/);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('hides a restricted file from another group (404) and serves it to a reader, with Bearer or Basic', async () => {
    const other = await get(PATHS.secret, bearer(archive.otherKey));
    expect(other.status).toBe(404);
    expect(other.headers.get('www-authenticate')).toBeNull();
    expect((await get(PATHS.secret, basic(archive.otherKey))).status).toBe(404);
    const reader = await get(PATHS.secret, bearer(archive.readerKey));
    expect(reader.status).toBe(200);
    expect(reader.body.equals(local(PATHS.secret))).toBe(true);
    const viaBasic = await get(PATHS.secret, { ...basic(archive.readerKey), Range: 'bytes=0-3' });
    expect(viaBasic.status).toBe(206);
    expect(viaBasic.body.toString('latin1')).toBe('CDF\x01');
    // A wrong key is not anonymous: 401, never the file.
    expect((await get(PATHS.secret, basic('not-a-key'))).status).toBe(401);
  });

  it('serves a restricted file through ~/.netrc to curl and to python-requests, with Basic to fsspec, and refuses without it', async () => {
    const home = tempDir('climcat-home-');
    try {
      const netrc = join(home, '.netrc');
      const env = { ...process.env, HOME: home };
      const curl = (...args: string[]) =>
        exec('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args, url(PATHS.secret)], { env });
      expect((await curl('--netrc-optional')).stdout).toBe('401');
      writeFileSync(netrc, `machine 127.0.0.1 login climcat password ${archive.readerKey}\n`, {
        mode: 0o600,
      });
      expect((await curl('--netrc')).stdout).toBe('200');
      // python-requests reads ~/.netrc by itself (aiohttp 3.8 does not; fsspec gets the key as Basic below).
      const script = `
import sys, requests
r = requests.get(sys.argv[1], headers={"Range": "bytes=0-3"})
print(r.status_code, r.content)
`;
      const py = () => exec('/usr/bin/python3', ['-c', script, url(PATHS.secret)], { env, encoding: 'utf8' });
      expect((await py()).stdout.trim()).toBe("206 b'CDF\\x01'");
      const fsspec = `
import sys, aiohttp, fsspec
fs = fsspec.filesystem("http", client_kwargs={"auth": aiohttp.BasicAuth("climcat", sys.argv[2])})
with fs.open(sys.argv[1], "rb", block_size=16) as f:
    f.seek(1)
    print(f.read(3))
`;
      const viaFsspec = await exec('/usr/bin/python3', ['-c', fsspec, url(PATHS.secret), archive.readerKey], {
        encoding: 'utf8',
      });
      expect(viaFsspec.stdout.trim()).toBe("b'DF\\x01'");
      writeFileSync(netrc, `machine 127.0.0.1 login climcat password ${archive.otherKey}\n`, { mode: 0o600 });
      expect((await curl('--netrc')).stdout).toBe('404');
      expect((await py()).stdout).toMatch(/^404 /);
      rmSync(netrc);
      expect((await py()).stdout).toMatch(/^401 /);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('traversal and paths outside the catalog', () => {
  it('never serves bytes for traversal, encoded traversal, absolute paths, NUL, symlinks or uncatalogued files', async () => {
    const secret = local(PATHS.secret);
    const cases = [
      '/thredds/fileServer/data/../../../etc/passwd',
      '/thredds/fileServer/data/%2e%2e/%2e%2e/etc/passwd',
      '/thredds/fileServer/data/%2E%2E%2Fetc%2Fpasswd',
      '/thredds/fileServer/data/%252e%252e/%252e%252e/etc/passwd',
      '/thredds/fileServer//etc/passwd',
      '/thredds/fileServer/etc/passwd',
      `/thredds/fileServer/data/${PATHS.nc3}%00.txt`,
      `/thredds/fileServer/data/${PATHS.nc3.replace(/\//g, '%2F')}`,
      `/thredds/fileServer/data/${PATHS.escape}`,
      `/thredds/fileServer/data/${PATHS.uncatalogued}`,
      `/thredds/fileServer/data/${PATHS.secret.replace('/pr/', '/pr/./')}`,
      `/thredds/fileServer/data/${PATHS.secret.replace('/pr/', '/pr/../pr/')}`,
      `/thredds/fileServer/data`,
    ];
    for (const headers of [{}, bearer(archive.readerKey)]) {
      for (const path of cases) {
        const res = await rawGet(path, headers);
        expect({ path, refused: [400, 401, 404].includes(res.status) }).toEqual({ path, refused: true });
        expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
        expect(res.body.includes(Buffer.from('outside every root'))).toBe(false);
        expect(res.body.includes(secret.subarray(0, 64))).toBe(false);
        expect(res.body.toString()).not.toMatch(/root:|\/tmp\//);
      }
    }
    // The catalogued symlink: refused for a reader too, naming why.
    const escape = await rawGet(`/thredds/fileServer/data/${PATHS.escape}`, bearer(archive.readerKey));
    expect(escape.status).toBe(400);
    expect(JSON.parse(escape.body.toString()).detail).toMatch(/outside its root/);
  });

  it('closes the file when the client disconnects mid-stream, and leaks no descriptors', async () => {
    const before = openFds();
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const res = await fetch(url(PATHS.bytes), { signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
    }
    for (let i = 0; i < 5; i++) {
      await get(PATHS.bytes, { Range: 'bytes=0-1,5-6' });
      await get(PATHS.nc3);
      await get(PATHS.nc3, { Range: 'bytes=0-3' });
      await get(PATHS.nc3, { Range: 'bytes=9999999-' });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(openFds()).toBeLessThanOrEqual(before + 2);
  });
});

function parseMultipart(body: Buffer, boundary: string): { type: string; range: string; body: Buffer }[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: { type: string; range: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const after = at + delimiter.length;
    if (body.subarray(after, after + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', after);
    const headers = body
      .subarray(after + 2, headerEnd)
      .toString()
      .split('\r\n');
    const next = body.indexOf(delimiter, headerEnd + 4);
    const field = (name: string) =>
      headers
        .find((h) => h.toLowerCase().startsWith(`${name}:`))!
        .slice(name.length + 1)
        .trim();
    parts.push({
      type: field('content-type'),
      range: field('content-range'),
      body: body.subarray(headerEnd + 4, next),
    });
    at = next;
  }
  return parts;
}
