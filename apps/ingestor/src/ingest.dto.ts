import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PageQueryDto } from '@climcat/platform';

export class StartScanDto {
  /** Configured storage root name. */
  @ApiPropertyOptional({ default: 'data' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  root?: string;

  /** Sub-path below the root. */
  @IsOptional()
  @IsString()
  @Length(0, 4096)
  prefix?: string;
}

export class ScanCountsDto {
  seen!: number;
  new!: number;
  changed!: number;
  unchanged!: number;
  removed!: number;
  failed!: number;
}

export class ScanErrorDto {
  path!: string;
  reason!: string;
}

export class ScanDto {
  id!: string;
  root!: string;
  prefix!: string;
  @ApiProperty({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] })
  state!: string;
  counts!: ScanCountsDto;
  /** Bytes of the files seen. */
  bytes!: number;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Files per second' })
  rate!: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Seconds left (from the previous scan)' })
  etaSeconds!: number | null;
  errors!: ScanErrorDto[];
  requestedBy!: string;
  createdAt!: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export class ScanListDto {
  total!: number;
  items!: ScanDto[];
}

export class JobDto {
  id!: string;
  queue!: string;
  @ApiProperty({ enum: ['waiting', 'active', 'completed', 'failed', 'delayed'] })
  state!: string;
  attemptsMade!: number;
  progress!: number;
  failedReason?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  data!: unknown;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  returnValue?: unknown;
  createdAt!: string;
  finishedAt?: string;
}

export class WebhookResultDto {
  /** Jobs queued: one per record and root whose bucket and prefix hold the object. */
  accepted!: number;
  jobs!: string[];
  /** Records for buckets that are not configured roots. */
  ignored!: number;
}

export class IngestErrorDto {
  /** `scan:<id>`, `events:<job>` or `records:<job>`. */
  source!: string;
  path!: string;
  reason!: string;
  at!: string;
}

export class InspectDto {
  @IsString()
  @Length(1, 64)
  root!: string;

  @IsString()
  @Length(1, 4096)
  path!: string;
}

export class InspectionDto {
  @ApiProperty({ type: 'object', additionalProperties: true })
  location!: Record<string, string>;
  size!: number;
  mtime!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'CF summary: format, dimensions, variables, time, bbox',
  })
  summary!: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true })
  drs!: Record<string, unknown> | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Dataset the file would join, and why',
  })
  grouping!: Record<string, unknown>;
}

export class JobListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['waiting', 'active', 'completed', 'failed', 'delayed'], default: 'failed' })
  @IsOptional()
  @IsIn(['waiting', 'active', 'completed', 'failed', 'delayed'])
  state?: string;
}
