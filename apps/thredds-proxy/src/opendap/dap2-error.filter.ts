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
    const req = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    if (!wantsDapError(req.url)) {
      sendProblem(req, reply, exception, this.logger);
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
      this.logger.error({ err: exception, requestId: req.id }, 'OPeNDAP request failed');
    }
    if (status === 401) void reply.header('WWW-Authenticate', 'Basic realm="climcat"');
    void reply
      .status(status)
      .header('Content-Description', 'dods-error')
      .header('XDODS-Server', 'opendap/3.7')
      .header('X-Request-Id', String(req.id))
      .type('text/plain; charset=utf-8')
      .send(dap2Error(status, message));
  }
}
