/**
 * Issue 9, classes 2-6, per route family: one paging bound, JSON nesting and
 * member limits, ill-formed Unicode, static docs paths, and answers Fastify
 * or Node give before routing, all as problems naming what is wrong.
 * (Class 7, the logged cause of a 500, is in errors/problem.filter.spec.ts.)
 */
import { request as httpRequest } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api, seedCatalog } from '../catalog/seed';

let running: RunningApp;
const SEEDED = 'pacific-sst-anomaly.v1';

interface Raw {
  status: number;
  type: string;
  requestId: string | undefined;
  body: Record<string, any>;
}

/** Sends the path exactly as given (fetch would resolve `..`), on a fresh connection. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Raw> {
  const { port } = new URL(running.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { ...headers, ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let parsed: Record<string, any> = {};
          try {
            parsed = JSON.parse(text) as Record<string, any>;
          } catch {
            parsed = { text };
          }
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            requestId: res.headers['x-request-id'] as string | undefined,
            body: parsed,
          });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A problem answer: its type, status, detail and request id (header and body agree). */
function expectProblem(res: Raw, status: number): Record<string, any> {
  expect({ status: res.status, type: res.type }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
  });
  expect(res.body).toEqual(
    expect.objectContaining({ status, detail: expect.any(String), requestId: expect.any(String) }),
  );
  expect(res.requestId).toBe(res.body.requestId);
  return res.body;
}

