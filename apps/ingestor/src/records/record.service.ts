import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  DatasetRules,
  InvalidError,
  requireRole,
  type FieldProblem,
  type FileRecord,
  type Principal,
} from '@climcat/core';
import {
  APP_CONFIG,
  DatasetAggregationService,
  QUEUE_FACTORY,
  StorageService,
  safePath,
  type AppConfig,
  type JobQueue,
  type QueueFactory,
} from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { fileIdOf, FileIngestService } from '../files/file-ingest.service';
import type { IngestRecordDto } from './record.dto';

export const RECORD_QUEUE = 'ingest-records';

export type RecordJob =
  | { kind: 'file'; root: string; path: string; actor: string }
  | { kind: 'metadata'; record: IngestRecordDto; actor: string; subject: Principal };

@Injectable()
export class RecordService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly queue: JobQueue<RecordJob>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(QUEUE_FACTORY) queues: QueueFactory,
    private readonly storage: StorageService,
    private readonly files: FileIngestService,
    private readonly rules: DatasetRules,
    private readonly aggregations: DatasetAggregationService,
  ) {
    this.queue = queues.create<RecordJob>(RECORD_QUEUE);
  }

  onApplicationBootstrap(): void {
    this.queue.process(this.config.ingest.concurrency, async (job) => this.handle(job.data));
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }

  /** Validates synchronously (400 with field names), then queues the work. */
  async submit(caller: Principal, record: IngestRecordDto): Promise<string> {
    requireRole(caller, 'curator', 'Ingestion');
    const problems: FieldProblem[] = [];
    const fileForm = record.root !== undefined || record.path !== undefined;
    const metadataForm = record.dataset !== undefined || record.files !== undefined;
    if (fileForm === metadataForm) {
      throw InvalidError.field(
        'body',
        'send either root + path (a file to read) or dataset + files (a ready record)',
      );
    }
    const check = (field: string, fn: () => void) => {
      try {
        fn();
      } catch (error) {
        if (!(error instanceof InvalidError)) throw error;
        problems.push({ field, message: error.errors[0]?.message ?? error.message });
      }
    };
    if (fileForm) {
      if (!record.root) problems.push({ field: 'body.root', message: 'is required with path' });
      if (!record.path) problems.push({ field: 'body.path', message: 'is required with root' });
      if (record.root) check('body.root', () => this.storage.root(record.root!));
      if (record.path) check('body.path', () => safePath(record.path!, 'path'));
    } else {
      if (!record.dataset) problems.push({ field: 'body.dataset', message: 'is required with files' });
      if (!record.files) problems.push({ field: 'body.files', message: 'is required with dataset' });
      record.files?.forEach((f, i) => {
        check(`body.files[${i}].root`, () => this.storage.root(f.root));
        check(`body.files[${i}].path`, () => safePath(f.path, 'path'));
      });
    }
    if (problems.length) throw InvalidError.of(problems);
    const job: RecordJob = fileForm
      ? { kind: 'file', root: record.root!, path: safePath(record.path!, 'path'), actor: caller.subject }
      : { kind: 'metadata', record, actor: caller.subject, subject: caller };
    return this.queue.add(job, { jobId: randomUUID(), attempts: 3, backoffMs: 1000 });
  }

  async handle(job: RecordJob): Promise<{ datasetId: string; files: number }> {
    if (job.kind === 'file') {
      const current = await this.storage.stat(job.root, job.path);
      if (!current) throw new InvalidError(`${job.root}/${job.path} does not exist`);
      // The file's dataset (and one it moved from) are refreshed with the file write.
      const result = await this.files.ingest(job.root, current, `record:${job.actor}`);
      // Its aggregation warnings (refusal, gaps, overlaps) in the catalog now, as after a scan.
      await this.aggregations.check(
        result.previousDatasetId ? [result.datasetId, result.previousDatasetId] : [result.datasetId],
      );
      return { datasetId: result.datasetId, files: 1 };
    }
    const { dataset, files = [] } = job.record;
    if (!dataset) throw new InvalidError('metadata record without dataset');
    // A known dataset takes the record's curated members; identity and aggregates stay.
    const { id } = await this.rules.createOrUpdate({ caller: job.subject, note: 'ingest record' }, dataset);
    const now = new Date().toISOString();
    const touched = new Set([id]);
    for (const f of files) {
      const location = this.storage.locate(f.root, f.path);
      // A file already registered at this location keeps its stored id and createdAt.
      const file: FileRecord = {
        id: fileIdOf(location),
        datasetId: id,
        location,
        size: f.size,
        mtime: new Date(f.mtime).toISOString(),
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
        format: f.format ?? 'unknown',
        timeCoverage: f.timeCoverage ? { ...f.timeCoverage } : null,
        variables: f.variables ?? [],
        status: 'present',
        createdAt: now,
        updatedAt: now,
      };
      // Each file and its dataset's totals (and those of a dataset it moved from) in one write.
      const registered = await this.rules.registerFile(file, `record:${job.actor}`);
      if (registered.previousDatasetId) touched.add(registered.previousDatasetId);
    }
    await this.aggregations.check(touched);
    return { datasetId: id, files: files.length };
  }
}
