/**
 * Bad input across every documented route (issue 9): reads the OpenAPI
 * document and sends, for every path × method × parameter, a generated
 * battery of hostile and careless values, with and without an admin key.
 * No answer may be a 5xx; every 4xx must be application/problem+json with a
 * `detail` and a request id. Routes added later are covered because the document lists them.
 */
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { ADMIN, datasetBody, startApp, type RunningApp } from '../harness/app';
import { seedCatalog } from '../catalog/seed';

/** Requests in flight at once: enough to finish in time, few enough for a 2-core CI runner. */
const CONCURRENCY = 8;
/** Node-RED's editor is off in tests; THREDDS routes answer DAP, not JSON. */
const EXCLUDED = /^\/(red|thredds)(\/|$)/;
const SEEDED_ID = 'pacific-sst-anomaly.v1';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  schema?: Schema;
  example?: unknown;
}
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

interface Probe {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body?: string;
  label: string;
}
interface Answer {
  status: number;
  type: string;
  text: string;
}

/** Valid bodies of the schemas the test app can act on (generated ones are thinner without the swagger plugin). */
const KNOWN_BODIES: Record<string, unknown> = {
  CreateDatasetDto: datasetBody({ title: 'bad input', contacts: [{ name: 'A', email: 'a@example.org' }] }),
  DatasetPatchDto: { title: 'patched', status: 'latest', facets: { model: 'HadGEM2-ES' } },
  BulkPatchDto: { filter: { model: 'no-such-model' }, patch: { status: 'retracted', statusReason: 'x' } },
  CreateApiKeyDto: { name: 'bad-input', roles: ['reader'], groups: ['eucp'] },
  StartScanDto: { root: 'data' },
  InspectDto: { root: 'data', path: 'cmip5/x/tas_Amon_x_200601-203012.nc' },
  IngestRecordDto: {
    root: 'data',
    path: 'cmip5/x/tas_Amon_x_200601-203012.nc',
    files: [{ path: 'cmip5/x/tas_Amon_x_200601-203012.nc', size: 1 }],
  },
};

/** Raw (already percent-encoded) values for query parameters. */
const QUERY_VALUES = [
  '-1',
  '18446744073709551617',
  'NaN',
  '1e400',
  'Infinity',
  '0x1F',
  '1.5',
  '',
  'x'.repeat(10_000),
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%FF',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '__proto__',
  '%7B%22%24gt%22%3A%22%22%7D',
  '2000-13-45T99%3A99%3A99',
  '-180,-90,180',
];

/** Raw values for path parameters (sent as-is, so `..` reaches the server). */
const PATH_VALUES = [
  '-1',
  '18446744073709551617',
  'NaN',
  '%00',
  '%ED%A0%80',
  '%FF',
  '..',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  'x'.repeat(3000),
  '__proto__',
  'constructor',
  '%7B%22%24gt%22%3A%22%22%7D',
  '%20',
];

/** JSON texts put in place of one member of a valid body. */
const MEMBER_VALUES = [
  'null',
  'true',
  '-1',
  '1e308',
  '-1e308',
  '18446744073709551617',
  '"NaN"',
  JSON.stringify('x'.repeat(100_000)),
  '"a\\u0000b"',
  '"\\ud800"',
  '"\\udc00x"',
  '{"$gt":""}',
  '[]',
  '{}',
  '[{"$where":"1"}]',
  '{"__proto__":{"admin":true}}',
  `${'['.repeat(60)}${']'.repeat(60)}`,
  '"../../../../etc/passwd"',
  '"2000-13-45T99:99:99Z"',
];

