import { Controller, Get, Req, Res, UseFilters } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { NotFoundError, type Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Dap2ErrorFilter } from './dap2-error.filter';
import { OpendapService } from './opendap.service';
import { formPage, infoPage, VERSION_TEXT } from './opendap.pages';

const DAP_HEADERS = { 'XDODS-Server': 'opendap/3.7', 'XOPeNDAP-Server': 'climcat/1.0', XDAP: '2.0' };

/** OPeNDAP DAP2 (`/thredds/dodsC/<root>/<path>.<suffix>`), the URLs TDS serves. */
@ApiTags('thredds')
@Controller('thredds/dodsC')
@UseFilters(Dap2ErrorFilter)
export class OpendapController {
  constructor(private readonly opendap: OpendapService) {}

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
      case 'dods':
        await reply
          .header('Content-Description', 'dods-data')
          .type('application/octet-stream')
          .send(await this.opendap.dods(caller, path, query));
        return;
      case 'ascii':
      case 'asc':
        await reply
          .header('Content-Description', 'dods-ascii')
          .type('text/plain; charset=utf-8')
          .send(await this.opendap.ascii(caller, path, query));
        return;
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
}
