import { Readable } from 'node:stream';
import { Controller, Get, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { RawQuery } from '../datasets/search-params';
import { ESGF_FORMAT_NAMES, ESGF_MAX_LIMIT, ESGF_TYPES } from './esgf-params';
import { EsgfService } from './esgf.service';
import { solrXml, type EsgfResponse } from './solr-mapping';

const XML_TYPE = 'application/xml; charset=utf-8';
const BOOLEAN = 'true or false in any case (True, FALSE), or 1 or 0';

class SolrResponseDto {
  numFound!: number;
  start!: number;
  maxScore!: number;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  docs!: Record<string, unknown>[];
}

class EsgfSearchDto {
  @ApiProperty({ type: 'object', additionalProperties: true })
  responseHeader!: Record<string, unknown>;
  response!: SolrResponseDto;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'facet_fields: { facet: [value, count, value, count, …] }',
  })
  facet_counts!: Record<string, unknown>;
}

@ApiTags('esgf')
@Controller('esg-search')
export class EsgfController {
  constructor(private readonly esgf: EsgfService) {}

  @Get('search')
  @ApiOperation({
    summary:
      'ESGF search API subset (esgf-pyclient compatible): Solr XML by default, Solr JSON with format=application/solr+json; only records you may read',
  })
  @ApiQuery({ name: 'type', required: false, enum: ESGF_TYPES })
  @ApiQuery({ name: 'query', required: false, description: 'Free text' })
  @ApiQuery({
    name: 'facets',
    required: false,
    example: 'model,experiment',
    description: '* counts every facet the matching records have',
  })
  @ApiQuery({
    name: 'fields',
    required: false,
    example: 'id,instance_id,size',
    description: '* (default) or a list; unknown names are ignored',
  })
  @ApiQuery({ name: 'dataset_id', required: false, description: 'Parent dataset (type=File, Aggregation)' })
  @ApiQuery({ name: 'master_id', required: false, description: 'Dataset id without version (not type=File)' })
  @ApiQuery({ name: 'latest', required: false, description: BOOLEAN })
  @ApiQuery({ name: 'retracted', required: false, description: BOOLEAN })
  @ApiQuery({ name: 'replica', required: false, description: `${BOOLEAN}; no record here is a replica` })
  @ApiQuery({
    name: 'distrib',
    required: false,
    description: `${BOOLEAN}; this index is always the only one`,
  })
  @ApiQuery({ name: 'shards', required: false, description: 'Accepted and ignored (one index)' })
  @ApiQuery({ name: 'start', required: false, example: '2006-01-01T00:00:00Z' })
  @ApiQuery({ name: 'end', required: false, example: '2100-12-31T23:59:59Z' })
  @ApiQuery({
    name: 'from',
    required: false,
    example: '2024-01-01T00:00:00Z',
    description: "Modified at or after (the record's _timestamp)",
  })
  @ApiQuery({
    name: 'to',
    required: false,
    example: '2024-12-31T23:59:59Z',
    description: 'Modified at or before',
  })
  @ApiQuery({ name: 'bbox', required: false, example: '[-10,35,30,70]' })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `0-${ESGF_MAX_LIMIT} (0: counts only), default 10`,
  })
  @ApiQuery({ name: 'offset', required: false })
  @ApiQuery({ name: 'format', required: false, enum: ESGF_FORMAT_NAMES })
  @ApiProduces('application/xml', 'application/json')
  @ApiOkResponse({ type: EsgfSearchDto, description: 'Solr JSON shown; Solr XML carries the same content' })
  async search(
    @Caller() caller: Principal,
    @Query() query: RawQuery,
  ): Promise<EsgfResponse | StreamableFile> {
    const { format, answer } = await this.esgf.search(caller, query);
    if (format === 'json') return answer;
    return new StreamableFile(Readable.from(solrXml(answer)), { type: XML_TYPE });
  }
}
