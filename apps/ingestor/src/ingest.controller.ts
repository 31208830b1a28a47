import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@climcat/core';
import { Caller, OwnAuthentication, PageQueryDto } from '@climcat/platform';
import { EventService } from './events/event.service';
import { FileIngestService } from './files/file-ingest.service';
import { InspectDto, InspectionDto } from './files/inspection.dto';
import {
  RepairRequestDto,
  RepairResultDto,
  ScanDto,
  ScanListDto,
  StartScanDto,
  WebhookResultDto,
} from './ingest.dto';
import { IngestErrorListDto, JOB_QUEUES, JobDto, JobListDto, JobListQueryDto } from './jobs/job.dto';
import { JobService } from './jobs/job.service';
import { AcceptedJobDto, IngestRecordDto } from './records/record.dto';
import { RecordService } from './records/record.service';
import { RepairService } from './scans/repair.service';
import { ScanService } from './scans/scan.service';

@ApiTags('ingest')
@ApiBearerAuth()
@Controller('ingest/v1')
export class IngestController {
  constructor(
    private readonly scans: ScanService,
    private readonly events: EventService,
    private readonly records: RecordService,
    private readonly jobs: JobService,
    private readonly files: FileIngestService,
    private readonly repairs: RepairService,
  ) {}

  @Post('scans')
  @HttpCode(202)
  @ApiOperation({ summary: 'Scan a storage root (or a prefix of it) into the catalog (curators)' })
  @ApiAcceptedResponse({ type: ScanDto })
  async startScan(@Caller() caller: Principal, @Body() body: StartScanDto): Promise<ScanDto> {
    const scan = await this.scans.start(caller, body.root ?? 'data', body.prefix ?? '', {
      verifyChecksums: body.verifyChecksums ?? false,
    });
    return this.scans.get(caller, scan.id);
  }

  @Get('scans')
  @ApiOperation({ summary: 'Scans, newest first' })
  @ApiOkResponse({ type: ScanListDto })
  async listScans(@Caller() caller: Principal, @Query() page: PageQueryDto): Promise<ScanListDto> {
    return this.scans.list(caller, { limit: page.limit, offset: page.offset });
  }

  @Get('scans/:id')
  @ApiOperation({ summary: 'State of a scan: counts, bytes, rate, ETA and the first errors' })
  @ApiOkResponse({ type: ScanDto })
  async getScan(@Caller() caller: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<ScanDto> {
    return this.scans.get(caller, id);
  }

  @Post('scans/:id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a queued or running scan (curators)' })
  @ApiOkResponse({ type: ScanDto })
  async cancelScan(
    @Caller() caller: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<ScanDto> {
    return this.scans.cancel(caller, id);
  }

  @Post('repair')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Find datasets whose size or file count disagree with their file records and recompute them (curators)',
  })
  @ApiBody({ type: RepairRequestDto, required: false })
  @ApiOkResponse({ type: RepairResultDto })
  async repair(@Caller() caller: Principal, @Body() body: RepairRequestDto): Promise<RepairResultDto> {
    // The type must stay a plain class (not a union) for the body to be validated; no body is {}.
    return this.repairs.repair(caller, body ?? {});
  }

  @Post('webhooks/s3')
  @OwnAuthentication()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'S3/MinIO bucket notifications (s3:ObjectCreated:*, s3:ObjectRemoved:*); token from INGEST_WEBHOOK_TOKEN',
  })
  @ApiBody({
    schema: { type: 'object', properties: { Records: { type: 'array', items: { type: 'object' } } } },
  })
  @ApiAcceptedResponse({ type: WebhookResultDto })
  async webhook(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
  ): Promise<WebhookResultDto> {
    this.events.authenticate(authorization);
    return this.events.accept(body);
  }

  @Post('records')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Register a file (root + path) or a ready metadata record (dataset + files) from an instrument',
  })
  @ApiAcceptedResponse({ type: AcceptedJobDto })
  async record(@Caller() caller: Principal, @Body() body: IngestRecordDto): Promise<AcceptedJobDto> {
    const jobId = await this.records.submit(caller, body);
    return { jobId, status: `/ingest/v1/jobs/records/${jobId}` };
  }

  @Post('inspect')
  @HttpCode(200)
  @ApiOperation({
    summary: "Read a file's metadata and show the dataset it would join, without writing (curators)",
  })
  @ApiOkResponse({ type: InspectionDto })
  async inspect(@Caller() caller: Principal, @Body() body: InspectDto): Promise<InspectionDto> {
    return this.files.inspectPath(caller, body.root, body.path);
  }

  @Get('jobs/:queue')
  @ApiOperation({
    summary:
      'Jobs of a queue (events, records) in a state, newest first; failed ones carry the reason. Readers see jobs of datasets they may read',
  })
  @ApiParam({ name: 'queue', enum: JOB_QUEUES })
  @ApiOkResponse({ type: JobListDto })
  async listJobs(
    @Caller() caller: Principal,
    @Param('queue') queue: string,
    @Query() query: JobListQueryDto,
  ): Promise<JobListDto> {
    return this.jobs.list(caller, queue, query.state ?? 'failed', {
      offset: query.offset,
      limit: query.limit,
    });
  }

  @Get('jobs/:queue/:id')
  @ApiOperation({ summary: 'One job: state, attempts, progress, result or failure reason' })
  @ApiParam({ name: 'queue', enum: JOB_QUEUES })
  @ApiOkResponse({ type: JobDto })
  async getJob(
    @Caller() caller: Principal,
    @Param('queue') queue: string,
    @Param('id') id: string,
  ): Promise<JobDto> {
    return this.jobs.get(caller, queue, id);
  }

  @Post('jobs/:queue/:id/retry')
  @HttpCode(200)
  @ApiOperation({ summary: 'Retry a failed job (curators)' })
  @ApiParam({ name: 'queue', enum: JOB_QUEUES })
  @ApiOkResponse({ type: JobDto })
  async retryJob(
    @Caller() caller: Principal,
    @Param('queue') queue: string,
    @Param('id') id: string,
  ): Promise<JobDto> {
    return this.jobs.retry(caller, queue, id);
  }

  @Get('errors')
  @ApiOperation({
    summary:
      'Files that failed to ingest, with the exact reason (failed jobs; recent scans for curators), newest first',
  })
  @ApiOkResponse({ type: IngestErrorListDto })
  async errors(@Caller() caller: Principal, @Query() page: PageQueryDto): Promise<IngestErrorListDto> {
    return this.jobs.errors(caller, { offset: page.offset, limit: page.limit });
  }
}
