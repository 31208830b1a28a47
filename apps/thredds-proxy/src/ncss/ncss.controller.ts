import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, countRawBytesSent } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { RequestLimitsService } from '../access/request-limits.service';
import { splitNcssUrl } from './ncss-params';
import { NcssService } from './ncss.service';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The NCSS request form: pick grids, a box or a point and a time range; it builds the URL. */
function formPage(path: string, grids: string[], xml: string): string {
  const boxes = grids
    .map((g) => `<label><input type="checkbox" name="var" value="${esc(g)}"> ${esc(g)}</label><br>`)
    .join('\n');
  return (
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>NCSS ${esc(path)}</title></head><body>\n` +
    `<h1>NetCDF Subset Service: ${esc(path)}</h1>\n` +
    `<form method="get" action="/thredds/ncss/grid/${esc(path)}">\n<fieldset><legend>Variables</legend>\n${boxes}\n</fieldset>\n` +
    '<fieldset><legend>Box (or leave empty)</legend>north <input name="north" size="8"> south <input name="south" size="8"> ' +
    'east <input name="east" size="8"> west <input name="west" size="8"> horizStride <input name="horizStride" size="3" value="1"></fieldset>\n' +
    '<fieldset><legend>Time (dates in the file\'s calendar)</legend>time_start <input name="time_start" size="20"> ' +
    'time_end <input name="time_end" size="20"> timeStride <input name="timeStride" size="3" value="1"></fieldset>\n' +
    '<fieldset><legend>Output</legend><select name="accept"><option>netcdf</option></select></fieldset>\n' +
    '<input type="submit" value="Get subset"></form>\n' +
    `<h2>dataset.xml</h2><pre>${esc(xml)}</pre>\n</body></html>\n`
  );
}

/** NetCDF Subset Service for grids (`/thredds/ncss/grid/<root>/<path>`), the URLs TDS serves. */
@ApiTags('thredds')
@Controller('thredds/ncss/grid')
export class NcssController {
  constructor(
    private readonly ncss: NcssService,
    private readonly limits: RequestLimitsService,
  ) {}

  @Get('*')
  @ApiOperation({
    summary:
      'NetCDF Subset Service (grid): a subset as NetCDF-3, a point as CSV/XML, dataset.xml, datasetBoundaries',
    description:
      'Parameters as TDS: var (list or all), north/south/east/west, horizStride, time_start/time_end/time_duration, ' +
      'time (nearest, or all), timeStride, vertCoord, latitude/longitude (grid as point), accept=netcdf|csv|xml. ' +
      'Answers over THREDDS_BIN_LIMIT get a 413 that says how to split them. ' +
      '`<path>/dataset.xml`, `<path>/dataset.html`, `<path>/datasetBoundaries.json|.wkt`.',
  })
  @ApiParam({
    name: '*',
    description: '<root>/<path of a catalogued file>[/dataset.xml|/dataset.html|/datasetBoundaries.json]',
  })
  @ApiOkResponse({
    description: 'NetCDF-3 file, CSV/XML point series, gridDataset XML, GeoJSON/WKT, or the HTML form',
    content: {
      'application/x-netcdf': { schema: { type: 'string', format: 'binary' } },
      'text/csv': { schema: { type: 'string' } },
      'text/xml': { schema: { type: 'string' } },
      'application/geo+json': { schema: { type: 'object' } },
      'text/html': { schema: { type: 'string' } },
    },
  })
  async get(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { path, query, request } = splitNcssUrl(req.url);
    switch (request.kind) {
      case 'datasetXml':
        await reply.type('text/xml; charset=utf-8').send(await this.ncss.datasetXml(caller, path));
        return;
      case 'boundaries': {
        const text = await this.ncss.boundaries(caller, path, request.format);
        await reply.type(text.contentType).send(text.body);
        return;
      }
      case 'form': {
        const { grids, xml } = await this.ncss.formData(caller, path);
        await reply.type('text/html; charset=utf-8').send(formPage(path, grids, xml));
        return;
      }
      case 'data':
        break;
    }
    const parsed = this.ncss.parse(query);
    this.limits.acquire(caller, req, reply);
    if (NcssService.isText(parsed)) {
      const text = await this.ncss.point(caller, path, query, req.url);
      // Past the time limit its 503 was sent.
      if (this.limits.timedOut(req)) return;
      await reply.type(text.contentType).send(text.body);
      return;
    }
    const file = await this.ncss.subset(caller, path, query, req.url);
    if (this.limits.timedOut(req)) {
      await file.close();
      return;
    }
    void reply
      .type('application/x-netcdf')
      .header('Content-Length', String(file.bytes))
      .header('Content-Disposition', `attachment; filename="${file.filename.replace(/"/g, '')}"`);
    // Written to the socket directly (as .dods answers): the writer's staging buffers are reused
    // once each write's callback says it is done, which a stream handed to Fastify would hide.
    reply.hijack();
    reply.raw.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders);
    if (req.method === 'HEAD') {
      reply.raw.end();
      await file.close();
      return;
    }
    void file
      .writeTo(reply.raw, (bytes) => countRawBytesSent(req, bytes))
      .catch((error: unknown) => {
        // Past the headers nothing but cutting the answer short tells the client.
        if (!reply.raw.destroyed) {
          req.log.error({ err: error }, 'NCSS answer failed while streaming');
          reply.raw.destroy(error as Error);
        }
      });
  }
}
