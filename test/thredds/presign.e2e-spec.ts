/**
 * /thredds/s3: presigned GET redirects for catalogued S3 objects, against the
 * harness's s3rver. curl -L and python-requests follow the redirect and get
 * the object's bytes; boto3 recomputes the SigV4 signature (s3rver checks
 * expiry but not V4 signatures); an expired URL is refused by s3rver; access
 * is checked before any URL is made; POSIX files point at the file server.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { STORE, type Store } from '@climcat/core';
import { ADMIN, bearer, startApp, tempDir, type RunningApp } from '../harness/app';
import { s3TestClient, testEnv } from '../harness/env';
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

jest.setTimeout(90_000);

const exec = promisify(execFile);
const BUCKET = `presign-${Date.now()}`;
/** Catalogued in the S3 root but never uploaded. */
const MISSING = PATHS.nc3.replace(/\.nc$/, '-missing.nc');
/** A key that needs percent-encoding (space, `+`, parentheses, non-ASCII): the bytes of PATHS.bytes. */
const ODD = PATHS.bytes.replace(/[^/]+$/, 'odd name+1 (é).nc');

let root: string;
let outsideDir: string;
let running: RunningApp;
let archive: ThreddsArchive;

/** An app with DATA_ROOT = `root` and the S3 root `obj` holding copies of three files (one restricted). */
async function startWithS3(
  env: Record<string, string> = {},
): Promise<{ app: RunningApp; keys: ThreddsArchive }> {
  const app = await startApp({
    env: {
      DATA_ROOT: root,
      ROOTS: `obj=s3://${BUCKET}/p`,
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      ...env,
    },
  });
  const keys = { ...(await catalogArchive(app, root)), outside: '' };
  const store = app.app.get<Store>(STORE);
  for (const [path, as] of [
    [PATHS.nc4, PATHS.nc4],
    [PATHS.bytes, PATHS.bytes],
    [PATHS.secret, PATHS.secret],
    [PATHS.nc3, MISSING],
    [PATHS.bytes, ODD],
  ] as const) {
    const record = await store.files.findByLocation({ root: 'data', path });
    await store.files.upsert({
      ...record!,
      id: `${record!.id}/s3${as === MISSING ? '-missing' : as === ODD ? '-odd' : ''}`,
      location: { root: 'obj', path: as },
    });
  }
  return { app, keys };
}

/** /usr/bin/python3 when it has boto3 (python3-boto3), else the python3 on PATH; fails saying what to install. */
async function pythonWithBoto3(): Promise<string> {
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      await exec(python, ['-c', 'import boto3, requests']);
      return python;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'no python3 can import boto3 and requests: install them with "apt-get install python3-boto3 python3-requests"',
  );
}

const s3Url = (path: string, app = running) =>
  `${app.url}/thredds/s3/obj/${path.split('/').map(encodeURIComponent).join('/')}`;
const local = (path: string) => readFileSync(join(root, path));

