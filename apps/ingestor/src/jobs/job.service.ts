import { Inject, Injectable } from '@nestjs/common';
import { InvalidError, NotFoundError, requireRole, STORE, type Principal, type Store } from '@climcat/core';
import { JOB_STATES, type JobInfo, type JobQueue, type JobState } from '@climcat/platform';
import { EventService } from '../events/event.service';
import { RecordService } from '../records/record.service';

export const JOB_QUEUES = ['events', 'records'] as const;
export type JobQueueName = (typeof JOB_QUEUES)[number];

export interface IngestError {
  source: string;
  path: string;
  reason: string;
  at: string;
}

/** Ingest jobs of every queue: state, progress, failure reasons, retry. */
@Injectable()
export class JobService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly events: EventService,
    private readonly records: RecordService,
  ) {}

  private queue(name: string): JobQueue<unknown> {
    if (name === 'events') return this.events.queue;
    if (name === 'records') return this.records.queue;
    throw InvalidError.field('path.queue', `unknown queue "${name}"; queues are ${JOB_QUEUES.join(', ')}`);
  }

  async list(
    caller: Principal,
    queue: string,
    state: string,
    offset: number,
    limit: number,
  ): Promise<JobInfo<unknown>[]> {
    requireRole(caller, 'reader');
    if (!(JOB_STATES as readonly string[]).includes(state)) {
      throw InvalidError.field('query.state', `must be one of ${JOB_STATES.join(', ')}`);
    }
    return this.queue(queue).list(state as JobState, offset, limit);
  }

  async counts(caller: Principal): Promise<Record<string, Record<JobState, number>>> {
    requireRole(caller, 'reader');
    const out: Record<string, Record<JobState, number>> = {};
    for (const name of JOB_QUEUES) out[name] = await this.queue(name).counts();
    return out;
  }

  async get(caller: Principal, queue: string, id: string): Promise<JobInfo<unknown>> {
    requireRole(caller, 'reader');
    const job = await this.queue(queue).get(id);
    if (!job) throw new NotFoundError(`Job ${id} does not exist in ${queue}`);
    return job;
  }

  async retry(caller: Principal, queue: string, id: string): Promise<JobInfo<unknown>> {
    requireRole(caller, 'curator', 'Ingestion');
    await this.queue(queue).retry(id);
    return this.get(caller, queue, id);
  }

  /** Files that could not be ingested: the errors of recent scans and of failed jobs. */
  async errors(caller: Principal, limit: number): Promise<IngestError[]> {
    requireRole(caller, 'reader');
    const out: IngestError[] = [];
    for (const name of JOB_QUEUES) {
      for (const job of await this.queue(name).list('failed', 0, limit)) {
        const data = job.data as { path?: string; key?: string; record?: { files?: { path: string }[] } };
        out.push({
          source: `${name}:${job.id}`,
          path: data.path ?? data.key ?? data.record?.files?.[0]?.path ?? '',
          reason: job.failedReason ?? 'failed',
          at: job.finishedAt ?? job.createdAt,
        });
      }
    }
    const scans = await this.store.scans.list({ limit: 20, offset: 0 });
    for (const scan of scans.items) {
      for (const e of scan.errors) {
        out.push({
          source: `scan:${scan.id}`,
          path: `${scan.root}/${e.path}`,
          reason: e.reason,
          at: scan.finishedAt ?? scan.createdAt,
        });
      }
    }
    return out.sort((a, b) => (a.at < b.at ? 1 : -1)).slice(0, limit);
  }
}
