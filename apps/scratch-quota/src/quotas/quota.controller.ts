import { Body, Controller, Get, HttpCode, Param, ParseEnumPipe, Post, Put, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { FastifyRequest } from 'fastify';
import { StatusService } from './status.service';
import { QuotaService } from './quota.service';
import {
  CreateExemptionDto,
  ExemptionDto,
  mapExemption,
  mapQuota,
  PutQuotaDto,
  QuotaDto,
  QuotaHistoryDto,
  RescanDto,
  ScratchStatusDto,
} from './quota.dto';

const KINDS = { users: 'user', groups: 'group' } as const;
type KindPath = keyof typeof KINDS;
const kindPipe = new ParseEnumPipe({ users: 'users', groups: 'groups' });

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class QuotaController {
  constructor(
    private readonly status: StatusService,
    private readonly quotas: QuotaService,
  ) {}

  @Get('me')
  @ApiOperation({
    summary: 'Your scratch directory: usage, limits, quota state, grace deadline, largest directories',
  })
  @ApiOkResponse({ type: ScratchStatusDto })
  me(@Caller() caller: Principal): Promise<ScratchStatusDto> {
    return this.status.me(caller);
  }

  @Post('rescan')
  @HttpCode(200)
  @ApiOperation({ summary: 'Recompute scratch usage now (yourself; admins anyone) and answer when done' })
  @ApiOkResponse({ type: ScratchStatusDto })
  rescan(@Caller() caller: Principal, @Body() body: RescanDto): Promise<ScratchStatusDto> {
    return this.status.rescan(caller, body?.user);
  }

  @Get('quotas/:kind/:name')
  @ApiOperation({ summary: 'The quota set for a user or group (admins)' })
  @ApiParam({ name: 'kind', enum: ['users', 'groups'] })
  @ApiOkResponse({ type: QuotaDto })
  async getQuota(
    @Caller() caller: Principal,
    @Param('kind', kindPipe) kind: KindPath,
    @Param('name') name: string,
  ): Promise<QuotaDto> {
    return mapQuota(await this.quotas.getQuota(caller, KINDS[kind], name));
  }

  @Put('quotas/:kind/:name')
  @ApiOperation({ summary: 'Set the quota of a user or group (admins); recorded in the audit history' })
  @ApiParam({ name: 'kind', enum: ['users', 'groups'] })
  @ApiOkResponse({ type: QuotaDto })
  async putQuota(
    @Caller() caller: Principal,
    @Param('kind', kindPipe) kind: KindPath,
    @Param('name') name: string,
    @Body() body: PutQuotaDto,
    @Req() req: FastifyRequest,
  ): Promise<QuotaDto> {
    return mapQuota(await this.quotas.putQuota(caller, KINDS[kind], name, body, requestIdOf(req)));
  }

  @Get('quotas/:kind/:name/history')
  @ApiOperation({ summary: 'Who changed a quota or exemption, when, from what, to what and why (admins)' })
  @ApiParam({ name: 'kind', enum: ['users', 'groups'] })
  @ApiOkResponse({ type: QuotaHistoryDto })
  async history(
    @Caller() caller: Principal,
    @Param('kind', kindPipe) kind: KindPath,
    @Param('name') name: string,
  ): Promise<QuotaHistoryDto> {
    const page = await this.quotas.history(caller, KINDS[kind], name);
    return { total: page.total, items: page.items };
  }

  @Post('exemptions')
  @ApiOperation({
    summary: 'Grant a time-limited exemption to a user or group (admins); an expiry is required',
  })
  @ApiCreatedResponse({ type: ExemptionDto })
  async createExemption(
    @Caller() caller: Principal,
    @Body() body: CreateExemptionDto,
    @Req() req: FastifyRequest,
  ): Promise<ExemptionDto> {
    return mapExemption(await this.quotas.createExemption(caller, body, requestIdOf(req)));
  }
}
