import { ApiProperty } from '@nestjs/swagger';
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
      atime: f.atime.toISOString(),
      mtime: f.mtime.toISOString(),
      due: f.due.toISOString(),
    })),
    total: plan.files.length,
    bytes: plan.bytes,
    next: plan.next?.toISOString() ?? null,
  };
}
