import { InvalidError } from '@climcat/core';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Rejects MongoDB operator injection before it reaches any handler:
 * query keys with `$` (e.g. `name[$ne]=x`) anywhere, bracket keys on the
 * JSON APIs (THREDDS constraint expressions legitimately use brackets), and
 * `$`-prefixed member names anywhere in a JSON body. A Fastify preHandler
 * hook: the body is parsed by then.
 */
export function requestHygiene(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const jsonApi = !request.url.startsWith('/thredds');
  for (const key of Object.keys(request.query as Record<string, unknown>)) {
    if (key.includes('$') || (jsonApi && /[[\]]/.test(key))) {
      done(
        InvalidError.field(
          `query.${key}`,
          'operators and bracket syntax are not accepted in query parameters',
        ),
      );
      return;
    }
  }
  const bad = findDollarKey(request.body, 'body', 0);
  done(bad ? InvalidError.field(bad, 'member names starting with "$" are not accepted') : undefined);
}

function findDollarKey(value: unknown, path: string, depth: number): string | null {
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findDollarKey(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key.startsWith('$')) return `${path}.${key}`;
    const hit = findDollarKey(child, `${path}.${key}`, depth + 1);
    if (hit) return hit;
  }
  return null;
}
