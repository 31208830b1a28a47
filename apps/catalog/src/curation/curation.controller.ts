import { Body, Controller, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { FastifyRequest } from 'fastify';
import { ApiSearchQuery } from '../datasets/dataset.controller';
import type { RawQuery } from '../datasets/search-params';
import { BulkPatchDto, BulkResultDto, CapacityDto, FacetsResultDto } from './curation.dto';
import { CurationService } from './curation.service';

@ApiTags('curation')
@ApiBearerAuth()
@Controller('api/v1')
export class CurationController {
  constructor(private readonly curation: CurationService) {}

  @Get('facets')
  @ApiOperation({ summary: 'Facet values and counts over the datasets you may read, optionally filtered' })
  @ApiSearchQuery()
  @ApiQuery({
    name: 'facets',
    required: false,
    example: 'model,experiment',
    description: 'Default: all facets',
  })
  @ApiOkResponse({ type: FacetsResultDto })
  async facets(@Caller() caller: Principal, @Query() query: RawQuery): Promise<FacetsResultDto> {
    const result = await this.curation.facets(caller, query);
    return { total: result.total, facets: result.facets };
  }

  @Post('datasets/bulk')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Apply a merge patch to every dataset matching a search (curators); dryRun returns count and sample',
  })
  @ApiQuery({ name: 'dryRun', required: false, type: Boolean })
  @ApiOkResponse({ type: BulkResultDto })
  async bulk(
    @Caller() caller: Principal,
    @Body() body: BulkPatchDto,
    @Query('dryRun') dryRun: string | undefined,
    @Req() req: FastifyRequest,
  ): Promise<BulkResultDto> {
    const dry = body.dryRun ?? (dryRun === 'true' || dryRun === '1');
    return this.curation.bulk({ caller, requestId: requestIdOf(req) }, body.filter, body.patch, dry);
  }

  @Get('capacity')
  @ApiOperation({
    summary: 'Bytes and file counts per tier (standard/derived/scratch) and project against budgets',
  })
  @ApiOkResponse({ type: CapacityDto })
  async capacity(@Caller() caller: Principal): Promise<CapacityDto> {
    return this.curation.capacity(caller);
  }
}
