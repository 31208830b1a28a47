import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { FACET_NAMES, PreconditionFailedError, type Principal } from '@climcat/core';
import {
  APP_CONFIG,
  Caller,
  CreateDatasetDto,
  PageQueryDto,
  requestIdOf,
  StorageService,
  type AppConfig,
} from '@climcat/platform';
import { FileListDto, mapFile } from '../files/file.dto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  AuditEntryDto,
  DatasetDto,
  DatasetPatchDto,
  DatasetSearchResultDto,
  HistoryDto,
  LineageDto,
  mapDataset,
  projectFields,
} from './dataset.dto';
import { DatasetService } from './dataset.service';
import { DEFAULT_LIMIT, MAX_LIMIT, type RawQuery } from './search-params';

/** `"3"`, `W/"3"` → 3; `*` → undefined (any revision); anything else can never match. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(header);
  if (!m) throw new PreconditionFailedError(`If-Match ${header} does not name a revision of this dataset`);
  return Number(m[1]);
}

/** Query parameters shared by dataset search, facets, bulk, ESGF-style and export endpoints. */
export const ApiSearchQuery = () =>
  applyDecorators(
    ApiQuery({ name: 'q', required: false, description: 'Free text; every term must prefix-match' }),
    ApiQuery({
      name: 'start',
      required: false,
      example: '2006-01',
      description: 'Time range overlap, calendar date',
    }),
    ApiQuery({ name: 'end', required: false, example: '2100' }),
    ApiQuery({
      name: 'bbox',
      required: false,
      example: '-10,35,30,70',
      description: 'west,south,east,north',
    }),
    ApiQuery({ name: 'kind', required: false, enum: ['standard', 'derived', 'scratch'], isArray: true }),
    ApiQuery({ name: 'status', required: false, enum: ['latest', 'superseded', 'retracted'], isArray: true }),
    ApiQuery({
      name: 'availability',
      required: false,
      enum: ['online', 'offline', 'partial'],
      isArray: true,
    }),
    ApiQuery({ name: 'model', required: false, isArray: true, example: ['EC-EARTH', 'HadGEM2-ES'] }),
    ApiQuery({ name: 'experiment', required: false, isArray: true, example: ['rcp45'] }),
    ApiQuery({ name: 'variable', required: false, isArray: true, example: ['tas'] }),
  );

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('api/v1/datasets')
export class DatasetController {
  constructor(
    private readonly datasets: DatasetService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'Search datasets with facet filters, free text, time range and bbox; facet counts in the same answer',
    description: `Facet filters: ${FACET_NAMES.join(', ')} (repeat or comma-separate values). Only datasets you may read are counted or returned.`,
  })
  @ApiSearchQuery()
  @ApiQuery({ name: 'facets', required: false, example: 'model,experiment', description: 'Facets to count' })
  @ApiQuery({
    name: 'fields',
    required: false,
    example: 'id,title,timeCoverage',
    description: 'Members to return',
  })
  @ApiQuery({ name: 'limit', required: false, example: DEFAULT_LIMIT, description: `0-${MAX_LIMIT}` })
  @ApiQuery({ name: 'cursor', required: false, description: 'From the previous page\'s "next"' })
  @ApiQuery({ name: 'offset', required: false })
  @ApiQuery({
    name: 'sort',
    required: false,
    example: '-updatedAt',
    description: 'datasetId, createdAt, updatedAt or size; - for descending',
  })
  @ApiOkResponse({ type: DatasetSearchResultDto })
  async search(@Caller() caller: Principal, @Query() query: RawQuery): Promise<DatasetSearchResultDto> {
    const { fields, ...rest } = query;
    const select = projectFields(fields);
    const result = await this.datasets.search(caller, rest);
    return {
      total: result.total,
      items: result.items.map((r) => select(mapDataset(r, this.storage.datasetAccessUrls(r.id)))),
      facets: result.facets,
      next: result.next,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one dataset (404 when it does not exist or you may not read it)' })
  @ApiOkResponse({ type: DatasetDto, headers: { ETag: { description: 'Revision, for If-Match' } } })
  async get(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<DatasetDto> {
    const record = await this.datasets.get(caller, id);
    void res.header('ETag', `"${record.revision}"`);
    return mapDataset(record, this.storage.datasetAccessUrls(record.id));
  }

  @Post()
  @ApiOperation({
    summary: 'Create a dataset (curators: any; group members: derived/scratch owned by their group)',
  })
  @ApiCreatedResponse({ type: DatasetDto })
  async create(
    @Caller() caller: Principal,
    @Body() body: CreateDatasetDto,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<DatasetDto> {
    const record = await this.datasets.create({ caller, requestId: requestIdOf(req) }, body);
    void res.header('ETag', `"${record.revision}"`);
    void res.header('Location', `/api/v1/datasets/${encodeURIComponent(record.id)}`);
    return mapDataset(record, this.storage.datasetAccessUrls(record.id));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Change a dataset with a JSON merge patch (RFC 7396); If-Match for optimistic concurrency (412 on conflict)',
  })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  @ApiBody({ type: DatasetPatchDto })
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag from GET, e.g. "3"' })
  @ApiOkResponse({ type: DatasetDto })
  async patch(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<DatasetDto> {
    const record = await this.datasets.patch(
      { caller, requestId: requestIdOf(req) },
      id,
      body,
      parseIfMatch(ifMatch),
    );
    void res.header('ETag', `"${record.revision}"`);
    return mapDataset(record, this.storage.datasetAccessUrls(record.id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a dataset and its file records (curators; owners for derived/scratch)' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiNoContentResponse({ description: 'Deleted' })
  async delete(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    await this.datasets.delete({ caller, requestId: requestIdOf(req) }, id, parseIfMatch(ifMatch));
  }

  @Get(':id/files')
  @ApiOperation({ summary: 'Files of a dataset with their OPeNDAP, HTTPServer, NCSS (and S3) URLs' })
  @ApiOkResponse({ type: FileListDto })
  async files(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() page: PageQueryDto,
  ): Promise<FileListDto> {
    const result = await this.datasets.files(caller, id, { limit: page.limit, offset: page.offset });
    return {
      total: result.total,
      items: result.items.map((f) =>
        mapFile(f, this.storage.accessUrls(f.location), this.storage.kindOf(f.location.root)),
      ),
    };
  }

  @Get(':id/history')
  @ApiOperation({ summary: 'Audit trail of a dataset: who changed what, when (newest first)' })
  @ApiOkResponse({ type: HistoryDto })
  async history(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() page: PageQueryDto,
  ): Promise<HistoryDto> {
    const result = await this.datasets.history(caller, id, { limit: page.limit, offset: page.offset });
    return { total: result.total, items: result.items.map((e): AuditEntryDto => ({ ...e })) };
  }

  @Get(':id/lineage')
  @ApiOperation({ summary: 'Ancestors and descendants of a (derived) dataset that you may read' })
  @ApiOkResponse({ type: LineageDto })
  async lineage(@Caller() caller: Principal, @Param('id') id: string): Promise<LineageDto> {
    const { root, ancestors, descendants } = await this.datasets.lineage(caller, id);
    const node = (n: (typeof ancestors)[number]) => ({
      id: n.dataset.id,
      title: n.dataset.title,
      kind: n.dataset.kind,
      depth: n.depth,
      of: n.of,
    });
    return { id: root.id, ancestors: ancestors.map(node), descendants: descendants.map(node) };
  }
}
