import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { FACET_NAMES, type Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { Request, Response } from 'express';
import { CreateDatasetDto, DatasetDto, DatasetSearchResultDto, mapDataset } from './dataset.dto';
import { DatasetService } from './dataset.service';
import { DEFAULT_LIMIT, MAX_LIMIT, type RawQuery } from './search-params';

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('api/v1/datasets')
export class DatasetController {
  constructor(private readonly datasets: DatasetService) {}

  @Get()
  @ApiOperation({
    summary: 'Search datasets with facet filters, free text, time range and bbox; facet counts in the same answer',
    description: `Facet filters: ${FACET_NAMES.join(', ')} (repeat or comma-separate values). Only datasets you may read are counted or returned.`,
  })
  @ApiQuery({ name: 'q', required: false, description: 'Free text; every term must prefix-match' })
  @ApiQuery({ name: 'start', required: false, example: '2006-01' })
  @ApiQuery({ name: 'end', required: false, example: '2100' })
  @ApiQuery({ name: 'bbox', required: false, example: '-10,35,30,70', description: 'west,south,east,north' })
  @ApiQuery({ name: 'kind', required: false, enum: ['standard', 'derived', 'scratch'], isArray: true })
  @ApiQuery({ name: 'facets', required: false, example: 'model,experiment', description: 'Facets to count' })
  @ApiQuery({ name: 'limit', required: false, example: DEFAULT_LIMIT, description: `0-${MAX_LIMIT}` })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'offset', required: false })
  @ApiQuery({ name: 'sort', required: false, example: '-updatedAt' })
  @ApiQuery({ name: 'model', required: false, isArray: true, example: ['EC-EARTH', 'HadGEM2-ES'] })
  @ApiQuery({ name: 'variable', required: false, isArray: true, example: ['tas'] })
  @ApiOkResponse({ type: DatasetSearchResultDto })
  async search(@Caller() caller: Principal, @Query() query: RawQuery): Promise<DatasetSearchResultDto> {
    const result = await this.datasets.search(caller, query);
    return {
      total: result.total,
      items: result.items.map(mapDataset),
      facets: result.facets as DatasetSearchResultDto['facets'],
      next: result.next,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one dataset (404 when it does not exist or you may not read it)' })
  @ApiOkResponse({ type: DatasetDto })
  async get(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DatasetDto> {
    const record = await this.datasets.get(caller, id);
    res.setHeader('ETag', `"${record.revision}"`);
    return mapDataset(record);
  }

  @Post()
  @ApiOperation({ summary: 'Create a dataset (curators: any; group members: derived/scratch owned by their group)' })
  @ApiCreatedResponse({ type: DatasetDto })
  async create(
    @Caller() caller: Principal,
    @Body() body: CreateDatasetDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DatasetDto> {
    const record = await this.datasets.create(caller, body, requestIdOf(req));
    res.setHeader('ETag', `"${record.revision}"`);
    res.setHeader('Location', `/api/v1/datasets/${encodeURIComponent(record.id)}`);
    return mapDataset(record);
  }
}
