import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InvalidError, NotFoundError, UnauthorizedError, type FieldProblem } from '@climcat/core';
import {
  APP_CONFIG,
  DatasetAggregationService,
  isScratchObjectKey,
  QUEUE_FACTORY,
  SCRATCH_OBJECT_EVENT_QUEUE,
  StorageService,
  type AppConfig,
  type JobInfo,
  type JobQueue,
  type JobState,
  type QueueFactory,
  type ScratchObjectEvent,
} from '@climcat/platform';
import { createHash, timingSafeEqual } from 'node:crypto';
import { FileIngestService } from '../files/file-ingest.service';

export const EVENT_QUEUE = 'ingest-events';

/** One object that changed, as a job: the worker looks at the object's current state. */
export interface ObjectEventJob {
  /** Storage root name that holds the bucket. */
  root: string;
  /** Path relative to the root. */
  path: string;
  event: 'created' | 'removed';
  bucket: string;
  key: string;
  etag?: string;
  sequencer?: string;
}

interface MinioRecord {
  eventName?: unknown;
  s3?: {
    bucket?: { name?: unknown };
    object?: { key?: unknown; eTag?: unknown; sequencer?: unknown; size?: unknown };
  };
}

/**
 * S3/MinIO bucket notifications → idempotent jobs. Workers never trust the
 * event's order: they stat the object now and upsert or remove accordingly,
 * so duplicates and a remove arriving before its create end in the same state.
 */
@Injectable()
export class EventService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventService');
  readonly queue: JobQueue<ObjectEventJob>;
  /** Objects under scratch/<user>/ of S3_BUCKET, for the scratch-quota service's usage. */
  private readonly scratch: JobQueue<ScratchObjectEvent>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(QUEUE_FACTORY) queues: QueueFactory,
    private readonly storage: StorageService,
    private readonly files: FileIngestService,
    private readonly aggregations: DatasetAggregationService,
  ) {
    this.queue = queues.create<ObjectEventJob>(EVENT_QUEUE);
    this.scratch = queues.create<ScratchObjectEvent>(SCRATCH_OBJECT_EVENT_QUEUE);
  }

  onApplicationBootstrap(): void {
    this.queue.process(this.config.ingest.concurrency, async (job) => this.handle(job.data));
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
    await this.scratch.close();
  }

  /** Checks the webhook token (Bearer or the raw Authorization value MinIO sends). */
  authenticate(authorization: string | undefined): void {
    const expected = this.config.ingest.webhookToken;
    if (!expected) throw new UnauthorizedError('Bucket notifications are disabled: set INGEST_WEBHOOK_TOKEN');
    const given = (authorization ?? '').replace(/^Bearer\s+/i, '').trim();
    const a = createHash('sha256').update(given).digest();
    const b = createHash('sha256').update(expected).digest();
    if (!given || !timingSafeEqual(a, b)) throw new UnauthorizedError('Webhook token is missing or wrong');
  }

  /** Validates a MinIO notification body and enqueues one job per record. */
  async accept(body: unknown): Promise<{ accepted: number; jobs: string[]; ignored: number }> {
    const records = parseRecords(body);
    const jobs: string[] = [];
    let ignored = 0;
    for (const record of records) {
      const scratch = record.bucket === this.config.s3?.bucket && isScratchObjectKey(record.key);
      if (scratch) await this.forwardScratch(record);
      // Every root whose bucket and prefix hold the key sees the object (a scan of each would list it).
      const holders = this.config.roots.flatMap((r) =>
        r.kind === 's3' && r.bucket === record.bucket && (!r.prefix || record.key.startsWith(`${r.prefix}/`))
          ? [{ root: r.name, path: r.prefix ? record.key.slice(r.prefix.length + 1) : record.key }]
          : [],
      );
      if (!holders.length) {
        if (!scratch) ignored++;
        continue;
      }
      for (const { root, path } of holders) {
        const job: ObjectEventJob = { ...record, root, path };
        // Same root + object + version + kind of event = same job, so redeliveries dedupe.
        const jobId = createHash('sha256')
          .update(
            [root, record.bucket, record.key, record.event, record.etag ?? '', record.sequencer ?? ''].join(
              '\0',
            ),
          )
          .digest('hex')
          .slice(0, 40);
        jobs.push(await this.queue.add(job, { jobId, attempts: 5, backoffMs: 500 }));
      }
    }
    return { accepted: jobs.length, jobs, ignored };
  }

  /** The scratch-quota service stats the object itself (its usage tally); order does not matter. */
  private async forwardScratch(record: Omit<ObjectEventJob, 'root' | 'path'>): Promise<void> {
    const jobId = createHash('sha256')
      .update(
        ['scratch', record.bucket, record.key, record.event, record.etag ?? '', record.sequencer ?? ''].join(
          '\0',
        ),
      )
      .digest('hex')
      .slice(0, 40);
    await this.scratch.add(
      { bucket: record.bucket, key: record.key, event: record.event },
      { jobId, attempts: 5, backoffMs: 500 },
    );
  }

  async handle(job: ObjectEventJob): Promise<{ action: string; datasetId: string | null }> {
    const location = this.storage.locate(job.root, job.path);
    const current = await this.storage.stat(job.root, job.path);
    const actor = `event:${job.bucket}`;
    if (!current) {
      // The dataset's totals are refreshed with the file write (and so below).
      const datasetId = await this.files.remove(location, actor);
      if (datasetId) await this.aggregations.check([datasetId]);
      return { action: 'removed', datasetId };
    }
    const result = await this.files.ingest(job.root, current, actor);
    // Its aggregation warnings (refusal, gaps, overlaps) in the catalog now, as after a scan.
    await this.aggregations.check(
      result.previousDatasetId ? [result.datasetId, result.previousDatasetId] : [result.datasetId],
    );
    return { action: result.outcome, datasetId: result.datasetId };
  }

  async jobs(state: JobState, offset: number, limit: number): Promise<JobInfo<ObjectEventJob>[]> {
    return this.queue.list(state, offset, limit);
  }

  async job(id: string): Promise<JobInfo<ObjectEventJob>> {
    const job = await this.queue.get(id);
    if (!job) throw new NotFoundError(`Job ${id} does not exist`);
    return job;
  }
}

