import {
  Controller,
  DefaultValuePipe,
  Get,
  HttpCode,
  Param,
  ParseEnumPipe,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InvalidError, requireRole, type Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import { UsageService } from './usage.service';
import {
  mapDrift,
  ReconcileReportDto,
  UsageDriftListDto,
  UsageHistoryDto,
  UsageStatusDto,
} from './usage.dto';

const KINDS = { users: 'user', groups: 'group' } as const;
const kindPipe = new ParseEnumPipe({ users: 'users', groups: 'groups' });
const fromQuery = {
  name: 'from',
  required: false,
  description: 'first day, YYYY-MM-DD (default: a year before to)',
};
const toQuery = { name: 'to', required: false, description: 'last day, YYYY-MM-DD (default: today, UTC)' };

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get('me/history')
  @ApiOperation({ summary: 'Your daily scratch usage (bytes, files; last value of each day), oldest first' })
  @ApiQuery(fromQuery)
  @ApiQuery(toQuery)
  @ApiOkResponse({ type: UsageHistoryDto })
  myHistory(
    @Caller() caller: Principal,
    @Query('from') from?: unknown,
    @Query('to') to?: unknown,
  ): Promise<UsageHistoryDto> {
    return this.usage.historyFor(caller, undefined, { from, to });
  }

  @Get('history/:kind/:name')
  @ApiOperation({ summary: 'Daily scratch usage of a user or group (admins), oldest first' })
  @ApiParam({ name: 'kind', enum: ['users', 'groups'] })
  @ApiQuery(fromQuery)
  @ApiQuery(toQuery)
  @ApiOkResponse({ type: UsageHistoryDto })
  history(
    @Caller() caller: Principal,
    @Param('kind', kindPipe) kind: keyof typeof KINDS,
    @Param('name') name: string,
    @Query('from') from?: unknown,
    @Query('to') to?: unknown,
  ): Promise<UsageHistoryDto> {
    return this.usage.historyFor(caller, { kind: KINDS[kind], name }, { from, to });
  }

  @Post('reconcile')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Full scan of the scratch area now (admins): corrects the live view and records drift per user',
  })
  @ApiOkResponse({ type: ReconcileReportDto })
  async reconcile(@Caller() caller: Principal): Promise<ReconcileReportDto> {
    requireRole(caller, 'admin', 'Reconciling scratch usage');
    const report = await this.usage.reconcile();
    return { ...report, drift: report.drift.map(mapDrift) };
  }

  @Get('usage/drift')
  @ApiOperation({
    summary: 'Drift the reconciliations found between live usage and full scans (admins), newest first',
  })
  @ApiQuery({ name: 'user', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1-1000, default 100' })
  @ApiOkResponse({ type: UsageDriftListDto })
  async drift(
    @Caller() caller: Principal,
    @Query('user') user?: string,
    @Query('limit', new DefaultValuePipe('100')) limit?: string,
  ): Promise<UsageDriftListDto> {
    requireRole(caller, 'admin', 'Reading scratch usage drift');
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw InvalidError.field('query.limit', 'must be 1-1000');
    if (user !== undefined && typeof user !== 'string')
      throw InvalidError.field('query.user', 'must be given once');
    return { items: (await this.usage.drift(user, n)).map(mapDrift) };
  }

  @Get('usage/status')
  @ApiOperation({
    summary: 'Whether live usage is watching the scratch area, and how many directories (admins)',
  })
  @ApiOkResponse({ type: UsageStatusDto })
  status(@Caller() caller: Principal): UsageStatusDto {
    requireRole(caller, 'admin', 'Reading the scratch usage watcher status');
    const degraded = this.usage.tree.degraded;
    return {
      live: this.usage.tree.live,
      ...(degraded ? { degraded } : {}),
      watchedDirectories: this.usage.tree.watchCount,
    };
  }
}
