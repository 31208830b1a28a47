import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { DomainError } from '@climcat/core';
import { KIND_STATUS, sendProblem } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Suffixes whose clients (netCDF-C, libdap) read a DAP2 Error object, not JSON. */
const DAP_SUFFIX = /\.(dds|das|dods)$/;

/** True when the request path (without query) ends in .dds, .das or .dods. */
export function wantsDapError(url: string): boolean {
  return DAP_SUFFIX.test(url.split('?')[0] ?? '');
}

/** `Error { code = N; message = "..."; };` as libdap writes it. */
export function dap2Error(status: number, message: string): string {
  const quoted = message.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `Error {\n    code = ${status};\n    message = "${quoted}";\n};\n`;
}

/**
 * OPeNDAP errors: a DAP2 Error with `Content-Description: dods-error` and the
 * HTTP status on .dds/.das/.dods (so `ncdump` prints the message), the usual
 * problem+json on the other suffixes. Unexpected errors say nothing internal.
 */
@Catch()
export class Dap2ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('OpendapController');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    sendOpendapError(
      ctx.getRequest<FastifyRequest>(),
      ctx.getResponse<FastifyReply>(),
      exception,
      this.logger,
    );
  }
}

/**
 * Answers `exception` as a DAP2 Error on .dds/.das/.dods, as a problem
 * elsewhere (see Dap2ErrorFilter); also used outside Nest (the time limit).
 * An answer already complete (a 503 sent by the time limit while the
 * handler still ran) is left alone: its connection may serve the next request.
 */
export function sendOpendapError(
  req: FastifyRequest,
  reply: FastifyReply,
  exception: unknown,
  logger: Pick<Logger, 'error'>,
): void {
  if (reply.raw.writableEnded) return;
  if (!wantsDapError(req.url)) {
    sendProblem(req, reply, exception, logger);
    return;
  }
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  let status = 500;
  let message = `An unexpected error occurred; quote the request id ${String(req.id)} when reporting it.`;
  if (exception instanceof DomainError) {
    status = KIND_STATUS[exception.kind].status;
    message = exception.message;
  } else {
    logger.error({ err: exception, requestId: req.id }, 'OPeNDAP request failed');
  }
  if (status === 401) void reply.header('WWW-Authenticate', 'Basic realm="climcat"');
  sendDap2Error(req, reply, status, message);
}

/** A DAP2 Error with its headers, which netCDF-C prints as `code=N message="..."`. */
export function sendDap2Error(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
): void {
  void reply
    .status(status)
    .header('Content-Description', 'dods-error')
    .header('XDODS-Server', 'opendap/3.7')
    .header('X-Request-Id', String(req.id))
    .type('text/plain; charset=utf-8')
    .send(dap2Error(status, message));
}
