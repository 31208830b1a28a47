import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import type { QuotaExemption, QuotaRecord } from '@climcat/core';

const MAX = Number.MAX_SAFE_INTEGER;

export class PutQuotaDto {
  @ApiProperty({ example: 1e12, minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(MAX)
  softBytes!: number;

  @ApiProperty({ example: 2e12, minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(MAX)
  hardBytes!: number;

  @ApiPropertyOptional({ example: 1_000_000, minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  softFiles?: number;

  @ApiPropertyOptional({ example: 2_000_000, minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  hardFiles?: number;

  @ApiPropertyOptional({ example: 604800, minimum: 0, description: 'default SCRATCH_GRACE (7 days)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX)
  graceSeconds?: number;

  @ApiProperty({ example: 'EUCP WP3 reanalysis run' })
  @IsString()
  @Length(1, 500)
  reason!: string;
}

export class QuotaDto {
  @ApiProperty({ enum: ['user', 'group'] })
  kind!: string;
  name!: string;
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  graceSeconds?: number;
  reason!: string;
  updatedAt!: string;
  updatedBy!: string;
}

export function mapQuota(record: QuotaRecord): QuotaDto {
  return { ...record };
}

export class CreateExemptionDto {
  @ApiProperty({ enum: ['user', 'group'] })
  @IsIn(['user', 'group'])
  kind!: 'user' | 'group';

  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 128)
  name!: string;

  @ApiPropertyOptional({ enum: ['purge', 'quota'], default: 'purge' })
  @IsOptional()
  @IsIn(['purge', 'quota'])
  scope?: 'purge' | 'quota';

  @ApiPropertyOptional({
    example: 'results/**',
    description:
      'users only, scope purge: a glob relative to the user directory (*, ** and ?); absent = the whole directory',
  })
  @IsOptional()
  @IsString()
  pattern?: string;

  @ApiProperty({ example: 'thesis deadline' })
  @IsString()
  @Length(1, 500)
  reason!: string;

  @ApiProperty({ example: '2027-01-31T00:00:00Z', description: 'required: exemptions always end' })
  @IsISO8601({ strict: true })
  expiresAt!: string;
}

export class ExemptionDto {
  id!: string;
  @ApiProperty({ enum: ['user', 'group'] })
  kind!: string;
  name!: string;
  @ApiProperty({ enum: ['purge', 'quota'] })
  scope!: string;
  pattern?: string;
  /** `requested` until an admin approves it (only approved exemptions apply). */
  @ApiProperty({ enum: ['requested', 'approved'] })
  status!: string;
  reason!: string;
  expiresAt!: string;
  createdAt!: string;
  createdBy!: string;
  approvedAt?: string;
  approvedBy?: string;
}

export function mapExemption(record: QuotaExemption): ExemptionDto {
  return { ...record, status: record.status ?? 'approved' };
}

export class RescanDto {
  @ApiPropertyOptional({ description: 'admins: the user to rescan (default: yourself)', example: 'alice' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  user?: string;
}

class UsageDto {
  bytes!: number;
  files!: number;
}

class LimitsDto {
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  graceSeconds!: number;
}

class PurgeSummaryDto {
  files!: number;
  bytes!: number;
  @ApiProperty({ type: String, nullable: true })
  next!: string | null;
}

class LargestDto {
  path!: string;
  bytes!: number;
}

export class ScratchStatusDto {
  user!: string;
  directory!: string;
  @ApiProperty({ type: UsageDto })
  usage!: UsageDto;
  @ApiProperty({ type: UsageDto, description: 'held by open upload grants' })
  reserved!: UsageDto;
  @ApiProperty({ type: LimitsDto })
  limits!: LimitsDto;
  /** `user alice`, `group eucp` or `default`. */
  limitsFrom!: string;
  @ApiProperty({ enum: ['ok', 'soft-exceeded', 'grace-expired', 'hard-exceeded'] })
  state!: string;
  graceUntil?: string;
  scannedAt?: string;
  @ApiProperty({ type: PurgeSummaryDto })
  purge!: PurgeSummaryDto;
  @ApiProperty({ type: [LargestDto] })
  largest!: LargestDto[];
  /** What to do when over quota. */
  advice?: string;
}

export class AuditEntryDto {
  id!: string;
  action!: string;
  actor!: string;
  at!: string;
  @ApiProperty({ type: 'array', items: { type: 'object' } })
  changes!: object[];
  note?: string;
}

export class QuotaHistoryDto {
  total!: number;
  @ApiProperty({ type: [AuditEntryDto] })
  items!: AuditEntryDto[];
}
