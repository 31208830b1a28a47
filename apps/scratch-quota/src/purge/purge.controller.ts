import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, PageQueryDto } from '@climcat/platform';
import { scratchUser } from '../scratch-paths';
import {
  CreatePurgeRunDto,
  mapPurged,
  mapPurgePlan,
  PurgedPageDto,
  PurgePlanDto,
  PurgeRunDto,
} from './purge.dto';
import { PurgeService, type PurgeRunSummary } from './purge.service';

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class PurgeController {
  constructor(private readonly purge: PurgeService) {}

  @Get('me/purge-plan')
  @ApiOperation({
    summary:
      'Your files due for the fair-use purge: what, how big, last used, and when it goes (earliest first)',
  })
  @ApiOkResponse({ type: PurgePlanDto })
  async plan(@Caller() caller: Principal): Promise<PurgePlanDto> {
    const user = scratchUser(caller);
    return mapPurgePlan(user, this.purge.policy(), await this.purge.planFor(user));
  }

  @Get('me/purged')
  @ApiOperation({ summary: 'Your files the fair-use purge deleted: what, how big, last used, when and why' })
  @ApiOkResponse({ type: PurgedPageDto })
  async purged(@Caller() caller: Principal, @Query() page: PageQueryDto): Promise<PurgedPageDto> {
    const found = await this.purge.purged(scratchUser(caller), { limit: page.limit, offset: page.offset });
    return { total: found.total, items: found.items.map(mapPurged) };
  }

  @Post('purge/runs')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Run the fair-use purge now (admins), or a dry run that only reports; answers the run summary (409 while another run is under way)',
  })
  @ApiOkResponse({ type: PurgeRunDto })
  run(@Caller() caller: Principal, @Body() body: CreatePurgeRunDto): Promise<PurgeRunSummary> {
    return this.purge.runAs(caller, {
      ...(body?.dryRun !== undefined ? { dryRun: body.dryRun } : {}),
      ...(body?.user !== undefined ? { user: body.user } : {}),
    });
  }
}
