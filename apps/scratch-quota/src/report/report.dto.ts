import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class TrendDto {
  days!: number;
  bytesPerDay!: number;
}

export class ReportTierDto {
  @ApiProperty({ enum: ['standard', 'derived', 'scratch'] })
  kind!: string;
  bytes!: number;
  files!: number;
  datasets!: number;
  @ApiPropertyOptional({ nullable: true, type: Number })
  budget!: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number })
  used!: number | null;
  @ApiProperty({ enum: ['catalog', 'scratch-usage'] })
  source!: string;
  trend?: TrendDto;
}

export class ReportRoomDto {
  standardBudget!: number;
  derivedNeed!: number;
  scratchNeed!: number;
  room!: number;
}

export class ReportScratchDto {
  bytes!: number;
  files!: number;
  users!: number;
  measured!: number;
  @ApiPropertyOptional({ nullable: true, type: String })
  oldestScanAt!: string | null;
  /** Held by open upload grants. */
  reservedBytes!: number;
}

export class ReportStatesDto {
  ok!: number;
  @ApiProperty({ name: 'soft-exceeded' })
  'soft-exceeded'!: number;
  @ApiProperty({ name: 'grace-expired' })
  'grace-expired'!: number;
  @ApiProperty({ name: 'hard-exceeded' })
  'hard-exceeded'!: number;
}

export class ReportUserDto {
  user!: string;
  bytes!: number;
  files!: number;
  @ApiProperty({ enum: ['ok', 'soft-exceeded', 'grace-expired', 'hard-exceeded'] })
  state!: string;
  graceUntil?: string;
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  limitsFrom!: string;
  scannedAt?: string;
}

export class ReportTopUserDto extends ReportUserDto {
  /** Of all measured scratch bytes. */
  share!: number;
}

export class ReportPurgeDto {
  users!: number;
  files!: number;
  bytes!: number;
}

export class ReportGroupQuotaDto {
  softBytes?: number;
  hardBytes?: number;
  softFiles?: number;
  hardFiles?: number;
  graceSeconds?: number;
  reason!: string;
}

export class ReportGroupDto {
  group!: string;
  /** Users whose last call named the group (any process sharing the store). */
  members!: number;
  /** The members' usage, summed. */
  bytes!: number;
  files!: number;
  /** Absent: no quota set for the group. */
  quota?: ReportGroupQuotaDto;
  /** Members whose limits come from this group's quota (they have none of their own). */
  limiting!: number;
}

export class ReportGrowthDto {
  @ApiProperty({ enum: ['standard', 'derived', 'scratch'] })
  kind!: string;
  bytes!: number;
  /** Absent until a usage history is registered. */
  trend?: TrendDto;
}

export class ScratchReportDto {
  generatedAt!: string;
  totalBudget!: number;
  totalBytes!: number;
  tiers!: ReportTierDto[];
  standard!: ReportRoomDto;
  scratch!: ReportScratchDto;
  /** Users per quota state. */
  states!: ReportStatesDto;
  /** Largest consumers first. */
  top!: ReportTopUserDto[];
  /** Over a soft limit: in grace (soft-exceeded) or past it (grace-expired). */
  overSoft!: ReportUserDto[];
  overHard!: ReportUserDto[];
  /** Every group with a quota or a member, by name. */
  groups!: ReportGroupDto[];
  /** On purge plans, as of each directory's last walk in this process. */
  purge!: ReportPurgeDto;
  growth!: ReportGrowthDto[];
}
