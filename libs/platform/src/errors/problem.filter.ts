import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { DomainError } from '@climcat/core';
import type { Request, Response } from 'express';
import { KIND_STATUS, PROBLEM_CONTENT_TYPE, problemType, type Problem } from './problem';

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  message?: string;
}

/**
 * Maps every error to an RFC 9457 problem. Domain errors carry their own
 * status; Nest HTTP exceptions keep theirs; body-parser errors become 400/413;
 * anything else is a 500 without internals (logged with the request id).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = this.toProblem(exception, req);
    if (problem.status >= 500) {
      this.logger.error({ err: exception, requestId: problem.requestId }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (problem.status === 401) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="climcat", Basic realm="climcat"');
    }
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown, req: Request): Problem {
    const base = { instance: req.originalUrl ?? req.url, requestId: requestIdOf(req) };
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
    const bp = exception as BodyParserError;
    if (bp && typeof bp === 'object' && typeof bp.type === 'string' && bp.type.startsWith('entity.')) {
      const status = bp.status ?? bp.statusCode ?? 400;
      const detail =
        bp.type === 'entity.parse.failed'
          ? `Request body is not valid JSON: ${bp.message ?? 'parse error'}`
          : bp.type === 'entity.too.large'
            ? 'Request body is too large'
            : (bp.message ?? 'Request body could not be read');
      return {
        type: problemType(status),
        title: status === 413 ? 'Content Too Large' : 'Bad Request',
        status,
        detail,
        ...base,
        ...(status === 400 ? { errors: [{ field: 'body', message: detail }] } : {}),
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
}

function httpDetail(exception: HttpException, req: Request): string {
  const status = exception.getStatus();
  if (status === 404 && /^Cannot (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/.test(exception.message)) {
    return `No route matches ${req.method} ${req.path}`;
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

export function requestIdOf(req: Request): string | undefined {
  const id = (req as Request & { id?: unknown }).id;
  return typeof id === 'string' ? id : typeof id === 'number' ? String(id) : undefined;
}
