import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import type { RawQuery } from '../datasets/search-params';
import { ESGF_MAX_LIMIT } from './esgf-params';
import { EsgfService } from './esgf.service';
import type { EsgfResponse } from './solr-mapping';

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
    summary: 'ESGF search API subset (esgf-pyclient compatible), Solr JSON; only datasets you may read',
  })
  @ApiQuery({ name: 'type', required: false, enum: ['Dataset', 'File'] })
  @ApiQuery({ name: 'query', required: false, description: 'Free text' })
  @ApiQuery({ name: 'facets', required: false, example: 'model,experiment' })
  @ApiQuery({ name: 'fields', required: false, example: 'id,instance_id,size' })
  @ApiQuery({ name: 'master_id', required: false, description: 'Dataset id without version (type=Dataset)' })
  @ApiQuery({ name: 'latest', required: false, type: Boolean })
  @ApiQuery({ name: 'start', required: false, example: '2006-01-01T00:00:00Z' })
  @ApiQuery({ name: 'end', required: false, example: '2100-12-31T23:59:59Z' })
  @ApiQuery({ name: 'bbox', required: false, example: '[-10,35,30,70]' })
  @ApiQuery({ name: 'limit', required: false, description: `0-${ESGF_MAX_LIMIT}, default 10` })
  @ApiQuery({ name: 'offset', required: false })
  @ApiQuery({ name: 'format', required: false, enum: ['application/solr+json'] })
  @ApiOkResponse({ type: EsgfSearchDto })
  async search(@Caller() caller: Principal, @Query() query: RawQuery): Promise<EsgfResponse> {
    return this.esgf.search(caller, query);
  }
}
