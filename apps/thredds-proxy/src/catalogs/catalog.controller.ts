import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { NotFoundError, threddsPath, type Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { CatalogService, type CatalogEntry } from './catalog.service';
import {
  aggregationXml,
  catalogHead,
  catalogRefXml,
  catalogTail,
  entryHtml,
  entryXml,
  htmlHead,
  htmlTail,
  rootRowHtml,
} from './inv-catalog.writer';

const NESTED = '/thredds/catalog/';
const XML_TYPE = 'application/xml; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * THREDDS catalogs: `/thredds/catalog.xml` (a catalogRef per root) and
 * `/thredds/catalog/<root>/<dir>/catalog.xml` (sub-directories as
 * catalogRefs, files as datasets), each also as `.html`; streamed and
 * filtered for the caller.
 */
@ApiExcludeController()
@Controller('thredds')
export class CatalogController {
  constructor(private readonly catalogs: CatalogService) {}

  @Get('catalog.xml')
  async topXml(@Res() reply: FastifyReply): Promise<void> {
    const refs = this.catalogs
      .rootNames()
      .map((name) => catalogRefXml(name, `catalog/${encodeURIComponent(name)}/catalog.xml`, name))
      .join('');
    await reply.type(XML_TYPE).send(catalogHead('climcat', 'climcat') + refs + catalogTail());
  }

  @Get('catalog.html')
  async topHtml(@Res() reply: FastifyReply): Promise<void> {
    const rows = this.catalogs
      .rootNames()
      .map((name) => rootRowHtml(name, `catalog/${encodeURIComponent(name)}/catalog.html`))
      .join('');
    await reply.type(HTML_TYPE).send(htmlHead('climcat', 'catalog.xml', null) + rows + htmlTail());
  }

  @Get('catalog/*')
  async nested(
    @Caller() caller: Principal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // The path as sent (still percent-encoded): each segment is decoded exactly once.
    const url = req.url.split('?')[0] ?? '';
    const rest = url.startsWith(NESTED) ? url.slice(NESTED.length) : '';
    const m = /^(.+)\/catalog\.(xml|html)$/.exec(rest);
    if (!m) throw new NotFoundError(`No catalog at ${url}: catalogs are <directory>/catalog.xml or .html`);
    const html = m[2] === 'html';
    if (!html && m[1]!.startsWith('datasets/')) {
      // A dataset's catalog: its aggregation beside its files (what ESGF Dataset records link to).
      const rawId = m[1]!.slice('datasets/'.length);
      const { dataset, files } = await this.catalogs.datasetEntries(caller, rawId);
      await reply
        .type(XML_TYPE)
        .send(
          catalogHead(dataset.id, dataset.id) +
            aggregationXml(dataset) +
            joined(files, entryXml) +
            catalogTail(),
        );
      return;
    }
    const place = this.catalogs.place(caller, m[1]!);
    const segments = place.path ? place.path.split('/') : [];
    const title = segments.at(-1) ?? place.root;
    const id = place.path ? threddsPath(place) : encodeURIComponent(place.root);
    const entries = this.catalogs.entries(caller, place);
    // The first batch decides 404/401 before any header is sent.
    const first = await entries.next();
    const render = html ? entryHtml : entryXml;
    async function* body(): AsyncGenerator<string> {
      yield html
        ? htmlHead(title, 'catalog.xml', `${segments.length ? '..' : '../..'}/catalog.html`)
        : catalogHead(title, id);
      if (!first.done) yield joined(first.value, render);
      for await (const batch of entries) yield joined(batch, render);
      yield html ? htmlTail() : catalogTail();
    }
    await reply.type(html ? HTML_TYPE : XML_TYPE).send(Readable.from(body()));
  }
}

function joined(batch: CatalogEntry[], render: (e: CatalogEntry) => string): string {
  return batch.map(render).join('');
}
