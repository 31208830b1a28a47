import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { DomainError } from '@climcat/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { KIND_STATUS, PROBLEM_CONTENT_TYPE, problemType, type Problem } from './problem';

/** Errors Fastify raises itself before routing (malformed URL, overlong path parameter), see sendProblem. */
interface FastifyError {
  code?: string;
  statusCode?: number;
  message?: string;
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
  if (problem.status >= 500) {
    logger.error({ err: exception, requestId: problem.requestId }, 'request failed');
  }
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
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
  if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(exception.message)) {
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
