import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InvalidError, type Principal } from '@climcat/core';
import { Caller } from '@climcat/platform';
import { ScratchReportDto } from './report.dto';
import { ReportService } from './report.service';

const MAX_TOP = 1000;

@ApiTags('scratch')
@ApiBearerAuth()
@Controller('scratch/v1')
export class ReportController {
  constructor(private readonly reports: ReportService) {}

  @Get('report')
  @ApiOperation({
    summary: 'Admin report: top consumers, who is over soft/hard, totals per tier, purge pending, growth',
  })
  @ApiQuery({ name: 'top', required: false, type: Number, description: 'Consumers listed (default 20)' })
  @ApiOkResponse({ type: ScratchReportDto })
  report(@Caller() caller: Principal, @Query('top') top?: unknown): Promise<ScratchReportDto> {
    let n = 20;
    if (top !== undefined) {
      if (typeof top !== 'string' || !/^\d+$/.test(top) || Number(top) < 1 || Number(top) > MAX_TOP)
        throw InvalidError.field('query.top', `must be an integer from 1 to ${MAX_TOP}`);
      n = Number(top);
    }
    return this.reports.report(caller, n);
  }

  @Get('quotas/script')
  @Header('Content-Type', 'text/x-shellscript; charset=utf-8')
  @ApiOperation({
    summary: 'Shell script setting XFS project quotas or Lustre lfs setquota from the quota table (admins)',
  })
  @ApiQuery({ name: 'fs', enum: ['xfs', 'lustre'] })
  @ApiQuery({ name: 'mount', required: false, description: 'Mount point (default SCRATCH_ROOT)' })
  @ApiProduces('text/x-shellscript')
  @ApiOkResponse({ schema: { type: 'string' }, description: 'A POSIX sh script' })
  script(
    @Caller() caller: Principal,
    @Query('fs') fs?: unknown,
    @Query('mount') mount?: unknown,
  ): Promise<string> {
    return this.reports.script(caller, fs, mount);
  }
}
