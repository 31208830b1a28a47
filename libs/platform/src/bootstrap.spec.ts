import type { ClimcatApp } from './bootstrap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './bootstrap';
import { loadConfig } from './config/config';

describe('configureHttp', () => {
  let app: ClimcatApp;
  let url: string;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'climcat-bootstrap-'));
    app = await createApp(loadConfig('catalog', { STATE_DIR: stateDir, LOG_LEVEL: 'silent' }), []);
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('sends the security headers an API needs and does not name its framework', async () => {
    const res = await fetch(`${url}/health/live`);
    expect(Object.fromEntries(res.headers)).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'cross-origin-resource-policy': 'cross-origin',
    });
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('gives a body rejected before any route a request id, security and CORS headers', async () => {
    const res = await fetch(`${url}/health/live`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'https://notebook.example' },
      body: '{"not json',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { requestId?: string };
    expect(problem.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(problem.requestId);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://notebook.example');
  });

  it('lets browser clients send every method the API uses across origins', async () => {
    const res = await fetch(`${url}/api/v1/datasets/x`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://notebook.example',
        'Access-Control-Request-Method': 'PATCH',
        'Access-Control-Request-Headers': 'authorization,content-type,if-match',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://notebook.example');
    expect(res.headers.get('access-control-allow-methods')?.split(/,\s*/)).toEqual(
      expect.arrayContaining(['GET', 'PATCH', 'POST', 'DELETE']),
    );
    expect(res.headers.get('access-control-allow-headers')).toMatch(/if-match/i);
  });

  it('counts a request rejected for operator injection in the latency histogram', async () => {
    const rejected = await fetch(`${url}/health/live?name[$ne]=x`);
    expect(rejected.status).toBe(400);
    expect(rejected.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      // Routing comes first on Fastify, so the rejected request is labelled with the route it asked for.
      /climcat_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status="400"\} 1/,
    );
  });
});
