import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  APP_CONFIG,
  QUEUE_FACTORY,
  SCRATCH_OBJECT_EVENT_QUEUE,
  StorageService,
  type AppConfig,
  type JobQueue,
  type QueueFactory,
  type ScratchObjectEvent,
} from '@climcat/platform';
import { UsageService } from './usage.service';

/**
 * Bucket events for scratch/<user>/ objects (forwarded by the ingestor's
 * webhook) keep each user's S3 tally current between listings. The event's
 * order is not trusted: the object is stat'ed now, so duplicates and a
 * remove before its create end in the same tally.
 */
@Injectable()
export class UsageEventsProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  readonly queue: JobQueue<ScratchObjectEvent>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(QUEUE_FACTORY) queues: QueueFactory,
    private readonly storage: StorageService,
    private readonly usage: UsageService,
  ) {
    this.queue = queues.create<ScratchObjectEvent>(SCRATCH_OBJECT_EVENT_QUEUE);
  }

  onApplicationBootstrap(): void {
    if (!this.config.s3?.bucket) return;
    this.queue.process(2, async (job) => this.handle(job.data));
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }

  async handle(event: ScratchObjectEvent): Promise<{ size: number | null }> {
    let size: number | null = null;
    try {
      size = (await this.storage.s3().statObject(event.bucket, event.key)).size;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'NotFound' && code !== 'NoSuchKey') throw error; // retried by the queue
    }
    this.usage.noteS3Object(event.bucket, event.key, size);
    return { size };
  }
}
