import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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
 * echoed in the response, a request-bound logger, and one "request
 * completed" line at info level. No request-bound child logger when nothing
 * is logged at all, no completion hook when info is off.
 */
export function requestContext(server: FastifyInstance, logger: Logger): void {
  const bindRequest = logger.level !== 'silent';
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    const raw = request.raw as IncomingMessage & RequestContext;
    raw.id = request.id;
    raw.log = bindRequest ? logger.child({ req: raw }) : logger;
    done();
  });
  if (!logger.isLevelEnabled('info')) return;
  server.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (!UNLOGGED_PATHS.has(request.url)) logCompleted(contextOf(request).log, reply);
    done();
  });
  // The client went away before the answer was complete: onResponse never runs for it.
  server.addHook('onRequestAbort', (request, done) => {
    contextOf(request).log.info('request aborted');
    done();
  });
}

function contextOf(request: FastifyRequest): RequestContext {
  return request.raw as IncomingMessage & RequestContext;
}

/** The reply itself is logged as `res`: Fastify writes its headers in one go, so the raw response has none to show. */
function logCompleted(log: Logger, reply: FastifyReply): void {
  const responseTime = reply.elapsedTime;
  const finished = reply.raw.writableFinished;
  if (reply.statusCode >= 500 || !finished) {
    const err = new Error(
      finished ? `failed with status code ${reply.statusCode}` : 'response was not completed',
    );
    log.info({ res: reply, err, responseTime }, 'request errored');
  } else {
    log.info({ res: reply, responseTime }, 'request completed');
  }
}

/** Fastify replies and raw responses alike. */
function serializeResponse(res: { statusCode: number; getHeaders(): Record<string, unknown> }) {
  return { statusCode: res.statusCode, headers: res.getHeaders() };
}

function serializeRequest(req: IncomingMessage & { id?: unknown; originalUrl?: string }) {
  return { id: req.id, method: req.method, url: redactUrl(req.originalUrl ?? req.url ?? '') };
}

/** Drops presigned-URL signatures and tokens from logged URLs. */
export function redactUrl(url: string): string {
  return url.replace(
    /([?&](?:X-Amz-Signature|X-Amz-Credential|token|access_token|api_key)=)[^&]*/gi,
    '$1[redacted]',
  );
}
