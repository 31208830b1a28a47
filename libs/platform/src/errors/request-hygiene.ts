import { HttpException } from '@nestjs/common';
import { Readable } from 'node:stream';
import { InvalidError, type FieldProblem } from '@climcat/core';
import type { IncomingMessage } from 'node:http';
import { findIllFormedQueryParam, findIllFormedString } from '../http/json-limits';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Rejects MongoDB operator injection before it reaches any handler:
 * query keys with `$` (e.g. `name[$ne]=x`) anywhere, bracket keys on the
 * JSON APIs (THREDDS constraint expressions legitimately use brackets), and
 * `$`-prefixed member names anywhere in a JSON body. Also refuses text that
 * is not Unicode: query parameters that are not percent-encoded UTF-8 and
 * body strings with lone surrogates (see json-limits.ts), so that no route
 * stores or compares them. A Fastify preHandler hook: the body is parsed by then.
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
        queryProblem(request.url, key, 'operators and bracket syntax are not accepted in query parameters'),
      );
      return;
    }
  }
  const illFormedParam = findIllFormedQueryParam(request.url);
  if (illFormedParam !== null) {
    done(queryProblem(request.url, illFormedParam, ILL_FORMED_QUERY));
    return;
  }
  // A streamed body (octet-stream routes) is bytes for its handler, not a JSON value to walk.
  if (request.body instanceof Readable) {
    done();
    return;
  }
  const bad = findDollarKey(request.body, 'body', 0);
  if (bad) {
    done(InvalidError.field(bad, 'member names starting with "$" are not accepted'));
    return;
  }
  const illFormed = findIllFormedString(request.body, 'body');
  done(illFormed ? InvalidError.field(illFormed, ILL_FORMED_STRING) : undefined);
}

const ILL_FORMED_QUERY = 'is not percent-encoded UTF-8';

/**
 * The 400 esgf-pyclient can read: it extracts the names with
 * `Invalid HTTP query parameter=(\w+)` from the body, so `detail` has one such
 * line per problem; `errors[]` keeps the fields as every other route does.
 */
export function esgfInvalid(problems: FieldProblem[]): InvalidError {
  const lines = problems.map(
    (p) => `Invalid HTTP query parameter=${p.field.replace(/^query\./, '')}: ${p.message}`,
  );
  return new InvalidError(lines.join('\n'), problems);
}

/** A refused query parameter; on the ESGF API in the form its routes' own 400s have. */
function queryProblem(url: string, key: string, message: string): InvalidError {
  const problem = { field: `query.${key}`, message };
  return url.startsWith('/esg-search') ? esgfInvalid([problem]) : InvalidError.field(problem.field, message);
}
const ILL_FORMED_STRING = 'is not valid Unicode (a lone surrogate such as \\ud800)';

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

/** A `..` segment (either separator, as @fastify/static and file systems read both). */
const DOT_DOT_SEGMENT = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/**
 * Refuses, before routing, a path with a `..` segment or a NUL, raw or
 * percent-encoded: no route names files that way, and the static and
 * archive routes must not get to decide what such a path means. An onRequest hook.
 */
export function pathHygiene(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const problem = pathProblem(request.url);
  done(problem ? InvalidError.field('path', problem) : undefined);
}

/** What is wrong with the path of `url` (see pathHygiene), or null. */
export function pathProblem(url: string): string | null {
  const q = url.indexOf('?');
  let path = q < 0 ? url : url.slice(0, q);
  try {
    path = decodeURIComponent(path);
  } catch {
    // Not decodable: the router answers it as a bad URL; still look at it as sent.
  }
  if (path.includes('\0')) return 'NUL characters are not accepted in a path';
  if (DOT_DOT_SEGMENT.test(path)) return '".." segments are not accepted in a path';
  return null;
}

/**
 * What Node's HTTP parser reads of a request line and headers before it
 * refuses the request outright (431, see answerClientError). Far above what
 * is accepted (MAX_REQUEST_HEAD_BYTES, checked by requestHeadLimit) so that an
 * overlong request still reaches the routes and is refused in the format its
 * clients read (a DAP2 Error for OPeNDAP). It bounds the memory of a request
 * head the way BODY_LIMIT_BYTES bounds a body.
 */
export const PARSER_MAX_HEAD_BYTES = 2 * 1024 * 1024;

/**
 * Longest request line plus headers accepted: Node's own default, which was
 * the limit when the parser enforced it (see PARSER_MAX_HEAD_BYTES).
 */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

/** The bytes of the URL and header names and values, as Node's parser counts them. */
export function requestHeadBytes(raw: IncomingMessage): number {
  let bytes = raw.url?.length ?? 0;
  for (const part of raw.rawHeaders) bytes += part.length;
  return bytes;
}

/**
 * Refuses a request line and headers over MAX_REQUEST_HEAD_BYTES with a 431
 * problem. A preParsing hook: features refuse their own URLs first (OPeNDAP
 * answers a DAP2 Error in its onRequest hook).
 */
export function requestHeadLimit(
  request: FastifyRequest,
  _reply: FastifyReply,
  _payload: unknown,
  done: (err?: Error | null) => void,
): void {
  const bytes = requestHeadBytes(request.raw);
  if (bytes <= MAX_REQUEST_HEAD_BYTES) {
    done();
    return;
  }
  done(
    new HttpException(
      {
        message:
          `The request line and headers are ${bytes} bytes and exceed the ${MAX_REQUEST_HEAD_BYTES} bytes ` +
          `(${MAX_REQUEST_HEAD_BYTES / 1024} KiB) this server reads`,
      },
      431,
    ),
  );
}
