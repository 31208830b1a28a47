import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mapPromotionJob, PromoteDto, PromotionJobDto, PromotionListDto } from './promotion.dto';
import { PromotionService } from './promotion.service';

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1/me')
export class PromotionController {
  constructor(private readonly promotions: PromotionService) {}

  @Post('promote')
  @ApiOperation({
    summary:
      'Make files of your scratch directory a derived dataset (provenance required): moved to the derived area, catalogued, released from your quota',
  })
  @ApiCreatedResponse({ type: PromotionJobDto, description: 'done before the answer' })
  @ApiAcceptedResponse({ type: PromotionJobDto, description: 'running: poll `href`' })
  async promote(
    @Caller() caller: Principal,
    @Body() body: PromoteDto,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PromotionJobDto> {
    const job = mapPromotionJob(await this.promotions.promote(caller, body, requestIdOf(req)));
    void reply.status(job.state === 'done' ? 201 : 202).header('Location', job.href);
    return job;
  }

  @Get('promotions')
  @ApiOperation({ summary: 'Your promotion jobs (the latest 100), newest first' })
  @ApiOkResponse({ type: PromotionListDto })
  async list(@Caller() caller: Principal): Promise<PromotionListDto> {
    return { items: (await this.promotions.list(caller)).map(mapPromotionJob) };
  }

  @Get('promotions/:jobId')
  @ApiOperation({ summary: 'Progress of a promotion: state, files and bytes done, error' })
  @ApiOkResponse({ type: PromotionJobDto })
  async job(
    @Caller() caller: Principal,
    @Param('jobId', new ParseUUIDPipe()) jobId: string,
  ): Promise<PromotionJobDto> {
    return mapPromotionJob(await this.promotions.job(caller, jobId));
  }
}
