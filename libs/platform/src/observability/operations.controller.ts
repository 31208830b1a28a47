import { Controller, Get, Header, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { HealthService } from './health';
import { MetricsService } from './metrics';

export class LivenessDto {
  status!: string;
}

export class CheckDto {
  status!: string;
  error?: string;
  ms!: number;
}

export class ReadinessDto {
  /** `ok` or `unavailable`. */
  status!: string;
  checks!: Record<string, CheckDto>;
}

@ApiTags('operations')
@Controller()
export class OperationsController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health/live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LivenessDto })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'Readiness: the store (and Redis when configured) answer' })
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto })
  async ready(@Res({ passthrough: true }) res: FastifyReply): Promise<ReadinessDto> {
    const report = await this.health.readiness();
    if (report.status !== 'ok') void res.status(503);
    return report;
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ type: String, description: 'Prometheus text format' })
  async prometheus(@Res({ passthrough: true }) res: FastifyReply): Promise<string> {
    void res.type(this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
