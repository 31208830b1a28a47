import Fastify from 'fastify';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config/config';
import { Readable } from 'node:stream';
import {
  annotateRequest,
  countBytesSent,
  createLogger,
  logUrl,
  newRequestId,
  requestContext,
  type RequestContext,
} from './logging';

type Line = Record<string, unknown> & { msg?: string; req?: Record<string, unknown> };

/** A Fastify server with only the request-context hooks, logging into `lines`. */
async function serve(level: string): Promise<{ url: string; lines: Line[]; close: () => Promise<void> }> {
  const lines: Line[] = [];
  const logger = createLogger(loadConfig('catalog', { LOG_LEVEL: level }), {
    write: (line: string) => lines.push(JSON.parse(line) as Line),
  });
  const server = Fastify({ genReqId: newRequestId, forceCloseConnections: true });
  requestContext(server, logger);
  countBytesSent(server);
  server.get('/ok', async () => ({ ok: true }));
  server.get('/stream', async (request, reply) => {
    annotateRequest(request, { thredds: { constraint: 'tas[0:1]' } });
    return reply.send(Readable.from([Buffer.alloc(1000), Buffer.alloc(234)], { objectMode: false }));
  });
  server.get('/fails', async (_request, reply) => reply.status(503).send({}));
  server.get('/metrics', async () => '');
  server.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return {};
  });
  server.get('/warns', async (request) => {
    (request.raw as IncomingMessage & RequestContext).log.warn('disk almost full');
    return {};
  });
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  return { url, lines, close: () => server.close() };
}

/** The completion line is written once the response has been sent. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('requestContext', () => {
  it('logs each request once with its id, method and URL, never its credentials or URL tokens', async () => {
    const app = await serve('info');
    try {
      const res = await fetch(`${app.url}/ok?token=s3cret&limit=2`, {
        headers: { Authorization: 'Bearer cc_secret', 'X-Request-Id': 'abc-123' },
      });
      await res.text();
      await settle();
      expect(app.lines).toHaveLength(1);
      expect(app.lines[0]).toMatchObject({
        level: 30,
        name: 'climcat-catalog',
        msg: 'request completed',
        req: { id: 'abc-123', method: 'GET', url: '/ok?token=[redacted]&limit=2' },
        res: { statusCode: 200, headers: expect.objectContaining({ 'x-request-id': 'abc-123' }) as unknown },
        responseTime: expect.any(Number) as unknown,
      });
      expect(JSON.stringify(app.lines)).not.toContain('secret');
    } finally {
      await app.close();
    }
  });

  it('gives a request without a usable X-Request-Id a new UUID', async () => {
    const app = await serve('silent');
    try {
      const res = await fetch(`${app.url}/ok`, { headers: { 'X-Request-Id': 'not a valid id' } });
      expect(res.headers.get('x-request-id')).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    } finally {
      await app.close();
    }
  });

  it('logs the bytes sent, streamed or not, and the fields a feature added', async () => {
    const app = await serve('info');
    try {
      const ok = await (await fetch(`${app.url}/ok`)).text();
      expect((await (await fetch(`${app.url}/stream`)).arrayBuffer()).byteLength).toBe(1234);
      await settle();
      expect(app.lines).toEqual([
        expect.objectContaining({ msg: 'request completed', bytes: ok.length }),
        expect.objectContaining({
          msg: 'request completed',
          bytes: 1234,
          thredds: { constraint: 'tas[0:1]' },
          res: expect.objectContaining({ statusCode: 200 }) as unknown,
        }),
      ]);
      expect(app.lines[0]).not.toHaveProperty('thredds');
    } finally {
      await app.close();
    }
  });

  it('cuts a very long URL short in the log, saying how long it was', () => {
    const url = `/x?${'a'.repeat(100_000)}`;
    expect(logUrl(url)).toMatch(/^\/x\?a+…\(100003 characters\)$/);
    expect(logUrl(url).length).toBeLessThan(4200);
    expect(logUrl('/x?token=s3cret')).toBe('/x?token=[redacted]');
  });

  it('logs a 5xx answer as an errored request', async () => {
    const app = await serve('info');
    try {
      await (await fetch(`${app.url}/fails`)).text();
      await settle();
      expect(app.lines).toEqual([
        expect.objectContaining({
          msg: 'request errored',
          res: expect.objectContaining({ statusCode: 503 }) as unknown,
          err: expect.objectContaining({ message: 'failed with status code 503' }) as unknown,
        }),
      ]);
    } finally {
      await app.close();
    }
  });

  it('logs a request the client gave up on', async () => {
    const app = await serve('info');
    try {
      await expect(fetch(`${app.url}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(app.lines).toEqual([
        expect.objectContaining({ msg: 'request aborted', req: expect.objectContaining({ url: '/slow' }) }),
      ]);
    } finally {
      await app.close();
    }
  });

  it('does not log Prometheus scrapes', async () => {
    const app = await serve('info');
    try {
      await (await fetch(`${app.url}/metrics`)).text();
      await settle();
      expect(app.lines).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('binds what is logged while a request runs to that request, also above info level', async () => {
    const app = await serve('warn');
    try {
      await (await fetch(`${app.url}/warns`, { headers: { 'X-Request-Id': 'req-7' } })).text();
      await settle();
      expect(app.lines).toEqual([
        expect.objectContaining({
          level: 40,
          msg: 'disk almost full',
          req: { id: 'req-7', method: 'GET', url: '/warns' },
        }),
      ]);
    } finally {
      await app.close();
    }
  });
});
