import type { FastifyInstance } from 'fastify';

/**
 * Conditional GET for responses that carry an ETag (a dataset's revision):
 * a client that sends it back in If-None-Match gets 304 Not Modified and no
 * body (RFC 9110 §13.1.2; weak comparison, `*` matches any).
 */
export function conditionalGet(server: FastifyInstance): void {
  server.addHook('onSend', (request, reply, payload, done) => {
    const ifNoneMatch = request.headers['if-none-match'];
    const etag = reply.getHeader('etag');
    if (
      ifNoneMatch !== undefined &&
      typeof etag === 'string' &&
      reply.statusCode === 200 &&
      (request.method === 'GET' || request.method === 'HEAD') &&
      matchesAny(ifNoneMatch, etag)
    ) {
      void reply.code(304);
      reply.removeHeader('content-length');
      done(null, '');
      return;
    }
    done(null, payload);
  });
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}

function matchesAny(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  const current = opaque(etag);
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === current);
}
