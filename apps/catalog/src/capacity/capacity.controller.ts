import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { FastifyRequest } from 'fastify';
import {
  ApplyCapacityPlanDto,
  ApplyCapacityPlanResultDto,
  CapacityPlanDto,
  CapacityPlanResultDto,
} from './capacity.dto';
import { CapacityPlanService } from './capacity-plan.service';

@ApiTags('curation')
@ApiBearerAuth()
@Controller('api/v1/capacity')
export class CapacityController {
  constructor(private readonly plans: CapacityPlanService) {}

  @Post('plan')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Availability plan (curators): bytes and files per ordered selection, cumulative, and whether it fits the standard tier',
  })
  @ApiOkResponse({ type: CapacityPlanResultDto })
  plan(@Caller() caller: Principal, @Body() body: CapacityPlanDto): Promise<CapacityPlanResultDto> {
    return this.plans.plan(caller, body.selections);
  }

  @Post('plan/apply')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Set dataset availability from a plan (curators; dryRun defaults to true): online, partial, or offline when out of it',
  })
  @ApiOkResponse({ type: ApplyCapacityPlanResultDto })
  apply(
    @Caller() caller: Principal,
    @Body() body: ApplyCapacityPlanDto,
    @Req() req: FastifyRequest,
  ): Promise<ApplyCapacityPlanResultDto> {
    return this.plans.apply({ caller, requestId: requestIdOf(req) }, body.selections, body.dryRun ?? true);
  }
}
