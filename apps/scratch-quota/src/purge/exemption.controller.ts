import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, Length } from 'class-validator';
import type { Principal } from '@climcat/core';
import { Caller, requestIdOf } from '@climcat/platform';
import type { FastifyRequest } from 'fastify';
import { ExemptionDto, mapExemption } from '../quotas/quota.dto';
import { ExemptionService } from './exemption.service';

export class RequestExemptionDto {
  @ApiPropertyOptional({
    example: 'results/**',
    description: 'a glob relative to your directory (*, ** and ?); absent = the whole directory',
  })
  @IsOptional()
  @IsString()
  pattern?: string;

  @ApiProperty({ example: 'paper revision until March' })
  @IsString()
  @Length(1, 500)
  reason!: string;

  @ApiProperty({ example: '2027-03-31T00:00:00Z', description: 'required: exemptions always end' })
  @IsISO8601({ strict: true })
  expiresAt!: string;
}

export class ExemptionListDto {
  @ApiProperty({ type: [ExemptionDto] })
  items!: ExemptionDto[];
}

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class ExemptionController {
  constructor(private readonly exemptions: ExemptionService) {}

  @Post('me/exemptions')
  @ApiOperation({
    summary:
      'Ask for a time-limited purge exemption of paths in your directory; applies once an admin approves',
  })
  @ApiCreatedResponse({ type: ExemptionDto })
  async request(
    @Caller() caller: Principal,
    @Body() body: RequestExemptionDto,
    @Req() req: FastifyRequest,
  ): Promise<ExemptionDto> {
    return mapExemption(await this.exemptions.request(caller, body, requestIdOf(req)));
  }

  @Get('me/exemptions')
  @ApiOperation({ summary: 'Your unexpired exemptions, requested and approved, newest first' })
  @ApiOkResponse({ type: ExemptionListDto })
  async mine(@Caller() caller: Principal): Promise<ExemptionListDto> {
    return { items: (await this.exemptions.mine(caller)).map(mapExemption) };
  }

  @Post('exemptions/:id/approve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Approve a requested exemption (admins); recorded in the audit history' })
  @ApiOkResponse({ type: ExemptionDto })
  async approve(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Req() req: FastifyRequest,
  ): Promise<ExemptionDto> {
    return mapExemption(await this.exemptions.approve(caller, id, requestIdOf(req)));
  }
}
