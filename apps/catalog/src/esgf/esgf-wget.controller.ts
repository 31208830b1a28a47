import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { APP_CONFIG, Caller, type AppConfig } from '@climcat/platform';
import { Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RawQuery } from '../datasets/search-params';
import { EsgfWgetService, WGET_DEFAULT_LIMIT, WGET_MAX_LIMIT } from './esgf-wget.service';

@ApiTags('esgf')
@Controller('esg-search')
export class EsgfWgetController {
  constructor(
    private readonly wget: EsgfWgetService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('wget')
  @ApiOperation({
    summary:
      'ESGF wget script for a search (the files of type=File or of matching datasets): bash, resumes, verifies SHA256; only files you may read',
  })
  @ApiQuery({ name: 'dataset_id', required: false, description: 'Datasets whose files to list' })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `0-${WGET_MAX_LIMIT}, default ${WGET_DEFAULT_LIMIT}`,
  })
  @ApiQuery({ name: 'offset', required: false })
  @ApiProduces('text/x-sh')
  @ApiOkResponse({ type: String, description: 'bash script' })
  async script(
    @Caller() caller: Principal,
    @Query() query: RawQuery,
    @Req() req: FastifyRequest,
    @Res() res: FastifyReply,
  ): Promise<void> {
    const script = await this.wget.script(caller, query, `${this.config.publicUrl}${req.url}`);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
    await res
      .header('Content-Type', 'text/x-sh; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="wget-${stamp}.sh"`)
      .send(script);
  }
}
