import { startApp, type RunningApp } from '../harness/app';

interface Operation {
  summary?: string;
  responses?: Record<
    string,
    {
      content?: Record<string, { schema?: unknown }>;
      description?: string;
      headers?: Record<string, unknown>;
    }
  >;
}

let running: RunningApp;
let document: { openapi: string; paths: Record<string, Record<string, Operation>> };

beforeAll(async () => {
  running = await startApp();
  document = (await (await fetch(`${running.url}/api/docs-json`)).json()) as typeof document;
});
afterAll(async () => {
  await running.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function operations(): [string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]),
  );
}

describe('OpenAPI document', () => {
  it('is OpenAPI 3 with the catalog and operations routes', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/v1/datasets', '/api/v1/datasets/{id}', '/health/ready', '/metrics']),
    );
  });

  it('gives every route a summary', () => {
    const missing = operations()
      .filter(([, op]) => !op.summary?.trim())
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  // A redirect's answer is its Location header, a HEAD's its headers: those count when declared.
  it('gives every route a typed success response', () => {
    const untyped = operations()
      .filter(([name, op]) => {
        const success = Object.entries(op.responses ?? {}).filter(([code]) => /^2\d\d$/.test(code));
        if (success.some(([code]) => code === '204')) return false;
        const redirects = Object.entries(op.responses ?? {}).filter(([code]) => /^3\d\d$/.test(code));
        if (redirects.length && redirects.every(([, r]) => r.headers?.Location)) return false;
        if (name.startsWith('HEAD ') && success.some(([, r]) => Object.keys(r.headers ?? {}).length))
          return false;
        return !success.some(([, r]) => Object.values(r.content ?? {}).some((c) => c.schema !== undefined));
      })
      .map(([name]) => name);
    expect(untyped).toEqual([]);
  });

  it('serves Swagger UI', async () => {
    const res = await fetch(`${running.url}/api/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
  });
});
