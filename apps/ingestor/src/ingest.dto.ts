import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';

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

export class WebhookResultDto {
  /** Records queued as jobs. */
  accepted!: number;
  jobs!: string[];
  /** Records for buckets that are not configured roots. */
  ignored!: number;
}
