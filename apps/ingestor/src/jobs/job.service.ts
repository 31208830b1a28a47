import { Inject, Injectable } from '@nestjs/common';
import {
  canRead,
  InvalidError,
  NotFoundError,
  readsEverything,
  requireRole,
  STORE,
  type Page,
  type Principal,
  type Store,
} from '@climcat/core';
import { JOB_STATES, type JobInfo, type JobQueue, type JobState } from '@climcat/platform';
import { EventService } from '../events/event.service';
import type { RecordJob } from '../records/record.service';
import { RecordService } from '../records/record.service';
import {
  JOB_QUEUES,
  mapJob,
  mapJobError,
  recordDatasetId,
  type IngestErrorDto,
  type IngestErrorListDto,
  type JobDto,
  type JobListDto,
  type JobQueueName,
} from './job.dto';

/** Job ids as the queues create them: records get UUIDs, bucket events a 40-hex digest. */
const JOB_ID: Record<JobQueueName, { pattern: RegExp; description: string }> = {
  events: { pattern: /^[0-9a-f]{40}$/, description: '40 lower-case hex digits' },
  records: {
    pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    description: 'a UUID',
  },
};

/** Scans whose errors /errors shows. */
const RECENT_SCANS = 20;
/** Jobs read per queue call while filtering for a caller who sees only some. */
const BATCH = 1000;

/**
 * Ingest jobs of every queue: state, progress, failure reasons, retry.
 *
 * Who sees a job: curators and admins see every job. Other readers see a job
 * when its dataset exists and they may read it (`canRead`), or when they
 * submitted it themselves (they already know what they sent). A job whose
 * dataset is not known (a file not ingested yet, a failed file, a record whose
 * dataset was never created) is hidden from everyone else, as are scan errors.
 * A hidden job answers 404 like a missing one, and totals count visible jobs only.
 */
@Injectable()
export class JobService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly events: EventService,
    private readonly records: RecordService,
  ) {}

  async list(caller: Principal, queue: string, state: string, page: Page): Promise<JobListDto> {
    requireRole(caller, 'reader');
    const name = queueName(queue);
    const jobState = jobStateOf(state);
    const q = this.queue(name);
    if (readsEverything(caller)) {
      const [items, counts] = await Promise.all([q.list(jobState, page.offset, page.limit), q.counts()]);
      return { total: counts[jobState], items: items.map((job) => mapJob(name, job)) };
    }
    const visible = await this.visibleJobs(caller, name, jobState);
    return {
      total: visible.length,
      items: visible.slice(page.offset, page.offset + page.limit).map((job) => mapJob(name, job)),
    };
  }

  async get(caller: Principal, queue: string, id: string): Promise<JobDto> {
    requireRole(caller, 'reader');
    const name = queueName(queue);
    const rule = JOB_ID[name];
    if (!rule.pattern.test(id)) throw InvalidError.field('path.id', `must be ${rule.description}`);
    const job = await this.queue(name).get(id);
    // Hidden jobs look exactly like missing ones.
    if (!job || !(await this.visible(caller, name, [job]))[0]) {
      throw new NotFoundError(`Job ${id} does not exist in ${name}`);
    }
    return mapJob(name, job);
  }

  async retry(caller: Principal, queue: string, id: string): Promise<JobDto> {
    requireRole(caller, 'curator', 'Ingestion');
    const name = queueName(queue);
    const rule = JOB_ID[name];
    if (!rule.pattern.test(id)) throw InvalidError.field('path.id', `must be ${rule.description}`);
    await this.queue(name).retry(id);
    return this.get(caller, name, id);
  }

  /** Files that could not be ingested: failed jobs, and (for curators) the errors of recent scans. Newest first. */
  async errors(caller: Principal, page: Page): Promise<IngestErrorListDto> {
    requireRole(caller, 'reader');
    const everything = readsEverything(caller);
    const all: IngestErrorDto[] = [];
    let total = 0;
    for (const name of JOB_QUEUES) {
      if (everything) {
        const q = this.queue(name);
        // The newest offset+limit of each source hold the newest offset+limit overall.
        const [failed, counts] = await Promise.all([
          q.list('failed', 0, page.offset + page.limit),
          q.counts(),
        ]);
        total += counts.failed;
        all.push(...failed.map((job) => mapJobError(name, job)));
      } else {
        const failed = await this.visibleJobs(caller, name, 'failed');
        total += failed.length;
        all.push(...failed.map((job) => mapJobError(name, job)));
      }
    }
    if (everything) {
      const scans = await this.store.scans.list({ limit: RECENT_SCANS, offset: 0 });
      for (const scan of scans.items) {
        total += scan.errors.length;
        for (const e of scan.errors) {
          all.push({
            source: `scan:${scan.id}`,
            path: `${scan.root}/${e.path}`,
            reason: e.reason,
            at: scan.finishedAt ?? scan.createdAt,
          });
        }
      }
    }
    all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return { total, items: all.slice(page.offset, page.offset + page.limit) };
  }

  private queue(name: JobQueueName): JobQueue<unknown> {
    return name === 'events' ? this.events.queue : this.records.queue;
  }

  /** Every job in a state that a non-curator may see, newest first. */
  private async visibleJobs(
    caller: Principal,
    name: JobQueueName,
    state: JobState,
  ): Promise<JobInfo<unknown>[]> {
    const q = this.queue(name);
    const out: JobInfo<unknown>[] = [];
    for (let offset = 0; ; offset += BATCH) {
      const batch = await q.list(state, offset, BATCH);
      const visible = await this.visible(caller, name, batch);
      out.push(...batch.filter((_, i) => visible[i]));
      if (batch.length < BATCH) return out;
    }
  }

  /** Per job: may the caller see it (see the class comment)? One dataset lookup for the lot. */
  private async visible(caller: Principal, name: JobQueueName, jobs: JobInfo<unknown>[]): Promise<boolean[]> {
    if (readsEverything(caller)) return jobs.map(() => true);
    const datasetIds = jobs.map((job) => (submittedBy(name, job, caller) ? undefined : datasetOf(name, job)));
    const wanted = [...new Set(datasetIds.filter((id): id is string => id !== undefined))];
    const datasets = wanted.length ? await this.store.datasets.getMany(wanted) : [];
    const readable = new Set(datasets.filter((d) => canRead(caller, d)).map((d) => d.id));
    return jobs.map(
      (job, i) =>
        submittedBy(name, job, caller) || (datasetIds[i] !== undefined && readable.has(datasetIds[i])),
    );
  }
}

function queueName(queue: string): JobQueueName {
  if ((JOB_QUEUES as readonly string[]).includes(queue)) return queue as JobQueueName;
  throw InvalidError.field('path.queue', `unknown queue "${queue}"; queues are ${JOB_QUEUES.join(', ')}`);
}

function jobStateOf(state: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(state)) return state as JobState;
  throw InvalidError.field('query.state', `must be one of ${JOB_STATES.join(', ')}`);
}

/** Records carry their submitter's subject; bucket events have none. */
function submittedBy(name: JobQueueName, job: JobInfo<unknown>, caller: Principal): boolean {
  return name === 'records' && (job.data as RecordJob).actor === caller.subject;
}

/** The dataset a job touched (once completed) or will create (a metadata record); undefined when not known yet. */
function datasetOf(name: JobQueueName, job: JobInfo<unknown>): string | undefined {
  const result = job.returnValue as { datasetId?: unknown } | undefined;
  if (job.state === 'completed' && typeof result?.datasetId === 'string') return result.datasetId;
  return name === 'records' ? recordDatasetId(job.data as RecordJob) : undefined;
}
