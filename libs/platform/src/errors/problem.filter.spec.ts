import Fastify, { type FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import { loadConfig } from '../config/config';
import { createLogger, newRequestId, requestContext } from '../observability/logging';
import { answerClientError, sendProblem } from './problem.filter';

type Line = Record<string, unknown> & { msg?: string; err?: { message?: string; stack?: string } };

/** A Fastify server answering errors like the app does, logging into `lines`. */
async function serve(): Promise<{ server: FastifyInstance; url: string; port: number; lines: Line[] }> {
  const lines: Line[] = [];
  const logger = createLogger(loadConfig('catalog', { LOG_LEVEL: 'info' }), {
    write: (line: string) => lines.push(JSON.parse(line) as Line),
  });
  const server = Fastify({
    genReqId: newRequestId,
    forceCloseConnections: true,
    clientErrorHandler: (error, socket) => answerClientError(error, socket),
  });
  requestContext(server, logger);
  server.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
  server.get('/datasets/:id/explode', async () => {
    throw new Error('disk /srv/archive on fire');
  });
  server.get('/static', async () => {
    throw Object.assign(new Error('Forbidden'), { status: 403, statusCode: 403, expose: true });
  });
  server.get('/library', async () => {
    throw Object.assign(new Error('redis at 10.0.0.5 refused'), { statusCode: 400, expose: false });
  });
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  return { server, url, port: (server.server.address() as { port: number }).port, lines };
}

/** Sends raw bytes and reads the whole answer (the server closes the connection). */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', (e) => (answer ? resolve(answer) : reject(e)));
  });
}

describe('sendProblem', () => {
  it('logs the cause of a 500 with stack, route and request id at error level, never in the response', async () => {
    const { server, url, lines } = await serve();
    try {
      const res = await fetch(`${url}/datasets/abc/explode`, { headers: { 'X-Request-Id': 'req-500' } });
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body).not.toMatch(/fire|srv|at .*\(|\.ts:/);
      expect(JSON.parse(body)).toEqual(expect.objectContaining({ requestId: 'req-500' }));
      const failure = lines.find((l) => l.msg === 'request failed');
      expect(failure).toEqual(
        expect.objectContaining({
          level: 50,
          requestId: 'req-500',
          route: '/datasets/:id/explode',
          method: 'GET',
          req: expect.objectContaining({ id: 'req-500' }),
        }),
      );
      expect(failure?.err?.message).toBe('disk /srv/archive on fire');
      expect(failure?.err?.stack).toMatch(/problem\.filter\.spec\.ts/);
    } finally {
      await server.close();
    }
  });

  it('answers an http-errors refusal meant for the client with its status, others as a 500 that hides the message', async () => {
    const { server, url, lines } = await serve();
    try {
      const exposed = await fetch(`${url}/static`);
      expect(exposed.status).toBe(403);
      expect(exposed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await exposed.json()).toEqual(expect.objectContaining({ status: 403, detail: 'Forbidden' }));
      const hidden = await fetch(`${url}/library`);
      expect(hidden.status).toBe(500);
      expect(await hidden.text()).not.toMatch(/redis|10\.0\.0\.5/);
      expect(lines.filter((l) => l.msg === 'request failed')).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('answerClientError', () => {
  it.each([
    ['a 100 kB URL', `GET /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['an unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a malformed request line', 'GET\r\n\r\n', 400],
  ])(
    'answers %s that Node refuses before routing as a problem with a request id',
    async (_what, bytes, status) => {
      const { server, port } = await serve();
      try {
        const answer = await rawExchange(port, bytes);
        const [head = '', body = ''] = answer.split('\r\n\r\n');
        expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
        expect(head).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
        const requestId = /\r\nX-Request-Id: ([\w-]+)/.exec(head)?.[1];
        expect(JSON.parse(body)).toEqual(
          expect.objectContaining({
            status,
            requestId,
            detail: expect.any(String),
            type: expect.any(String),
          }),
        );
      } finally {
        await server.close();
      }
    },
  );
});
