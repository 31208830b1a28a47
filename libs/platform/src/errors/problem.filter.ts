import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { DomainError } from '@climcat/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger as PinoLogger } from 'pino';
import { PARSER_MAX_HEAD_BYTES } from './request-hygiene';
import { KIND_STATUS, PROBLEM_CONTENT_TYPE, problemType, type Problem } from './problem';

/**
 * Errors Fastify raises itself before routing (malformed URL, overlong path
 * parameter), see sendProblem, and http-errors' errors (@fastify/static's
 * refusals), whose `expose` says the message is meant for the client.
 */
interface FastifyError {
  code?: string;
  statusCode?: number;
  message?: string;
  expose?: boolean;
}

/**
 * Maps every error to an RFC 9457 problem. Domain errors carry their own
 * status; Nest HTTP exceptions keep theirs (Nest turns Fastify's own errors,
 * such as a body too large or of an unsupported media type, into those);
 * Fastify's errors raised before routing keep their 4xx status;
 * anything else is a 500 without internals (logged with the request id).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    sendProblem(ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>(), exception, this.logger);
  }
}

/**
 * Answers `exception` as a problem; also used for the errors Fastify raises
 * before routing (malformed URL, overlong path parameter), which never reach Nest.
 */
export function sendProblem(
  req: FastifyRequest,
  reply: FastifyReply,
  exception: unknown,
  logger: Pick<Logger, 'error'> = fallbackLogger,
): void {
  const problem = toProblem(exception, req);
  if (problem.status >= 500) logFailure(req, exception, problem, logger);
  if (reply.sent || reply.raw.headersSent) {
    // Cut an answer short, but leave a complete one alone (e.g. a time limit's 503 already sent).
    if (!reply.raw.writableEnded) reply.raw.destroy();
    return;
  }
  if (problem.status === 401) {
    void reply.header('WWW-Authenticate', 'Bearer realm="climcat", Basic realm="climcat"');
  }
  void reply
    .header('X-Request-Id', problem.requestId)
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem));
}

const fallbackLogger = new Logger('ProblemFilter');

/**
 * The cause of a 5xx, for whoever is handed its request id: the error with
 * its stack, the route and the request id, at error level, on the request's
 * logger (see requestContext) when it has one. Never in the response.
 */
function logFailure(
  req: FastifyRequest,
  exception: unknown,
  problem: Problem,
  logger: Pick<Logger, 'error'>,
): void {
  const context = {
    err: exception instanceof Error ? exception : new Error(String(exception)),
    requestId: problem.requestId,
    route: req.routeOptions?.url,
    method: req.method,
  };
  const log = (req.raw as { log?: PinoLogger }).log;
  if (log && typeof log.error === 'function') log.error(context, 'request failed');
  else logger.error(context, 'request failed');
}

function toProblem(exception: unknown, req: FastifyRequest): Problem {
  const base = { instance: req.url, requestId: requestIdOf(req) };
  if (exception instanceof DomainError) {
    const { status, title } = KIND_STATUS[exception.kind];
    return {
      type: problemType(status),
      title,
      status,
      detail: exception.message,
      ...base,
      ...(exception.errors.length ? { errors: exception.errors } : {}),
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const title = HttpStatus[status]?.toString().replace(/_/g, ' ') ?? 'Error';
    const detail = httpDetail(exception, req);
    return { type: problemType(status), title: titleCase(title), status, detail, ...base };
  }
  const fastifyError = exception as FastifyError;
  const status = fastifyError?.statusCode;
  // Only Fastify's own (FST_*) errors: another library's error with a status must not leak its message.
  if (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    typeof fastifyError.code === 'string' &&
    fastifyError.code.startsWith('FST_')
  ) {
    return {
      type: problemType(status),
      title: titleCase(HttpStatus[status]?.toString().replace(/_/g, ' ') ?? 'Bad Request'),
      status,
      detail: fastifyError.message ?? 'The request could not be read',
      ...base,
    };
  }
  if (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    fastifyError.expose === true &&
    typeof fastifyError.message === 'string'
  ) {
    const title = titleCase(HttpStatus[status]?.toString().replace(/_/g, ' ') ?? 'Bad Request');
    return { type: problemType(status), title, status, detail: fastifyError.message, ...base };
  }
  return {
    type: problemType(500),
    title: 'Internal Server Error',
    status: 500,
    detail: 'An unexpected error occurred; quote the request id when reporting it.',
    ...base,
  };
}

function httpDetail(exception: HttpException, req: FastifyRequest): string {
  const status = exception.getStatus();
  if (status === 404 && /^Cannot [A-Z-]+ /.test(exception.message)) {
    return `No route matches ${req.method} ${req.url.split('?')[0] ?? ''}`;
  }
  // Fastify's own refusal, which Nest passes on as an HttpException: say what was sent and what is read.
  if (status === 415) {
    return `Content-Type ${req.headers['content-type'] ?? '(none)'} is not accepted here; send application/json`;
  }
  const response = exception.getResponse();
  if (typeof response === 'object' && response && 'message' in response) {
    const message = response.message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string') return message;
  }
  return exception.message;
}

function titleCase(s: string): string {
  return s
    .toLowerCase()
    .split(' ')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** The request id of a Fastify request, or of a raw request that passed the request-context hook. */
export function requestIdOf(req: { id?: unknown }): string | undefined {
  const id = req.id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before
 * there is a request (headers or URL too large, an unknown method, a
 * malformed request line) is answered as a problem too, with a request id,
 * and the connection closed, as Node does.
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  logger: Pick<Logger, 'debug'> = fallbackLogger,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          `The request line or headers exceed the size this server reads (${PARSER_MAX_HEAD_BYTES / 1024 / 1024} MiB)`,
        ]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time']
        : [400, `The request could not be parsed as HTTP/1.1 (${error.code ?? 'malformed'})`];
  const requestId = randomUUID();
  // The code only: the error carries the raw packet (up to 64 KiB of whatever was sent).
  logger.debug({ code: error.code, status, requestId }, 'client error');
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ type: problemType(status), title, status, detail, requestId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
