import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiProperty,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { InvalidError, type Principal } from '@climcat/core';
import { APP_CONFIG, Caller, type AppConfig } from '@climcat/platform';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { ApiSearchQuery } from '../datasets/dataset.controller';
import type { RawQuery } from '../datasets/search-params';
import { ExportService, type AssetAggregation, type AssetFormat } from './export.service';

class IntakeEsmCollectionDto {
  esmcat_version!: string;
  id!: string;
  description!: string;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  attributes!: Record<string, string>[];
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { column_name: 'path', format: 'opendap' },
  })
  assets!: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: true })
  aggregation_control!: Record<string, unknown>;
  @ApiProperty({ required: false, description: 'Link to the CSV when the catalog is large or inline=false' })
  catalog_file?: string;
  @ApiProperty({ required: false, type: 'array', items: { type: 'object', additionalProperties: true } })
  catalog_dict?: Record<string, string>[];
}

/** Strips the export's own parameters, leaving the search. */
function splitParams(query: RawQuery): {
  search: RawQuery;
  format: AssetFormat;
  aggregation: AssetAggregation;
  inline?: boolean;
} {
  const { format, inline, aggregation, ...search } = query;
  if (format !== undefined && format !== 'opendap' && format !== 'netcdf') {
    throw InvalidError.field('query.format', 'must be opendap or netcdf');
  }
  if (aggregation !== undefined && aggregation !== 'file' && aggregation !== 'dataset')
    throw InvalidError.field('query.aggregation', 'must be file or dataset');
  if (aggregation === 'dataset' && format === 'netcdf')
    throw InvalidError.field(
      'query.format',
      'aggregation=dataset rows are OPeNDAP aggregations; use format=opendap (or omit it)',
    );
  if (inline !== undefined && inline !== 'true' && inline !== 'false') {
    throw InvalidError.field('query.inline', 'must be true or false');
  }
  return {
    search,
    format: format ?? 'opendap',
    aggregation: aggregation ?? 'file',
    ...(inline !== undefined ? { inline: inline === 'true' } : {}),
  };
}

@ApiTags('exports')
@ApiBearerAuth()
@Controller('api/v1/exports')
export class ExportController {
  constructor(
    private readonly exports: ExportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('intake-esm')
  @ApiOperation({
    summary: 'intake-esm ESM collection for a search: open with intake.open_esm_datastore(url)',
    description:
      'Assets as OPeNDAP (default) or NetCDF over HTTP; rows inline up to 5000 files, else a CSV link.',
  })
  @ApiSearchQuery()
  @ApiQuery({ name: 'format', required: false, enum: ['opendap', 'netcdf'] })
  @ApiQuery({
    name: 'aggregation',
    required: false,
    enum: ['file', 'dataset'],
    description: 'dataset: one row per dataset, its path the OPeNDAP aggregation of all its files',
  })
  @ApiQuery({ name: 'inline', required: false, type: Boolean })
  @ApiOkResponse({ type: IntakeEsmCollectionDto })
  async intakeEsm(@Caller() caller: Principal, @Query() query: RawQuery): Promise<Record<string, unknown>> {
    const { search, format, inline, aggregation } = splitParams(query);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(search))
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
    params.set('format', format);
    if (aggregation === 'dataset') params.set('aggregation', aggregation);
    const csvUrl = `${this.config.publicUrl}/api/v1/exports/intake-esm.csv?${params.toString()}`;
    return this.exports.intakeCollection(caller, search, format, csvUrl, inline, aggregation);
  }

  @Get('intake-esm.csv')
  @ApiOperation({ summary: 'The intake-esm catalog CSV of a search (one row per file), streamed' })
  @ApiSearchQuery()
  @ApiQuery({ name: 'format', required: false, enum: ['opendap', 'netcdf'] })
  @ApiQuery({ name: 'aggregation', required: false, enum: ['file', 'dataset'] })
  @ApiProduces('text/csv')
  @ApiOkResponse({ type: String, description: 'CSV' })
  async intakeCsv(
    @Caller() caller: Principal,
    @Query() query: RawQuery,
    @Res() res: FastifyReply,
  ): Promise<void> {
    const { search, format, aggregation } = splitParams(query);
    await this.streamCsv(
      res,
      this.exports.intakeCsv(caller, search, format, aggregation),
      'climcat-intake-esm.csv',
    );
  }

  @Get('files.csv')
  @ApiOperation({ summary: 'Files of a search as CSV with OPeNDAP, HTTPServer, NCSS and S3 URLs, streamed' })
  @ApiSearchQuery()
  @ApiProduces('text/csv')
  @ApiOkResponse({ type: String, description: 'CSV' })
  async filesCsv(
    @Caller() caller: Principal,
    @Query() query: RawQuery,
    @Res() res: FastifyReply,
  ): Promise<void> {
    await this.streamCsv(res, this.exports.filesCsv(caller, query), 'climcat-files.csv');
  }

  /** Validates by producing the first chunk before any header is sent, so bad input still gets a problem. */
  private async streamCsv(res: FastifyReply, rows: AsyncGenerator<string>, filename: string): Promise<void> {
    const first = await rows.next();
    async function* all(): AsyncGenerator<string> {
      if (!first.done) yield first.value;
      yield* rows;
    }
    await res
      .status(200)
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `inline; filename="${filename}"`)
      .send(Readable.from(all()));
  }
}
