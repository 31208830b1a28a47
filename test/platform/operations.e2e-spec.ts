import { freePort } from '../harness/servers';
import { testEnv } from '../harness/env';
import { startApp, type RunningApp } from '../harness/app';

describe('operations endpoints', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => {
    await running.close();
  });

  it('answers liveness', async () => {
    const res = await fetch(`${running.url}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('reports the embedded store in readiness', async () => {
    const res = await fetch(`${running.url}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', checks: { 'store:sqlite': { status: 'ok' } } });
  });

  it('exposes per-route latency histograms in Prometheus format', async () => {
    await fetch(`${running.url}/api/v1/datasets?limit=1`);
    await fetch(`${running.url}/api/v1/datasets/some.id`);
    const res = await fetch(`${running.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /climcat_http_request_duration_seconds_bucket\{le="[\d.]+",method="GET",route="\/api\/v1\/datasets\/:id",status="404"\} \d+/,
    );
    expect(text).toMatch(
      /climcat_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/datasets",status="200"\} 1/,
    );
    expect(text).toContain('climcat_process_resident_memory_bytes');
  });

  it('echoes a caller-supplied request id and makes one otherwise', async () => {
    const given = await fetch(`${running.url}/health/live`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await fetch(`${running.url}/health/live`, {
      headers: { 'X-Request-Id': 'bad id with spaces' },
    });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness with Redis', () => {
  it('includes Redis when REDIS_URL is set', async () => {
    const running = await startApp({ env: { REDIS_URL: testEnv('TEST_REDIS_URL') } });
    try {
      const res = await fetch(`${running.url}/health/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ checks: { redis: { status: 'ok' } } });
    } finally {
      await running.close();
    }
  });

  it('answers 503 naming Redis when it cannot be reached', async () => {
    const deadPort = await freePort();
    const running = await startApp({ env: { REDIS_URL: `redis://127.0.0.1:${deadPort}` } });
    try {
      const res = await fetch(`${running.url}/health/ready`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
      expect(body.status).toBe('unavailable');
      expect(body.checks.redis?.status).toBe('down');
      expect(body.checks['store:sqlite']?.status).toBe('ok');
    } finally {
      await running.close();
    }
  });
});
