import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { instanceIdOf } from '@climcat/core';
import { JOB_STATES, PageQueryDto, type JobInfo } from '@climcat/platform';
import type { ObjectEventJob } from '../events/event.service';
import type { RecordJob } from '../records/record.service';

export const JOB_QUEUES = ['events', 'records'] as const;
export type JobQueueName = (typeof JOB_QUEUES)[number];

export class JobListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: JOB_STATES, default: 'failed' })
  @IsOptional()
  @IsIn(JOB_STATES)
  state?: string;
}

/** What a job works on: a file (root + path) or a metadata record (dataset id + file count). */
export class JobTargetDto {
  /** Configured storage root name, for a file. */
  root?: string;
  /** Path below the root, for a file. */
  path?: string;
  /** Bucket events only. */
  @ApiPropertyOptional({ enum: ['created', 'removed'] })
  event?: string;
  /** Dataset of a metadata record. */
  datasetId?: string;
  /** Files listed in a metadata record. */
  files?: number;
}

/** What a completed job did. */
export class JobResultDto {
  @ApiProperty({ type: String, nullable: true, description: 'Dataset the file joined or left' })
  datasetId!: string | null;
  /** Files registered (records). */
  files?: number;
  /** Bucket events: what happened to the file. */
  @ApiPropertyOptional({ enum: ['new', 'changed', 'unchanged', 'removed'] })
  action?: string;
}

export class JobDto {
  id!: string;
  @ApiProperty({ enum: JOB_QUEUES })
  queue!: string;
  @ApiProperty({ enum: JOB_STATES })
  state!: string;
  attemptsMade!: number;
  /** 0-100 */
  progress!: number;
  failedReason?: string;
  target!: JobTargetDto;
  /** Set once the job completed. */
  returnValue?: JobResultDto;
  createdAt!: string;
  finishedAt?: string;
}

export class JobListDto {
  /** Jobs in the state that the caller may see. */
  total!: number;
  items!: JobDto[];
}

export class IngestErrorDto {
  /** `scan:<id>`, `events:<job>` or `records:<job>`. */
  source!: string;
  path!: string;
  reason!: string;
  at!: string;
}

export class IngestErrorListDto {
  /** Errors that the caller may see. */
  total!: number;
  items!: IngestErrorDto[];
}

/** Dataset id a metadata record creates or updates (the dataset rules' instance id). */
export function recordDatasetId(job: RecordJob): string | undefined {
  if (job.kind !== 'metadata') return undefined;
  const dataset = job.record.dataset;
  if (!dataset) return undefined;
  return instanceIdOf(dataset);
}

function target(queue: JobQueueName, data: unknown): JobTargetDto {
  if (queue === 'events') {
    const job = data as ObjectEventJob;
    return { root: job.root, path: job.path, event: job.event };
  }
  const job = data as RecordJob;
  if (job.kind === 'file') return { root: job.root, path: job.path };
  const datasetId = recordDatasetId(job);
  return { ...(datasetId ? { datasetId } : {}), files: job.record.files?.length ?? 0 };
}

function result(value: unknown): JobResultDto | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const r = value as { datasetId?: unknown; files?: unknown; action?: unknown };
  return {
    datasetId: typeof r.datasetId === 'string' ? r.datasetId : null,
    ...(typeof r.files === 'number' ? { files: r.files } : {}),
    ...(typeof r.action === 'string' ? { action: r.action } : {}),
  };
}

/**
 * A queue job as the API shows it: its target and result summary, never the
 * queued data itself (which holds the submitter's principal and the full record).
 */
export function mapJob(queue: JobQueueName, info: JobInfo<unknown>): JobDto {
  const returnValue = info.state === 'completed' ? result(info.returnValue) : undefined;
  return {
    id: info.id,
    queue,
    state: info.state,
    attemptsMade: info.attemptsMade,
    progress: info.progress,
    ...(info.failedReason !== undefined ? { failedReason: info.failedReason } : {}),
    target: target(queue, info.data),
    ...(returnValue ? { returnValue } : {}),
    createdAt: info.createdAt,
    ...(info.finishedAt !== undefined ? { finishedAt: info.finishedAt } : {}),
  };
}

/** A failed job as an ingest error: where (the file, or a record's first file) and why. */
export function mapJobError(queue: JobQueueName, info: JobInfo<unknown>): IngestErrorDto {
  const t = target(queue, info.data);
  const firstFile = queue === 'records' ? firstRecordFile(info.data as RecordJob) : undefined;
  return {
    source: `${queue}:${info.id}`,
    path: t.path ?? firstFile ?? '',
    reason: info.failedReason ?? 'failed',
    at: info.finishedAt ?? info.createdAt,
  };
}

function firstRecordFile(job: RecordJob): string | undefined {
  return job.kind === 'metadata' ? job.record.files?.[0]?.path : undefined;
}
