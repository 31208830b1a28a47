import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Transform, pipeline } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../config/config';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Paths polled by probes and scrapers: answered, but not logged per request. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

/** Injection token of the process's root pino logger. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** What the request-context hook adds to the raw request (nestjs-pino binds Nest's Logger to `log`). */
export interface RequestContext {
  id: string;
  log: Logger;
  /** Bytes of the answer handed to the socket so far (after compression; an aborted answer counts what was sent). */
  bytesSent: number;
  /** Fields features add to the request's completion line (see annotateRequest). */
  logFields: Record<string, unknown>;
  /** The response, for the status of an aborted request's line. */
  response: ServerResponse;
}

/** The caller's `X-Request-Id` when well-formed, else a new UUID (Fastify's `genReqId`). */
export function newRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** JSON logs (to stdout unless given a destination); credentials are redacted, never logged. */
export function createLogger(config: AppConfig, destination?: DestinationStream): Logger {
  const pretty = config.log.pretty && !destination;
  return pino(
    {
      level: config.log.level,
      name: `climcat-${config.service}`,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-amz-security-token"]'],
        censor: '[redacted]',
      },
      serializers: { req: serializeRequest, res: serializeResponse, err: stdSerializers.err },
      ...(pretty ? { transport: { target: 'pino/file', options: { destination: 1 } } } : {}),
    },
    destination,
  );
}

/**
 * nestjs-pino routes Nest's Logger to `logger` and binds each request's
 * `log` (set by {@link requestContext}) for log lines written while the
 * request runs. When nothing can ever be logged, no request is bound: that
 * binding (an AsyncLocalStorage context) costs every promise of the request.
 */
export function loggerParams(logger: Logger): Params {
  return {
    pinoHttp: { logger },
    useExisting: true,
    ...(logger.level === 'silent' ? { forRoutes: [] } : {}),
  };
}

/**
 * First hooks of every request: the request id (see {@link newRequestId})
 * echoed in the response, a request-bound logger, and one "request completed" line at info level
 * with the status, the bytes and what features added. No request-bound
 * child logger when nothing is logged at all, no completion hook when info is off.
 */
export function requestContext(server: FastifyInstance, logger: Logger): void {
  const bindRequest = logger.level !== 'silent';
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    const raw = request.raw as IncomingMessage & RequestContext;
    raw.id = request.id;
    raw.log = bindRequest ? logger.child({ req: raw }) : logger;
    raw.bytesSent = 0;
    raw.logFields = {};
    raw.response = reply.raw;
    done();
  });
  if (!logger.isLevelEnabled('info')) return;
  server.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (!UNLOGGED_PATHS.has(request.url)) logCompleted(request, reply);
    done();
  });
  // The client went away before the answer was complete: onResponse never runs for it.
  server.addHook('onRequestAbort', (request, done) => {
    const { log, bytesSent, logFields, response } = contextOf(request);
    log.info({ ...logFields, res: response, bytes: bytesSent }, 'request aborted');
    done();
  });
}

function contextOf(request: FastifyRequest): RequestContext {
  return request.raw as IncomingMessage & RequestContext;
}

/**
 * Counts the bytes of every answer into its request context (see
 * {@link bytesSent}). The last onSend hook, so it counts what is really
 * sent (after a 304 replaced the body, after compression).
 */
export function countBytesSent(server: FastifyInstance): void {
  // A stream through a counter, text and buffers by length; HEAD sends no body.
  server.addHook('onSend', (request, _reply, payload, done) => {
    const context = contextOf(request);
    if (request.method === 'HEAD') return done(null, payload);
    if (payload instanceof Readable) {
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          context.bytesSent += chunk.length;
          callback(null, chunk);
        },
      });
      // Fastify destroys the counter when the response closes early (client gone, time limit);
      // pipeline passes that on to the source, which closes its file.
      pipeline(payload, counter, () => undefined);
      done(null, counter);
      return;
    }
    if (typeof payload === 'string' || Buffer.isBuffer(payload))
      context.bytesSent += Buffer.byteLength(payload);
    done(null, payload);
  });
}

/** Adds fields to the request's completion line (e.g. what an OPeNDAP request asked for). */
export function annotateRequest(request: FastifyRequest, fields: Record<string, unknown>): void {
  const context = contextOf(request);
  context.logFields = { ...context.logFields, ...fields };
}

/**
 * Counts bytes an answer wrote to the raw response itself: a hijacked reply
 * (see Fastify's `reply.hijack()`) passes no onSend hook.
 */
export function countRawBytesSent(request: FastifyRequest, bytes: number): void {
  const context = contextOf(request);
  context.bytesSent = (context.bytesSent ?? 0) + bytes;
}

/** Bytes of the answer handed to the socket so far (0 before the request-context hook ran). */
export function bytesSent(request: FastifyRequest): number {
  return contextOf(request).bytesSent ?? 0;
}

/** The reply itself is logged as `res`: Fastify writes its headers in one go, so the raw response has none to show. */
function logCompleted(request: FastifyRequest, reply: FastifyReply): void {
  const { log, bytesSent: bytes, logFields } = contextOf(request);
  const responseTime = reply.elapsedTime;
  const finished = reply.raw.writableFinished;
  if (reply.statusCode >= 500 || !finished) {
    const err = new Error(
      finished ? `failed with status code ${reply.statusCode}` : 'response was not completed',
    );
    log.info({ ...logFields, res: reply, bytes, err, responseTime }, 'request errored');
  } else {
    log.info({ ...logFields, res: reply, bytes, responseTime }, 'request completed');
  }
}

/** Fastify replies and raw responses alike. */
function serializeResponse(res: { statusCode: number; getHeaders(): Record<string, unknown> }) {
  return { statusCode: res.statusCode, headers: res.getHeaders() };
}

function serializeRequest(req: IncomingMessage & { id?: unknown; originalUrl?: string }) {
  return { id: req.id, method: req.method, url: logUrl(req.originalUrl ?? req.url ?? '') };
}

/** Longest URL written to a log line; the parser accepts far longer ones (PARSER_MAX_HEAD_BYTES). */
const MAX_LOGGED_URL = 4096;

/** The URL as logged: redacted, and cut short with its length when it is very long. */
export function logUrl(url: string): string {
  const redacted = redactUrl(url);
  return redacted.length <= MAX_LOGGED_URL
    ? redacted
    : `${redacted.slice(0, MAX_LOGGED_URL)}…(${redacted.length} characters)`;
}

/** Drops presigned-URL signatures and tokens from logged URLs. */
export function redactUrl(url: string): string {
  return url.replace(
    /([?&](?:X-Amz-Signature|X-Amz-Credential|token|access_token|api_key)=)[^&]*/gi,
    '$1[redacted]',
  );
}
