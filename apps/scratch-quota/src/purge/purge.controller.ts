import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { APP_CONFIG, Caller, type AppConfig } from '@climcat/platform';
import { scratchUser } from '../scratch-paths';
import { UsageService } from '../usage/usage.service';
import { mapPurgePlan, PurgePlanDto } from './purge.dto';

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1/me')
export class PurgeController {
  constructor(
    private readonly usage: UsageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('purge-plan')
  @ApiOperation({
    summary:
      'Your files due for the fair-use purge: what, how big, last used, and when it goes (earliest first)',
  })
  @ApiOkResponse({ type: PurgePlanDto })
  async plan(@Caller() caller: Principal): Promise<PurgePlanDto> {
    const user = scratchUser(caller);
    return mapPurgePlan(user, this.config.scratch.purge, await this.usage.purgePlan(user));
  }
}