beforeAll(async () => {
  const dataRoot = tempDir('climcat-hardening-');
  // Three files no reader can open: a scan records three errors for GET /ingest/v1/errors.
  mkdirSync(join(dataRoot, 'broken'), { recursive: true });
  for (const name of ['a', 'b', 'c']) writeFileSync(join(dataRoot, 'broken', `tas_${name}.nc`), 'not netCDF');
  running = await startApp({ env: { DATA_ROOT: dataRoot } });
  await seedCatalog(running);
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
  expect(started.status).toBe(202);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (['completed', 'failed', 'cancelled'].includes(res.body.state)) break;
    if (Date.now() > deadline) throw new Error(`scan did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);
afterAll(async () => {
  await running.close();
});

describe('class 2: one paging bound on every listing', () => {
  const LISTINGS = [
    `/api/v1/datasets/${SEEDED}/files`,
    `/api/v1/datasets/${SEEDED}/history`,
    '/api/v1/auth/keys',
    '/ingest/v1/scans',
    '/ingest/v1/jobs/events',
    '/ingest/v1/jobs/records',
    '/ingest/v1/errors',
    '/api/v1/datasets',
    '/esg-search/search',
  ];
  const OFFSETS = ['18446744073709551617', '-1', 'NaN', '1e400', '10000001'];

  it.each(LISTINGS)('answers 400 naming query.offset and the bounds on %s', async (path) => {
    for (const offset of OFFSETS) {
      const body = expectProblem(await raw('GET', `${path}?offset=${offset}`, ADMIN), 400);
      expect(body.errors).toEqual([
        expect.objectContaining({ field: 'query.offset', message: expect.stringMatching(/0 to 10000000/) }),
      ]);
    }
  });

  it.each(LISTINGS.slice(0, 7))('bounds limit the same way on %s', async (path) => {
    for (const limit of ['0', '1001', '99999999999', '1.5']) {
      const body = expectProblem(await raw('GET', `${path}?limit=${limit}`, ADMIN), 400);
      expect(body.errors).toEqual([
        { field: 'query.limit', message: 'limit must be an integer from 1 to 1000' },
      ]);
    }
  });

  it('pages the files of a dataset and the ingest errors by offset', async () => {
    const files = await api(running, 'GET', `/api/v1/datasets/${SEEDED}/files?offset=1&limit=1`, {
      headers: ADMIN,
    });
    const all = await api(running, 'GET', `/api/v1/datasets/${SEEDED}/files`, { headers: ADMIN });
    expect(files.body.items).toEqual([all.body.items[1]]);
    const errors = await api(running, 'GET', '/ingest/v1/errors', { headers: ADMIN });
    expect(errors.body.items).toHaveLength(3);
    const rest = await api(running, 'GET', '/ingest/v1/errors?offset=1', { headers: ADMIN });
    expect(rest.body).toEqual({ total: 3, items: errors.body.items.slice(1) });
  });
});

describe('class 3: JSON nesting and member limits in the one body parser', () => {
  const JSON_ROUTES: [string, string, string][] = [
    ['POST', '/api/v1/datasets', 'application/json'],
    ['PATCH', `/api/v1/datasets/${SEEDED}`, 'application/merge-patch+json'],
    ['POST', '/api/v1/datasets/bulk', 'application/json'],
    ['POST', '/api/v1/auth/keys', 'application/json'],
    ['POST', '/ingest/v1/scans', 'application/json'],
    ['POST', '/ingest/v1/records', 'application/json'],
    ['POST', '/ingest/v1/inspect', 'application/json'],
  ];

  it.each(JSON_ROUTES)('%s %s: 3,000 levels are a 400 naming the limit', async (method, path, type) => {
    for (const deep of [
      `${'['.repeat(3000)}${']'.repeat(3000)}`,
      `{"title":${'{"a":'.repeat(3000)}1${'}'.repeat(3001)}`,
    ]) {
      const body = expectProblem(await raw(method, path, { ...ADMIN, 'Content-Type': type }, deep), 400);
      expect(body.errors).toEqual([
        { field: 'body', message: 'nesting deeper than 64 levels is not accepted' },
      ]);
    }
  });

  it('refuses a body of more object members than the limit, before building it', async () => {
    const many = `{${Array.from({ length: 200_001 }, (_, i) => `"k${i}":0`).join(',')}}`;
    const body = expectProblem(
      await raw('POST', '/api/v1/datasets', { ...ADMIN, 'Content-Type': 'application/json' }, many),
      400,
    );
    expect(body.detail).toMatch(/more than 200000 object members/);
  });

  it('lets nesting within the limit reach validation', async () => {
    const body = expectProblem(
      await raw(
        'POST',
        '/api/v1/datasets',
        { ...ADMIN, 'Content-Type': 'application/json' },
        JSON.stringify({ title: JSON.parse(`${'['.repeat(60)}${']'.repeat(60)}`) as unknown }),
      ),
      400,
    );
    expect(body.detail).not.toMatch(/nesting/);
  });
});

describe('class 4: ill-formed Unicode, refused in one place', () => {
  it.each([
    [
      'POST',
      '/api/v1/datasets',
      '{"title":"x","contacts":[{"name":"a","email":"a\\ud800@example.org"}]}',
      'body.contacts[0].email',
    ],
    ['POST', '/api/v1/datasets', '{"title":"\\udc00"}', 'body.title'],
    ['PATCH', `/api/v1/datasets/${SEEDED}`, '{"title":"\\ud800"}', 'body.title'],
    ['POST', '/api/v1/auth/keys', '{"name":"\\ud800","roles":["reader"]}', 'body.name'],
    ['POST', '/ingest/v1/inspect', '{"root":"data","path":"a\\ud800.nc"}', 'body.path'],
    ['POST', '/api/v1/datasets/bulk', '{"filter":{"model":"\\ud800"},"patch":{}}', 'body.filter.model'],
  ])('%s %s with a lone surrogate in %s is a 400 naming %s', async (method, path, json, field) => {
    const type = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    const body = expectProblem(await raw(method, path, { ...ADMIN, 'Content-Type': type }, json), 400);
    expect(body.errors).toEqual([expect.objectContaining({ field })]);
  });

  it.each([
    '/api/v1/datasets?q=%ED%A0%80',
    '/esg-search/search?query=%ED%A0%80',
    '/api/v1/exports/files.csv?q=%ED%A0%80',
    '/ingest/v1/scans?q=%ED%A0%80',
    '/api/v1/auth/keys?q=%FF',
  ])('%s: a query value that is not UTF-8 is a 400 naming the parameter', async (path) => {
    const body = expectProblem(await raw('GET', path, ADMIN), 400);
    expect(body.errors).toEqual([
      { field: expect.stringMatching(/^query\.(q|query)$/), message: 'is not percent-encoded UTF-8' },
    ]);
  });

  it('still accepts astral characters and encoded UTF-8', async () => {
    const res = await raw('GET', '/api/v1/datasets?q=Z%C3%BCrich%20%F0%9F%98%80', ADMIN);
    expect(res.status).toBe(200);
  });
});

describe('class 5: static documentation paths', () => {
  it.each([
    ['/api/docs/../../../../etc/passwd', /".." segments/],
    ['/api/docs/%2e%2e/%2e%2e/etc/passwd', /".." segments/],
    ['/api/docs/x%00', /NUL/],
    ['/api/docs/swagger-ui.css%00.html', /NUL/],
  ])('GET %s is a 400 problem', async (path, detail) => {
    expect(expectProblem(await raw('GET', path), 400).detail).toMatch(detail);
  });

  it('answers a missing docs asset with a 404 problem and still serves the real ones', async () => {
    expectProblem(await raw('GET', '/api/docs/no-such-asset.js'), 404);
    expect((await raw('GET', '/api/docs/swagger-ui.css')).status).toBe(200);
  });
});

describe('class 6: answers given before routing are problems too', () => {
  it('a 100 kB URL is a 431 problem with a request id', async () => {
    const res = await raw('GET', `/api/v1/datasets?q=${'x'.repeat(100_000)}`);
    expect(expectProblem(res, 431).detail).toMatch(/exceed/);
  });

  it('headers over 16 KiB in all are a 431 problem', async () => {
    const res = await raw('GET', '/api/v1/datasets', { 'X-Padding': 'x'.repeat(17_000) });
    expect(expectProblem(res, 431).detail).toMatch(/are \d+ bytes and exceed the 16384 bytes/);
  });

  it('a 3 MB URL, beyond what the parser reads, is a 431 problem too', async () => {
    const res = await raw('GET', `/api/v1/datasets?q=${'x'.repeat(3_000_000)}`);
    expect(expectProblem(res, 431).detail).toMatch(/exceed the size this server reads \(2 MiB\)/);
  });

  it('a method Node does not know is a 400 problem', async () => {
    expectProblem(await raw('FOO', '/api/v1/datasets'), 400);
  });

  it('a method no route has is a 404 problem naming it', async () => {
    expect(expectProblem(await raw('PROPFIND', '/api/v1/datasets'), 404).detail).toBe(
      'No route matches PROPFIND /api/v1/datasets',
    );
  });

  it('OPTIONS without preflight headers is answered, not refused as text', async () => {
    const res = await raw('OPTIONS', '/api/v1/datasets');
    expect(res.status).toBe(204);
    const preflight = await raw('OPTIONS', '/api/v1/datasets', {
      Origin: 'https://notebook.example',
      'Access-Control-Request-Method': 'PATCH',
    });
    expect(preflight.status).toBe(204);
  });

  it('an unsupported content type is a 415 problem and a body too large a 413 problem', async () => {
    expectProblem(
      await raw('POST', '/api/v1/datasets', { ...ADMIN, 'Content-Type': 'text/xml' }, '<a/>'),
      415,
    );
    const huge = `"${'x'.repeat(6 * 1024 * 1024)}"`;
    expectProblem(
      await raw('POST', '/api/v1/datasets', { ...ADMIN, 'Content-Type': 'application/json' }, huge),
      413,
    );
  });

  it('a bad search on the streamed intake-esm CSV is a 400 problem, not a broken stream', async () => {
    const body = expectProblem(await raw('GET', '/api/v1/exports/intake-esm.csv?start=NaN', ADMIN), 400);
    expect(body.errors).toEqual([expect.objectContaining({ field: 'query.start' })]);
  });
});
