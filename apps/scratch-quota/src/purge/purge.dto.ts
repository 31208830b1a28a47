import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';
import type { PurgedFileRecord } from '@climcat/core';
import type { PurgePlan } from './purge-planner';

export class PurgePolicyDto {
  /** Files unused this many days are purged. */
  maxIdleDays!: number;
  /** A file is deleted only after it has been on the plan this many days. */
  noticeDays!: number;
  /** True when last use is judged by mtime alone (noatime mounts). */
  noatime!: boolean;
}

export class PlannedFileDto {
  /** Relative to your scratch directory (bytes that are not UTF-8 as \xNN). */
  path!: string;
  bytes!: number;
  atime!: string;
  mtime!: string;
  /** When it will be deleted unless it is used before. */
  due!: string;
}

export class PurgePlanDto {
  user!: string;
  policy!: PurgePolicyDto;
  /** Files due, earliest first (at most `limit`; `total` counts all). */
  @ApiProperty({ type: [PlannedFileDto] })
  files!: PlannedFileDto[];
  total!: number;
  bytes!: number;
  @ApiProperty({ type: String, nullable: true })
  next!: string | null;
}

/** Plans are long: the answer lists the first `limit` files, sorted by due date. */
export const PURGE_PLAN_LIST_LIMIT = 10_000;

export function mapPurgePlan(
  user: string,
  policy: PurgePolicyDto,
  plan: PurgePlan,
  limit = PURGE_PLAN_LIST_LIMIT,
): PurgePlanDto {
  return {
    user,
    policy,
    files: plan.files.slice(0, limit).map((f) => ({
      path: f.path,
      bytes: f.size,
      atime: new Date(f.atimeMs).toISOString(),
      mtime: new Date(f.mtimeMs).toISOString(),
      due: new Date(f.dueMs).toISOString(),
    })),
    total: plan.files.length,
    bytes: plan.bytes,
    next: plan.next?.toISOString() ?? null,
  };
}

export class PurgedFileDto {
  /** Relative to your scratch directory (bytes that are not UTF-8 as \xNN). */
  path!: string;
  bytes!: number;
  atime!: string;
  mtime!: string;
  purgedAt!: string;
  /** Why it was purged (the policy and the last use it went by). */
  reason!: string;
  /** The purge run that deleted it. */
  runId!: string;
}

export class PurgedPageDto {
  total!: number;
  @ApiProperty({ type: [PurgedFileDto] })
  items!: PurgedFileDto[];
}

export function mapPurged(record: PurgedFileRecord): PurgedFileDto {
  return {
    path: record.path,
    bytes: record.size,
    atime: record.atime,
    mtime: record.mtime,
    purgedAt: record.purgedAt,
    reason: record.reason,
    runId: record.runId,
  };
}

export class CreatePurgeRunDto {
  @ApiPropertyOptional({
    description:
      'report what would be planned, notified and deleted, and change nothing (default SCRATCH_PURGE_DRY_RUN)',
  })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  @ApiPropertyOptional({ description: 'only this user (default: every user directory)', example: 'alice' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  user?: string;
}

class RunPurgedItemDto {
  user!: string;
  path!: string;
  bytes!: number;
}

class RunPurgedDto {
  files!: number;
  bytes!: number;
  /** What was (or in a dry run would be) deleted, at most 1000 entries. */
  @ApiProperty({ type: [RunPurgedItemDto] })
  items!: RunPurgedItemDto[];
}

class RunKeptDto {
  user!: string;
  path!: string;
  why!: string;
}

class RunProblemDto {
  user!: string;
  path!: string;
  reason!: string;
}

class RunCountDto {
  files!: number;
  bytes!: number;
}

class RunNoticesDto {
  sent!: number;
  /** Not delivered; retried by the next run. */
  failed!: number;
  /** Dry runs: notices a real run would send. */
  wouldSend!: number;
}

export class PurgeRunDto {
  runId!: string;
  dryRun!: boolean;
  @ApiProperty({ enum: ['schedule', 'admin'] })
  trigger!: string;
  startedAt!: string;
  finishedAt!: string;
  users!: number;
  @ApiProperty({ type: RunCountDto })
  planned!: RunCountDto;
  entered!: number;
  exempt!: number;
  @ApiProperty({ type: RunNoticesDto })
  notices!: RunNoticesDto;
  @ApiProperty({ type: RunPurgedDto })
  purged!: RunPurgedDto;
  /** Due files the run kept: used or changed after the plan, symlinked paths, vanished files. */
  @ApiProperty({ type: [RunKeptDto] })
  kept!: RunKeptDto[];
  @ApiProperty({ type: [RunProblemDto] })
  problems!: RunProblemDto[];
}