/** Whole bodies, each sent with a JSON content type. */
const WHOLE_BODIES = [
  'null',
  '[]',
  '"x"',
  '1',
  '{"$gt":""}',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"a":',
  '\u0000',
  `${'['.repeat(3000)}${']'.repeat(3000)}`,
  `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
  `{${Array.from({ length: 200_001 }, (_, i) => `"k${i}":0`).join(',')}}`,
  `"${'x'.repeat(6 * 1024 * 1024)}"`,
];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=utf-16',
  ';;;',
];

/** Values for header parameters (If-Match); never `*`, which would let a probe delete seeded data. */
const HEADER_VALUES = ['"nope"', 'W/"x"', 'x'.repeat(8000), ',,,', '"1", "2", "3"'];

let running: RunningApp;
let document: OpenApi;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

beforeAll(async () => {
  running = await startApp();
  await seedCatalog(running);
  const res = await fetch(`${running.url}/api/docs-json`);
  expect(res.status).toBe(200);
  document = (await res.json()) as OpenApi;
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await running.close();
});

function resolve(schema: Schema | undefined): Schema | undefined {
  if (!schema?.$ref) return schema;
  return document.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
}

/** A plausible value for a schema: example, default, first enum member, else one of its type. */
function sample(schema: Schema | undefined, depth = 0): unknown {
  const s = resolve(schema);
  if (!s) return 'x';
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return s.default;
  if (s.enum?.length) return s.enum[0];
  switch (s.type) {
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [sample(s.items, depth + 1)];
    case 'object': {
      const out: Record<string, unknown> = {};
      if (depth < 3) for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = sample(v, depth + 1);
      return out;
    }
    default:
      return 'x';
  }
}

function baseBody(schema: Schema): Record<string, unknown> {
  const name = schema.$ref?.replace('#/components/schemas/', '');
  const generated = sample(schema);
  const known = name ? KNOWN_BODIES[name] : undefined;
  return {
    ...(typeof generated === 'object' && generated ? generated : {}),
    ...(typeof known === 'object' && known ? known : {}),
  };
}

/** Paths of the members of a body, two levels deep, array elements by index. */
function memberPaths(value: unknown, prefix: (string | number)[] = [], depth = 0): (string | number)[][] {
  if (depth > 2 || value === null || typeof value !== 'object') return [];
  const out: (string | number)[][] = [];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.slice(0, 1).map((v, i) => [i, v])
    : Object.entries(value);
  for (const [k, v] of entries) {
    out.push([...prefix, k]);
    out.push(...memberPaths(v, [...prefix, k], depth + 1));
  }
  return out;
}

const HOLE = '\u0001hole\u0001';

/** The JSON text of `body` with the member at `path` replaced by the raw JSON `snippet`. */
function withMember(body: unknown, path: (string | number)[], snippet: string): string {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = HOLE;
  return JSON.stringify(copy).replace(JSON.stringify(HOLE), snippet);
}

function probesFor(path: string, method: string, op: Operation, auth: OutgoingHttpHeaders): Probe[] {
  const params = op.parameters ?? [];
  const pathValues: Record<string, string> = {};
  for (const p of params.filter((x) => x.in === 'path')) {
    const s = resolve(p.schema);
    const value = s?.enum?.[0] ?? p.example ?? (path.startsWith('/api/v1/datasets') ? SEEDED_ID : 'x');
    pathValues[p.name] = encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value));
  }
  const url = (values: Record<string, string>) =>
    path.replace(/\{(\w+)\}/g, (_, n: string) => values[n] ?? 'x');
  const M = method.toUpperCase();
  const bodyEntry = Object.entries(op.requestBody?.content ?? {})[0];
  const contentType = bodyEntry?.[0] ?? 'application/json';
  const body = bodyEntry ? baseBody(bodyEntry[1].schema) : undefined;
  const bodyText = body === undefined ? undefined : JSON.stringify(body);
  const jsonHeaders = { ...auth, 'Content-Type': contentType };
  const base = (extra: Partial<Probe>, label: string): Probe => ({
    method: M,
    path: url(pathValues),
    headers: bodyText === undefined ? auth : jsonHeaders,
    ...(bodyText === undefined ? {} : { body: bodyText }),
    label,
    ...extra,
  });
  const probes: Probe[] = [base({}, 'as documented')];

  for (const p of params.filter((x) => x.in === 'path')) {
    for (const v of PATH_VALUES)
      probes.push(base({ path: url({ ...pathValues, [p.name]: v }) }, `path ${p.name}=${v}`));
  }
  for (const p of params.filter((x) => x.in === 'query')) {
    const n = encodeURIComponent(p.name);
    const forms = [
      ...QUERY_VALUES.map((v) => `${n}=${v}`),
      `${n}[$gt]=`,
      `${n}[]=a`,
      `${n}=a&${n}=b`,
      `__proto__[${n}]=1`,
      `${n}`,
    ];
    for (const q of forms) probes.push(base({ path: `${url(pathValues)}?${q}` }, `query ${q.slice(0, 60)}`));
  }
  for (const p of params.filter((x) => x.in === 'header')) {
    for (const v of HEADER_VALUES) {
      probes.push(base({ headers: { ...(bodyText ? jsonHeaders : auth), [p.name]: v } }, `header ${p.name}`));
    }
  }
  if (body !== undefined) {
    for (const member of memberPaths(body)) {
      for (const v of MEMBER_VALUES) {
        probes.push(
          base({ body: withMember(body, member, v) }, `body.${member.join('.')}=${v.slice(0, 40)}`),
        );
      }
    }
    for (const whole of WHOLE_BODIES) probes.push(base({ body: whole }, `body ${whole.slice(0, 40)}`));
    for (const type of CONTENT_TYPES) {
      probes.push(base({ headers: { ...auth, 'Content-Type': type } }, `content-type ${type}`));
    }
    probes.push(base({ headers: auth }, 'body without content-type'));
  } else if (M !== 'GET' && M !== 'DELETE') {
    probes.push(base({ headers: jsonHeaders, body: '{"$gt":""}' }, 'unexpected body'));
  }
  return probes;
}

function send(probe: Probe): Promise<Answer> {
  const { port } = new URL(running.url);
  return new Promise((resolvePromise) => {
    let answered = false;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: probe.method,
        path: probe.path,
        agent,
        headers: {
          ...probe.headers,
          ...(probe.body !== undefined ? { 'Content-Length': Buffer.byteLength(probe.body) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (e) => resolvePromise({ status: -1, type: '', text: String(e) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (e) => {
      // An oversize body may still be in flight when the server has answered and closed.
      if (!answered) resolvePromise({ status: -1, type: '', text: String(e) });
    });
    if (probe.body !== undefined) req.write(probe.body);
    req.end();
  });
}

/** What is wrong with an answer, or null. */
function verdict(answer: Answer): string | null {
  if (answer.status < 0) return `no answer: ${answer.text}`;
  if (answer.status >= 500) return `${answer.status} ${answer.text.slice(0, 200)}`;
  if (answer.status < 400) return null;
  if (!/^application\/problem\+json/.test(answer.type)) {
    return `${answer.status} as ${answer.type || '(no type)'}: ${answer.text.slice(0, 120)}`;
  }
  try {
    const body = JSON.parse(answer.text) as { detail?: unknown; status?: unknown; requestId?: unknown };
    if (typeof body.detail !== 'string' || body.detail === '')
      return `${answer.status} problem without detail`;
    if (typeof body.requestId !== 'string') return `${answer.status} problem without request id`;
    if (body.status !== answer.status) return `${answer.status} problem says status ${String(body.status)}`;
  } catch {
    return `${answer.status} problem that is not JSON: ${answer.text.slice(0, 120)}`;
  }
  return null;
}

async function runAll(probes: Probe[]): Promise<{ probe: Probe; answer: Answer }[]> {
  const results: { probe: Probe; answer: Answer }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const probe = probes[next++]!;
      results.push({ probe, answer: await send(probe) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

describe('bad input on every documented route', () => {
  it('never answers 5xx, and every 4xx is a problem with a detail', async () => {
    const operations: string[] = [];
    const probes: Probe[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      if (EXCLUDED.test(path)) continue;
      for (const [method, op] of Object.entries(item)) {
        operations.push(`${method.toUpperCase()} ${path}`);
        for (const auth of [ADMIN, {}]) probes.push(...probesFor(path, method, op, auth));
      }
      // Per path, what Fastify and Node's parser answer before any route: a method no route has,
      // OPTIONS that is not a preflight, a method Node's parser refuses, and a 100 kB URL.
      const concrete = path.replace(/\{\w+\}/g, 'x');
      for (const method of ['OPTIONS', 'PROPFIND', 'FOO']) {
        probes.push({ method, path: concrete, headers: {}, label: `method ${method}` });
      }
      probes.push({
        method: 'GET',
        path: `${concrete}?q=${'x'.repeat(100_000)}`,
        headers: {},
        label: '100 kB URL',
      });
    }
    // The document lists the catalog and ingest families; a broken walk must not pass vacuously.
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /api/v1/datasets',
        'PATCH /api/v1/datasets/{id}',
        'GET /api/v1/datasets/{id}/files',
        'POST /ingest/v1/records',
        'GET /ingest/v1/errors',
      ]),
    );
    const results = await runAll(probes);
    expect(results).toHaveLength(probes.length);
    const failures = results
      .map(({ probe, answer }) => ({ probe, problem: verdict(answer) }))
      .filter((r) => r.problem !== null)
      .map(
        ({ probe, problem }) =>
          `${probe.method} ${probe.path.slice(0, 100)} [${probe.label}]${probe.headers.Authorization ? ' (admin)' : ''}: ${problem}`,
      );
    // All of them, grouped by route, for whoever fixes them (the assertion below shows the first 60).
    if (failures.length) process.stderr.write(`${failures.sort().join('\n')}\n`);
    expect({ probes: probes.length, failures: failures.slice(0, 60), failed: failures.length }).toEqual({
      probes: probes.length,
      failures: [],
      failed: 0,
    });
  }, 150_000);
});