/** One request, redirects not followed, the path exactly as given (fetch and curl normalise `..`). */
function raw(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  app = running,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers, method }, (res) => {
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

const rawS3 = (path: string, headers: Record<string, string> = {}, method = 'GET', app = running) =>
  raw(new URL(s3Url(path, app)).pathname, headers, method, app);

beforeAll(async () => {
  root = tempDir('climcat-presign-');
  outsideDir = tempDir('climcat-presign-outside-');
  await writeArchive(root, outsideDir);
  const s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  for (const path of [PATHS.nc4, PATHS.bytes, PATHS.secret])
    await s3.putObject(BUCKET, `p/${path}`, local(path));
  await s3.putObject(BUCKET, `p/${ODD}`, local(PATHS.bytes));
  ({ app: running, keys: archive } = await startWithS3());
});
afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

describe('the redirect', () => {
  it('answers GET with a 307 to a presigned URL of the object, valid 15 minutes, never cached', async () => {
    const res = await rawS3(PATHS.bytes);
    expect(res.status).toBe(307);
    expect(res.headers['cache-control']).toBe('no-store');
    const location = new URL(String(res.headers.location));
    expect(location.origin).toBe(new URL(testEnv('TEST_S3_ENDPOINT')).origin);
    expect(decodeURIComponent(location.pathname)).toBe(`/${BUCKET}/p/${PATHS.bytes}`);
    expect(location.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(location.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(location.searchParams.get('X-Amz-Credential')).toMatch(
      /^S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request$/,
    );
    const signed = Date.parse(
      location.searchParams
        .get('X-Amz-Date')!
        .replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    expect(Math.abs(Date.now() - signed)).toBeLessThan(60_000);
    // The object store's bytes behind it.
    const object = await fetch(location);
    expect(object.status).toBe(200);
    expect(Buffer.from(await object.arrayBuffer()).equals(local(PATHS.bytes))).toBe(true);
  });

  it('curl -L follows it and gets the bytes of the object, whole and by Range', async () => {
    const dir = tempDir('climcat-presign-curl-');
    try {
      const out = join(dir, 'out.nc');
      const { stdout } = await exec('curl', [
        '-sS',
        '-L',
        '-o',
        out,
        '-w',
        '%{http_code} %{num_redirects}',
        s3Url(PATHS.nc4),
      ]);
      expect(stdout).toBe('200 1');
      expect(readFileSync(out).equals(local(PATHS.nc4))).toBe(true);
      const ranged = await exec('curl', [
        '-sS',
        '-L',
        '-r',
        '100-199',
        '-o',
        out,
        '-w',
        '%{http_code}',
        s3Url(PATHS.bytes),
      ]);
      expect(ranged.stdout).toBe('206');
      expect(readFileSync(out).equals(local(PATHS.bytes).subarray(100, 200))).toBe(true);
      const odd = await exec('curl', ['-sS', '-L', '-o', out, '-w', '%{http_code}', s3Url(ODD)]);
      expect(odd.stdout).toBe('200');
      expect(readFileSync(out).equals(local(PATHS.bytes))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('python-requests follows it to the bytes, and boto3 signs the same URL (s3rver does not check V4 signatures)', async () => {
    const script = `
import sys, datetime, urllib.parse, requests, boto3, botocore.auth
from botocore.config import Config
args = sys.argv[1:]
for url, path in zip(args[::2], args[1::2]):
    r = requests.get(url, allow_redirects=False)
    assert r.status_code == 307 and r.headers["Cache-Control"] == "no-store", (r.status_code, r.headers)
    location = r.headers["Location"]
    followed = requests.get(url)
    assert [h.status_code for h in followed.history] == [307], followed.history
    assert followed.status_code == 200 and followed.content == open(path, "rb").read(), url
    # Recompute the signature with botocore at the URL's own X-Amz-Date.
    u = urllib.parse.urlsplit(location)
    q = dict(urllib.parse.parse_qsl(u.query))
    at = datetime.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *a, **k: at
    else:  # botocore < 1.31 (Debian 12's) reads datetime.datetime.utcnow()
        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return at
        botocore.auth.datetime = type("frozen", (), {"datetime": Frozen})
    s3 = boto3.client("s3", endpoint_url=f"{u.scheme}://{u.netloc}", aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER", region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket, key = urllib.parse.unquote(u.path).lstrip("/").split("/", 1)
    mine = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
        ExpiresIn=int(q["X-Amz-Expires"]))
    theirs = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(mine).query))
    assert theirs["X-Amz-Signature"] == q["X-Amz-Signature"], (mine, location)
    print("ok", key.rsplit("/", 1)[-1], len(followed.content))
`;
    const { stdout } = await exec(
      await pythonWithBoto3(),
      ['-c', script, s3Url(PATHS.bytes), join(root, PATHS.bytes), s3Url(ODD), join(root, PATHS.bytes)],
      { encoding: 'utf8' },
    );
    expect(stdout.trim().split('\n')).toEqual(['ok random-bytes.nc 300000', 'ok odd name+1 (é).nc 300000']);
  });

  it('answers HEAD with the size and validators, without Location', async () => {
    const res = await rawS3(PATHS.bytes, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('300000');
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(Date.parse(String(res.headers['last-modified']))).toBeGreaterThan(0);
    expect(res.body.length).toBe(0);
    const nc4 = await rawS3(PATHS.nc4, {}, 'HEAD');
    expect(nc4.headers['content-length']).toBe(String(local(PATHS.nc4).length));
    expect(nc4.headers['content-type']).toBe('application/x-netcdf');
  });

  it('for an object catalogued but gone: HEAD says so, GET redirects and S3 answers 404', async () => {
    const head = await rawS3(MISSING, {}, 'HEAD');
    expect(head.status).toBe(404);
    const get = await rawS3(MISSING);
    expect(get.status).toBe(307);
    expect((await fetch(String(get.headers.location))).status).toBe(404);
  });
});

describe('expiry and the public endpoint', () => {
  let short: RunningApp;
  beforeAll(async () => {
    // Same store, reached by another name: clients get URLs signed for it.
    const publicEndpoint = `http://localhost:${new URL(testEnv('TEST_S3_ENDPOINT')).port}`;
    ({ app: short } = await startWithS3({
      THREDDS_S3_PRESIGN_EXPIRY: '1',
      S3_PUBLIC_ENDPOINT: publicEndpoint,
    }));
  });
  afterAll(async () => {
    await short?.close();
  });

  it('signs for S3_PUBLIC_ENDPOINT, and s3rver refuses the URL once THREDDS_S3_PRESIGN_EXPIRY (1 s) has passed', async () => {
    const res = await rawS3(PATHS.bytes, {}, 'GET', short);
    expect(res.status).toBe(307);
    const location = new URL(String(res.headers.location));
    expect(location.host).toBe(`localhost:${new URL(testEnv('TEST_S3_ENDPOINT')).port}`);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('1');
    // X-Amz-Date has whole seconds: after 2.1 s the URL is past its expiry whatever the sub-second.
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await fetch(location.href.replace('//localhost:', '//127.0.0.1:'));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/Request has expired/);
    // A fresh redirect works again.
    const again = await rawS3(PATHS.bytes, {}, 'GET', short);
    const fresh = await fetch(String(again.headers.location).replace('//localhost:', '//127.0.0.1:'));
    expect(fresh.status).toBe(200);
    expect(Buffer.from(await fresh.arrayBuffer()).equals(local(PATHS.bytes))).toBe(true);
  });
});

describe('clients with ~/.netrc', () => {
  let named: RunningApp;
  let home: string;
  const port = () => new URL(testEnv('TEST_S3_ENDPOINT')).port;
  beforeAll(async () => {
    // The store under another host name than climcat's (127.0.0.1), as in any real deployment.
    ({ app: named } = await startWithS3({ S3_PUBLIC_ENDPOINT: `http://localhost:${port()}` }));
    home = tempDir('climcat-presign-home-');
    const key = (
      await api(named, 'POST', '/api/v1/auth/keys', {
        headers: ADMIN,
        body: { name: 'netrc', roles: ['reader'], groups: ['eucp'] },
      })
    ).body.key as string;
    writeFileSync(join(home, '.netrc'), `machine 127.0.0.1 login climcat password ${key}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await named?.close();
    rmSync(home, { recursive: true, force: true });
  });
  const env = () => ({ ...process.env, HOME: home });
  const curl = (url: string, out: string) =>
    exec('curl', ['-sS', '-L', '--netrc', '-o', out, '-w', '%{http_code} %{num_redirects}', url], {
      env: env(),
    });

  it('curl -L --netrc and python-requests get a restricted object', async () => {
    const out = join(home, 'out.nc');
    expect((await curl(s3Url(PATHS.secret, named), out)).stdout).toBe('200 1');
    expect(readFileSync(out).equals(local(PATHS.secret))).toBe(true);
    const script = `
import sys, requests
r = requests.get(sys.argv[1])
print(r.status_code, [h.status_code for h in r.history], len(r.content))
`;
    const py = await exec('/usr/bin/python3', ['-c', script, s3Url(PATHS.secret, named)], {
      env: env(),
      encoding: 'utf8',
    });
    expect(py.stdout.trim()).toBe(`200 [307] ${local(PATHS.secret).length}`);
  });

  it("documents the pitfall: a store under climcat's own host name gets the netrc password too, and refuses", async () => {
    // s3rver, like S3 and MinIO, allows one auth mechanism: Basic plus a presigned query is a 400.
    const own = tempDir('climcat-presign-home-');
    try {
      writeFileSync(join(own, '.netrc'), `machine 127.0.0.1 login climcat password ${archive.readerKey}\n`, {
        mode: 0o600,
      });
      const out = join(own, 'err.xml');
      const res = await exec(
        'curl',
        ['-sS', '-L', '--netrc', '-o', out, '-w', '%{http_code} %{num_redirects}', s3Url(PATHS.secret)],
        { env: { ...process.env, HOME: own } },
      );
      expect(res.stdout).toBe('400 1');
      expect(readFileSync(out, 'utf8')).toMatch(/Only one auth mechanism allowed/);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('access', () => {
  const noUrl = (res: { headers: Record<string, unknown>; body: Buffer }) => {
    expect(res.headers.location).toBeUndefined();
    expect(res.body.toString()).not.toMatch(/X-Amz|presign-\d+|127\.0\.0\.1:\d+\/presign/);
  };

  it('asks anonymous callers for credentials on a restricted and a nonexistent object, with no URL', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const path of [PATHS.secret, 'cmip5/no/such/file.nc']) {
        const res = await rawS3(path, {}, method);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
        expect(res.headers['www-authenticate']).toMatch(/Basic realm="climcat"/);
        expect(res.headers['cache-control']).toBe('no-store');
        noUrl(res);
      }
    }
    const res = await rawS3(PATHS.secret);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it("hides a restricted object from another group's key (404), and redirects its group's reader (307)", async () => {
    for (const headers of [bearer(archive.otherKey), basic(archive.otherKey)]) {
      const res = await rawS3(PATHS.secret, headers);
      expect(res.status).toBe(404);
      expect(res.headers['www-authenticate']).toBeUndefined();
      noUrl(res);
      expect((await rawS3(PATHS.secret, headers, 'HEAD')).status).toBe(404);
    }
    // A wrong key is not anonymous: 401, never a URL.
    const wrong = await rawS3(PATHS.secret, basic('not-a-key'));
    expect(wrong.status).toBe(401);
    noUrl(wrong);
    for (const headers of [bearer(archive.readerKey), basic(archive.readerKey)]) {
      const res = await rawS3(PATHS.secret, headers);
      expect(res.status).toBe(307);
      const object = await fetch(String(res.headers.location));
      expect(Buffer.from(await object.arrayBuffer()).equals(local(PATHS.secret))).toBe(true);
      expect((await rawS3(PATHS.secret, headers, 'HEAD')).headers['content-length']).toBe(
        String(local(PATHS.secret).length),
      );
    }
  });

  it('answers 404 for a POSIX file, naming its fileServer URL, after the same access check', async () => {
    const fileServer = `${running.config.publicUrl}/thredds/fileServer/data/${PATHS.nc3}`;
    for (const method of ['GET', 'HEAD']) {
      const res = await raw(`/thredds/s3/data/${PATHS.nc3}`, {}, method);
      expect(res.status).toBe(404);
      expect(res.headers.location).toBeUndefined();
    }
    const res = await raw(`/thredds/s3/data/${PATHS.nc3}`);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body.toString()).detail).toContain(fileServer);
    // A restricted POSIX file is not pointed at for those who may not read it.
    const hidden = await raw(`/thredds/s3/data/${PATHS.secret}`);
    expect(hidden.status).toBe(401);
    expect(hidden.body.toString()).not.toContain('fileServer');
    const other = await raw(`/thredds/s3/data/${PATHS.secret}`, bearer(archive.otherKey));
    expect(other.status).toBe(404);
    expect(other.body.toString()).not.toContain('fileServer');
    const reader = await raw(`/thredds/s3/data/${PATHS.secret}`, bearer(archive.readerKey));
    expect(JSON.parse(reader.body.toString()).detail).toContain(`/thredds/fileServer/data/${PATHS.secret}`);
  });
});

describe('bad input', () => {
  it('refuses traversal, encoded traversal, NUL and uncatalogued paths like /thredds/fileServer, with no URL', async () => {
    const cases = [
      'obj/../../../etc/passwd',
      'obj/%2e%2e/%2e%2e/etc/passwd',
      'obj/%2E%2E%2Fetc%2Fpasswd',
      'obj/%252e%252e/%252e%252e/etc/passwd',
      '/etc/passwd',
      'etc/passwd',
      'obj',
      'obj/',
      '',
      `obj/${PATHS.bytes}%00.txt`,
      `obj/${PATHS.bytes.replace(/\//g, '%2F')}`,
      `obj/${PATHS.secret.replace('/pr/', '/pr/./')}`,
      `obj/${PATHS.secret.replace('/pr/', '/pr/../pr/')}`,
      `obj/${PATHS.uncatalogued}`,
      `obj/${PATHS.nc3}`,
      `obj/${PATHS.bytes}%`,
      `data/${PATHS.escape}/..`,
      `nosuchroot/${PATHS.bytes}`,
      `obj/${PATHS.bytes}/`,
      `obj//${PATHS.bytes}`,
      `obj/%ZZ/x.nc`,
      `obj/${PATHS.secret}%2F..%2F..%2Ftas%2Frandom-bytes.nc`,
      `obj/${'a/'.repeat(5000)}x.nc`,
    ];
    for (const headers of [{}, bearer(archive.readerKey)]) {
      for (const path of cases) {
        const res = await raw(`/thredds/s3/${path}`, headers);
        const theirs = await raw(`/thredds/fileServer/${path}`, headers);
        const who = Object.keys(headers).length ? 'reader' : 'anonymous';
        expect({ who, path, status: res.status }).toEqual({ who, path, status: theirs.status });
        expect([400, 401, 404, 414]).toContain(res.status);
        expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
        expect(res.headers.location).toBeUndefined();
        expect(res.body.toString()).not.toMatch(/X-Amz|root:|\/tmp\//);
        if (res.status === 401) expect(res.headers['www-authenticate']).toMatch(/Basic realm="climcat"/);
      }
    }
  });

  it('lets no query parameter choose the expiry or the object, and routes no other method', async () => {
    const res = await raw(
      `${new URL(s3Url(PATHS.bytes)).pathname}?X-Amz-Expires=604800&key=${encodeURIComponent(PATHS.secret)}`,
    );
    expect(res.status).toBe(307);
    const location = new URL(String(res.headers.location));
    expect(location.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(decodeURIComponent(location.pathname)).toBe(`/${BUCKET}/p/${PATHS.bytes}`);
    expect([...location.searchParams.keys()].sort()).toEqual([
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-Signature',
      'X-Amz-SignedHeaders',
    ]);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const other = await rawS3(PATHS.bytes, bearer(archive.readerKey), method);
      expect({ method, status: other.status }).toEqual({ method, status: 404 });
      expect(other.headers.location).toBeUndefined();
    }
  });
});

describe('catalog API and OpenAPI', () => {
  it('file records carry urls.s3presigned for S3-stored files only, and it redirects', async () => {
    const res = await api(running, 'GET', `/api/v1/datasets/${PUBLIC_ID}/files?limit=100`);
    expect(res.status).toBe(200);
    const items = res.body.items as {
      root: string;
      path: string;
      storage?: string;
      urls: Record<string, string>;
    }[];
    const s3 = items.filter((f) => f.root === 'obj');
    const posix = items.filter((f) => f.root === 'data');
    expect(s3.length).toBeGreaterThanOrEqual(2);
    expect(posix.length).toBeGreaterThanOrEqual(3);
    const base = running.config.publicUrl;
    for (const f of s3) {
      const path = f.path.split('/').map(encodeURIComponent).join('/');
      expect(f.urls.s3presigned).toBe(`${base}/thredds/s3/obj/${path}`);
      expect(f.urls.s3).toBe(`s3://${BUCKET}/p/${f.path}`);
    }
    for (const f of posix) expect(f.urls).not.toHaveProperty('s3presigned');
    const bytes = s3.find((f) => f.path === PATHS.bytes)!;
    // PUBLIC_URL is not where the harness listens: same path, the app's address.
    const followed = await fetch(bytes.urls.s3presigned!.replace(base, running.url));
    expect(Buffer.from(await followed.arrayBuffer()).equals(local(PATHS.bytes))).toBe(true);
    // A restricted dataset's records are listed to its readers with the same stable URL.
    const secret = await api(running, 'GET', `/api/v1/datasets/${SECRET_ID}/files`, {
      headers: bearer(archive.readerKey),
    });
    const secretS3 = (secret.body.items as { root: string; urls: Record<string, string> }[]).find(
      (f) => f.root === 'obj',
    );
    expect(secretS3?.urls.s3presigned).toBe(`${base}/thredds/s3/obj/${PATHS.secret}`);
  });

  it('documents GET (307 with Location) and HEAD in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${running.url}/api/docs-json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            summary?: string;
            parameters?: { name: string; in: string }[];
            responses?: Record<string, { headers?: object }>;
          }
        >
      >;
    };
    const [path, item] = Object.entries(doc.paths).find(([p]) => p.startsWith('/thredds/s3/')) ?? [];
    expect(path).toBeDefined();
    expect(item?.get?.summary).toMatch(/presigned/);
    expect(item?.get?.responses?.['307']?.headers).toHaveProperty('Location');
    expect(Object.keys(item?.get?.responses ?? {}).sort()).toEqual(['307', '401', '404']);
    expect(item?.head?.responses?.['200']?.headers).toHaveProperty('Content-Length');
    expect(path).toBe('/thredds/s3/{path}');
    expect(item?.get?.parameters?.map((p) => [p.name, p.in])).toEqual([['path', 'path']]);
  });

  it('counts redirects in the /thredds metrics under service="s3"', async () => {
    await rawS3(PATHS.bytes);
    const metrics = await (
      await fetch(`${running.url}/metrics`, { headers: bearer(archive.readerKey) })
    ).text();
    expect(metrics).toMatch(/climcat_thredds_requests_total\{service="s3",suffix="",status="307"\} [1-9]/);
  });
});