/** MinIO / S3 notification JSON: `{ "Records": [ { "eventName": "s3:ObjectCreated:Put", "s3": {...} } ] }`. */
export function parseRecords(body: unknown): Omit<ObjectEventJob, 'root' | 'path'>[] {
  const records = (body as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records))
    throw InvalidError.field('body.Records', 'must be the Records array of an S3/MinIO event');
  if (records.length > 1000) throw InvalidError.field('body.Records', 'at most 1000 records per request');
  const problems: FieldProblem[] = [];
  const out: Omit<ObjectEventJob, 'root' | 'path'>[] = [];
  records.forEach((raw: MinioRecord, i) => {
    const at = `body.Records[${i}]`;
    const name = typeof raw?.eventName === 'string' ? raw.eventName : '';
    const event = name.startsWith('s3:ObjectCreated:')
      ? 'created'
      : name.startsWith('s3:ObjectRemoved:')
        ? 'removed'
        : null;
    if (!event) {
      problems.push({
        field: `${at}.eventName`,
        message: 'must be s3:ObjectCreated:* or s3:ObjectRemoved:*',
      });
      return;
    }
    const bucket = raw.s3?.bucket?.name;
    const rawKey = raw.s3?.object?.key;
    if (typeof bucket !== 'string' || !bucket)
      problems.push({ field: `${at}.s3.bucket.name`, message: 'is required' });
    if (typeof rawKey !== 'string' || !rawKey)
      problems.push({ field: `${at}.s3.object.key`, message: 'is required' });
    if (typeof bucket !== 'string' || typeof rawKey !== 'string' || !bucket || !rawKey) return;
    let key: string;
    try {
      // Keys arrive URL-encoded, with + for spaces.
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    } catch {
      problems.push({ field: `${at}.s3.object.key`, message: 'is not valid URL encoding' });
      return;
    }
    if (key.split('/').includes('..') || key.startsWith('/')) {
      problems.push({
        field: `${at}.s3.object.key`,
        message: 'must not contain ".." segments or start with /',
      });
      return;
    }
    const etag = raw.s3?.object?.eTag;
    const sequencer = raw.s3?.object?.sequencer;
    out.push({
      event,
      bucket,
      key,
      ...(typeof etag === 'string' && etag ? { etag } : {}),
      ...(typeof sequencer === 'string' && sequencer ? { sequencer } : {}),
    });
  });
  if (problems.length) throw InvalidError.of(problems);
  return out;
}
