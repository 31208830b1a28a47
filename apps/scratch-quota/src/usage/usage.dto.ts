import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { UsageDrift } from '@climcat/core';

export class UsageDayDto {
  @ApiProperty({ example: '2026-06-01', description: 'UTC day' })
  day!: string;
  @ApiProperty({ description: 'the last value measured that day' })
  bytes!: number;
  files!: number;
}

export class UsageHistoryDto {
  @ApiProperty({ enum: ['user', 'group'] })
  kind!: string;
  name!: string;
  from!: string;
  to!: string;
  @ApiProperty({ type: [UsageDayDto], description: 'one point per day that had a measurement, oldest first' })
  points!: UsageDayDto[];
}

class UsageNumbersDto {
  bytes!: number;
  files!: number;
}

export class UsageDriftDto {
  id!: string;
  user!: string;
  at!: string;
  @ApiProperty({ type: UsageNumbersDto, description: 'what the live view held' })
  before!: UsageNumbersDto;
  @ApiProperty({ type: UsageNumbersDto, description: 'what the full scan found' })
  after!: UsageNumbersDto;
}

export function mapDrift(d: UsageDrift): UsageDriftDto {
  return { id: d.id, user: d.user, at: d.at, before: { ...d.before }, after: { ...d.after } };
}

export class UsageDriftListDto {
  @ApiProperty({ type: [UsageDriftDto] })
  items!: UsageDriftDto[];
}

export class ReconcileReportDto {
  at!: string;
  @ApiProperty({ type: UsageNumbersDto })
  before!: UsageNumbersDto;
  @ApiProperty({ type: UsageNumbersDto })
  after!: UsageNumbersDto;
  @ApiProperty({ type: [UsageDriftDto] })
  drift!: UsageDriftDto[];
}

export class UsageStatusDto {
  @ApiProperty({ description: 'true while inotify watches keep usage current; false after the watch limit' })
  live!: boolean;
  @ApiPropertyOptional({ description: 'why watching stopped' })
  degraded?: string;
  watchedDirectories!: number;
}
