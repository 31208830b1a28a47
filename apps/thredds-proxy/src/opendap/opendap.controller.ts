import { Controller, Get, Req, Res, UseFilters } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { NotFoundError, type Principal } from '@climcat/core';
import { Caller, countRawBytesSent } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { constants, createDeflate } from 'node:zlib';
import { Dap2ErrorFilter } from './dap2-error.filter';
import { pumpAnswer } from './dods-writer';
import { RequestLimitsService } from '../access/request-limits.service';
import { OpendapService } from './opendap.service';
import { formPage, infoPage, VERSION_TEXT } from './opendap.pages';

/** True when Accept-Encoding lists deflate with a non-zero quality. */
export function acceptsDeflate(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((x) => x !== undefined);
    return coding?.trim() === 'deflate' && (q === undefined || Number(q) > 0);
  });
}

const DAP_HEADERS = { 'XDODS-Server': 'opendap/3.7', 'XOPeNDAP-Server': 'climcat/1.0', XDAP: '2.0' };

/** OPeNDAP DAP2 (`/thredds/dodsC/<root>/<path>.<suffix>`), the URLs TDS serves. */
@ApiTags('thredds')
@Controller('thredds/dodsC')
@UseFilters(Dap2ErrorFilter)
export class OpendapController {
  constructor(
    private readonly opendap: OpendapService,
    private readonly limits: RequestLimitsService,
  ) {}

  @Get('*')
  @ApiOperation({
    summary: 'OPeNDAP DAP2: .dds, .das, .dods, .ascii, .html (request form), .info, .ver',
    description:
      'Constraint expressions after `?` (projections `a,b.c` and hyperslabs `[start:stride:stop]`, stop inclusive). ' +
      'Responses over THREDDS_BIN_LIMIT (.dods) or THREDDS_ASC_LIMIT (.ascii) get a 413 that says how to split them.',
  })
  @ApiParam({ name: '*', description: '<root>/<path of a catalogued file>.<suffix>' })
  @ApiOkResponse({
    description: 'DDS/DAS text, XDR data (application/octet-stream), or an HTML page',
    content: {
      'text/plain': { schema: { type: 'string' } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      'text/html': { schema: { type: 'string' } },
    },
  })
  async get(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { path, suffix, query } = OpendapService.splitUrl(req.url);
    void reply.headers(DAP_HEADERS);
    if (suffix === 'ver' || path === 'version' || path.endsWith('/version')) {
      await reply.type('text/plain; charset=utf-8').send(VERSION_TEXT);
      return;
    }
    switch (suffix) {
      case 'dds':
        await reply
          .header('Content-Description', 'dods-dds')
          .type('text/plain; charset=utf-8')
          .send(await this.opendap.dds(caller, path, query));
        return;
      case 'das':
        await reply
          .header('Content-Description', 'dods-das')
          .type('text/plain; charset=utf-8')
          .send(await this.opendap.das(caller, path));
        return;
      case 'dods': {
        this.limits.acquire(caller, req, reply);
        const answer = await this.opendap.dods(caller, path, query);
        if (this.limits.timedOut(req)) {
          // Past the time limit (its 503 already sent): give the file back, send nothing.
          await answer.close();
          return;
        }
        void reply.header('Content-Description', 'dods-data').type('application/octet-stream');
        if (acceptsDeflate(req.headers['accept-encoding'])) {
          // Fast compression: the XDR of model output compresses well and the link is the bottleneck.
          const deflate = createDeflate({ level: constants.Z_BEST_SPEED });
          void pumpAnswer(answer, deflate).then(({ error }) => this.streamFailed(req, error));
          await reply.header('Content-Encoding', 'deflate').header('Vary', 'Accept-Encoding').send(deflate);
          return;
        }
        // Written to the socket directly: each chunk's buffer is reused once its write is done,
        // which only the socket's write callback tells (a stream handed to Fastify hides it).
        reply.hijack();
        reply.raw.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders);
        if (req.method === 'HEAD') {
          // Headers only: nothing to read.
          reply.raw.end();
          await answer.close();
          return;
        }
        void pumpAnswer(answer, reply.raw, (bytes) => countRawBytesSent(req, bytes)).then(({ error }) =>
          this.streamFailed(req, error),
        );
        return;
      }
      case 'ascii':
      case 'asc': {
        this.limits.acquire(caller, req, reply);
        const body = await this.opendap.ascii(caller, path, query);
        if (this.timedOut(req, body)) return;
        await reply.header('Content-Description', 'dods-ascii').type('text/plain; charset=utf-8').send(body);
        return;
      }
      case 'html':
      case 'htm':
      case '': {
        const described = await this.opendap.describe(caller, path);
        await reply.type('text/html; charset=utf-8').send(formPage(path, described));
        return;
      }
      case 'info': {
        const described = await this.opendap.describe(caller, path);
        await reply.type('text/html; charset=utf-8').send(infoPage(path, described));
        return;
      }
      default:
        throw new NotFoundError(`Unknown OPeNDAP request suffix ".${suffix}"`);
    }
  }

  /** A read failed after the answer started (the client sees it cut short). */
  private streamFailed(req: FastifyRequest, error: unknown): void {
    if (error !== undefined) req.log.error({ err: error }, 'OPeNDAP answer failed while streaming');
  }

  /** Past the time limit (its 503 already sent): close the prepared answer and its file. */
  private timedOut(req: FastifyRequest, body: Readable): boolean {
    if (!this.limits.timedOut(req)) return false;
    body.destroy();
    return true;
  }
}
