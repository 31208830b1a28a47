import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Params } from 'nestjs-pino';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../config/config';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Paths polled by probes and scrapers: answered, but not logged per request. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

/** Injection token of the process's root pino logger. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** What the request-context middleware adds to every request. */
export interface RequestContext {
  id: string;
  log: Logger;
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
      serializers: { req: serializeRequest, res: stdSerializers.res, err: stdSerializers.err },
      ...(pretty ? { transport: { target: 'pino/file', options: { destination: 1 } } } : {}),
    },
    destination,
  );
}

/**
 * nestjs-pino routes Nest's Logger to `logger` and binds each request's
 * `req.log` (set by {@link requestContext}) for log lines written while the
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
 * First middleware of every request: a request id (the caller's
 * `X-Request-Id` when well-formed, else a new UUID) echoed in the response,
 * a request-bound logger, and one "request completed" line at info level.
 * The lines pino-http wrote, minus its per-request cost where the level
 * makes the work useless: no request-bound child logger when nothing is
 * logged at all, no completion listener when info is off.
 */
export function requestContext(logger: Logger): RequestHandler {
  const bindRequest = logger.level !== 'silent';
  const logCompletion = logger.isLevelEnabled('info');
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    const context = req as Request & RequestContext;
    context.id = id;
    context.log = bindRequest ? logger.child({ req }) : logger;
    let failure: unknown;
    // An error event without a listener would crash the process (e.g. a write after end).
    res.on('error', (error: unknown) => {
      failure ??= error;
    });
    if (logCompletion && !UNLOGGED_PATHS.has(req.url)) {
      const start = Date.now();
      res.once('close', () => logCompleted(context.log, res, failure, Date.now() - start));
    }
    next();
  };
}

function logCompleted(log: Logger, res: ServerResponse, failure: unknown, responseTime: number): void {
  if (failure !== undefined || res.statusCode >= 500) {
    const err = failure ?? new Error(`failed with status code ${res.statusCode}`);
    log.info({ res, err, responseTime }, 'request errored');
  } else {
    log.info({ res, responseTime }, 'request completed');
  }
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
