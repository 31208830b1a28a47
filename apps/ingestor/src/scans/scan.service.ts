import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  ConflictError,
  DomainError,
  NotFoundError,
  STORE,
  readsEverything,
  requireRole,
  SYSTEM,
  type FileState,
  type Page,
  type Paged,
  type Principal,
  type ScanRecord,
  type Store,
  type TotalsFix,
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
  type StoredObject,
} from '@climcat/platform';
import { randomUUID } from 'node:crypto';
import { FileIngestService } from '../files/file-ingest.service';
import { mapScan, type ScanDto } from '../ingest.dto';
import { ChecksumService, queuedChecksums } from './checksum.service';
import { mergeByPath } from './path-merge';

export const SCAN_QUEUE = 'ingest-scans';
/** Errors kept on a scan record; `counts.failed` has the total. */
const MAX_SCAN_ERRORS = 1000;
/** Live counts are published at least this often, even while one file or listing page stalls the loop... */
const FLUSH_MS = 1000;
/** ...and after this many files, whichever comes first. */
const FLUSH_FILES = 500;
/**
 * Datasets whose files were all unchanged are checked against their file records (the
 * totals check) this many at a time while the listing goes on, so neither the end of a
 * scan nor its memory grows with the datasets it saw (1M at CMIP6 scale).
 */
const SEEN_CHECK_DATASETS = 1000;

export interface ScanJob {
  scanId: string;
}

export interface ScanProgress extends ScanRecord {
  /** Files per second so far. */
  rate: number | null;
  /** Seconds left, estimated from the previous completed scan of the same root and prefix. */
  etaSeconds: number | null;
}

/**
 * Scans of a POSIX root or S3 bucket: the listing is merged in path order
 * against the catalog's files under the same root, so unchanged files
 * (same size, mtime, ETag) are never read and missing ones are marked removed.
 * A scan is one queue job; a crash retries it and idempotent upserts make the
 * rerun cheap and duplicate-free.
 */
@Injectable()
export class ScanService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ScanService');
  private readonly queue: JobQueue<ScanJob>;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(QUEUE_FACTORY) queues: QueueFactory,
    private readonly storage: StorageService,
    private readonly files: FileIngestService,
    private readonly aggregations: DatasetAggregationService,
    private readonly checksums: ChecksumService,
  ) {
    this.queue = queues.create<ScanJob>(SCAN_QUEUE);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.queue.process(1, (job) => this.run(job.data.scanId));
    void this.resumeInterrupted().catch((error: unknown) =>
      this.logger.error({ err: error }, 'could not resume scans'),
    );
    // SCAN_ON_BOOT: the catalog catches up with files added to the archive while stopped.
    // A queue that is down must not stop the service from starting: readiness reports it.
    if (this.config.ingest.scanOnBoot) {
      await this.start(SYSTEM, 'data').catch((error: unknown) =>
        this.logger.error({ err: error }, 'could not start the boot scan'),
      );
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }

  /** `verifyChecksums`: the checksum stage re-reads files whose checksum is current too (bit-rot check). */
  async start(
    caller: Principal,
    root: string,
    prefix = '',
    options: { verifyChecksums?: boolean } = {},
  ): Promise<ScanRecord> {
    requireRole(caller, 'curator', 'Ingestion');
    this.storage.root(root);
    const cleanPrefix = prefix ? safePath(prefix, 'prefix') : '';
    const record: ScanRecord = {
      id: randomUUID(),
      root,
      prefix: cleanPrefix,
      state: 'queued',
      counts: { seen: 0, new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 },
      bytes: 0,
      errors: [],
      ...(this.checksums.enabled ? { checksums: queuedChecksums(options.verifyChecksums ?? false) } : {}),
      requestedBy: caller.subject,
      createdAt: new Date().toISOString(),
    };
    const created = await this.store.scans.create(record);
    try {
      await this.queue.add({ scanId: record.id }, { jobId: record.id, attempts: 3, backoffMs: 2000 });
    } catch (error) {
      // Queue down (503 to the caller): the record says why it never ran.
      const message = error instanceof Error ? error.message : String(error);
      await this.store.scans.update(record.id, {
        state: 'failed',
        finishedAt: new Date().toISOString(),
        message,
      });
      throw error;
    }
    return created;
  }

  async get(caller: Principal, id: string): Promise<ScanDto> {
    requireRole(caller, 'reader');
    const scan = await this.store.scans.get(id);
    if (!scan) throw new NotFoundError(`Scan ${id} does not exist`);
    return mapScan(await this.withProgress(scan), showsErrors(caller, scan));
  }

  async list(caller: Principal, page: Page): Promise<Paged<ScanDto>> {
    requireRole(caller, 'reader');
    const result = await this.store.scans.list(page);
    // One look at recent scans serves the ETA of every running scan on the page.
    const recent = result.items.some((s) => s.state === 'running') ? await this.recentScans() : [];
    return {
      total: result.total,
      items: await Promise.all(
        result.items.map(async (s) => mapScan(await this.withProgress(s, recent), showsErrors(caller, s))),
      ),
    };
  }

  async cancel(caller: Principal, id: string): Promise<ScanDto> {
    requireRole(caller, 'curator', 'Ingestion');
    const scan = await this.store.scans.get(id);
    if (!scan) throw new NotFoundError(`Scan ${id} does not exist`);
    if (scan.state !== 'queued' && scan.state !== 'running') {
      throw new ConflictError(`Scan ${id} is ${scan.state}; only queued or running scans can be cancelled`);
    }
    const cancelled = await this.store.scans.update(id, {
      state: 'cancelled',
      finishedAt: new Date().toISOString(),
      message: `cancelled by ${caller.subject}`,
      ...(scan.checksums ? { checksums: { ...scan.checksums, state: 'cancelled' as const } } : {}),
    });
    return mapScan(await this.withProgress(cancelled), true);
  }

  /** Resolves when every queued scan has finished (CLI, tests). */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  /** Runs (or reruns) one scan. Public for the CLI's in-process use. */
  async run(scanId: string): Promise<ScanRecord> {
    const initial = await this.store.scans.get(scanId);
    if (!initial) throw new NotFoundError(`Scan ${scanId} does not exist`);
    if (initial.state === 'cancelled' || initial.state === 'completed') return initial;
    // Retried after a failure or a crash: start over; unchanged files are skipped cheaply.
    const root = this.storage.root(initial.root);
    const actor = `scan:${scanId}`;
    const counts = { seen: 0, new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 };
    const errors: ScanRecord['errors'] = [];
    let bytes = 0;
    let repaired = 0;
    const firstFixed: TotalsFix[] = [];
    const started = new Date().toISOString();
    await this.store.scans.update(scanId, {
      state: 'running',
      startedAt: started,
      counts,
      bytes: 0,
      errors: [],
    });

    // Totals follow each file write (FileRepository.register/retire; on mongo this scan's
    // registrations are settled in batches). What a crash interrupted is finished first:
    // dataset refreshes left pending (mongo)...
    repaired += (await this.files.settlePending(actor)).length;
    // ...and the datasets of files skipped as unchanged are checked, for stores written before
    // totals were kept with the file rows.
    const touched = new Set<string>();
    let seenDatasets = new Set<string>();
    let cancelled = false;
    let publishedSeen = 0;
    let publishing: Promise<void> = Promise.resolve();
    // Serialised, so a timer tick and the loop never interleave their writes.
    const publish = (): Promise<void> => {
      publishing = publishing
        .then(async () => {
          const current = await this.store.scans.get(scanId);
          if (current?.state === 'cancelled') {
            cancelled = true;
            return;
          }
          publishedSeen = counts.seen;
          await this.store.scans.update(scanId, {
            counts: { ...counts },
            bytes,
            errors: errors.slice(0, MAX_SCAN_ERRORS),
          });
        })
        .catch((error: unknown) =>
          this.logger.warn({ scanId, err: error }, 'could not publish scan progress'),
        );
      return publishing;
    };
    // A timer rather than a check in the loop: a slow file, listing page or dataset refresh
    // stalls the loop, and the counts must still move.
    const ticker = setInterval(() => void publish(), FLUSH_MS);
    ticker.unref();
    let unsettled = 0;
    // Checked before awaiting flush: most files need neither (no await per file).
    const flushDue = () => counts.seen - publishedSeen >= FLUSH_FILES || unsettled >= FLUSH_FILES;
    const flush = async () => {
      if (counts.seen - publishedSeen >= FLUSH_FILES) await publish();
      if (unsettled >= FLUSH_FILES) {
        unsettled = 0;
        await this.files.settlePending(actor);
      }
    };
    const fail = (path: string, error: unknown) => {
      counts.failed++;
      const reason = error instanceof Error ? error.message : String(error);
      if (errors.length < MAX_SCAN_ERRORS) errors.push({ path, reason });
      if (!(error instanceof DomainError))
        this.logger.warn({ path, err: error }, 'unexpected ingest failure');
    };

    // Known files no longer listed, retired before the next listed file is looked at.
    let gone: FileState[] = [];
    const retireGone = async () => {
      const batch = gone;
      gone = [];
      counts.removed += await this.files.retire(
        batch.map((g) => g.id),
        actor,
      );
      for (const g of batch) touched.add(g.datasetId);
    };

    const pool = new Set<Promise<void>>();
    const limit = Math.max(1, this.config.ingest.concurrency);
    // Datasets this scan writes are left out: their totals follow their writes. Called with
    // this scan's writes so far finished and settled (on mongo a dataset with a pending
    // refresh would otherwise look like drift); the rest of the datasets are re-read by the
    // repair itself, so a racing write from elsewhere is seen.
    const checkSeen = async () => {
      const ids = seenDatasets;
      seenDatasets = new Set();
      for (const id of touched) ids.delete(id);
      const fixed = await this.files.repairDatasets(ids, actor);
      repaired += fixed.length;
      firstFixed.push(...fixed.slice(0, 20 - firstFixed.length));
    };
    try {
      const pairs = mergeByPath(
        this.storage.list(initial.root, initial.prefix),
        this.store.files.iterateStatesByRoot(root.name, initial.prefix),
      );
      merge: for await (const batch of pairs) {
        for (const { listed: object, known: previous } of batch) {
          if (!object) {
            gone.push(previous);
            continue;
          }
          if (cancelled) break merge;
          counts.seen++;
          bytes += object.size;
          if (gone.length) await retireGone();
          if (previous && unchanged(previous, object)) {
            counts.unchanged++;
            seenDatasets.add(previous.datasetId);
            if (seenDatasets.size >= SEEN_CHECK_DATASETS) {
              await Promise.all(pool);
              await this.files.settlePending(actor);
              await checkSeen();
            }
          } else {
            const task = this.files
              // Totals of the datasets written are settled every FLUSH_FILES files and at the end.
              .ingest(initial.root, object, actor, { deferRefresh: true })
              .then((result) => {
                unsettled++;
                counts[
                  previous?.status === 'present' && result.outcome !== 'unchanged'
                    ? 'changed'
                    : result.outcome
                ]++;
                touched.add(result.datasetId);
                if (result.previousDatasetId) touched.add(result.previousDatasetId);
              })
              .catch((error: unknown) => fail(object.path, error))
              .finally(() => pool.delete(task));
            pool.add(task);
            if (pool.size >= limit) await Promise.race(pool);
          }
          if (flushDue()) await flush();
        }
      }
      await Promise.all(pool);
      if (!cancelled && gone.length) await retireGone();
      await this.files.settlePending(actor);
      await publish();
      if (!cancelled) {
        // Datasets whose files changed: their aggregation warnings (refusal, gaps, overlaps) in the catalog now.
        await this.aggregations.check(touched);
        await checkSeen();
        if (firstFixed.length)
          this.logger.warn({ scanId, repaired, first: firstFixed }, 'repaired dataset totals');
      }
    } catch (error) {
      clearInterval(ticker);
      await publishing;
      await Promise.allSettled(pool);
      // Failed unless the queue retries it (a retry sets it running again).
      await this.store.scans.update(scanId, {
        state: 'failed',
        counts,
        bytes,
        errors: errors.slice(0, MAX_SCAN_ERRORS),
        finishedAt: new Date().toISOString(),
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    clearInterval(ticker);
    await publishing;
    const final = await this.store.scans.get(scanId);
    if (final?.state === 'cancelled' || cancelled) {
      return this.store.scans.update(scanId, { counts, bytes, errors: errors.slice(0, MAX_SCAN_ERRORS) });
    }
    const completed = await this.store.scans.update(scanId, {
      state: 'completed',
      counts,
      bytes,
      repaired,
      errors: errors.slice(0, MAX_SCAN_ERRORS),
      finishedAt: new Date().toISOString(),
    });
    // The checksum stage reads whole files: its own job, after the catalog is up to date.
    if (completed.checksums) {
      await this.checksums.enqueue(scanId).catch((error: unknown) =>
        // Left queued: the next boot (resumeInterrupted) queues it again.
        this.logger.warn({ scanId, err: error }, 'could not queue the checksum stage'),
      );
    }
    return completed;
  }

  /** After a crash or restart: scans left queued or running go back on the queue (jobId dedupes). */
  private async resumeInterrupted(): Promise<void> {
    const recent = await this.store.scans.list({ limit: 100, offset: 0 });
    for (const scan of recent.items) {
      if (scan.state === 'queued' || scan.state === 'running') {
        this.logger.log({ scanId: scan.id }, 'resuming interrupted scan');
        await this.queue.add({ scanId: scan.id }, { jobId: scan.id, attempts: 3, backoffMs: 2000 });
      }
    }
  }

  /** Scans to take an ETA from: the previous completed scan of the same root and prefix is among them. */
  private async recentScans(): Promise<ScanRecord[]> {
    return (await this.store.scans.list({ limit: 50, offset: 0 })).items;
  }

  private async withProgress(scan: ScanRecord, recent?: ScanRecord[]): Promise<ScanProgress> {
    const seconds = scan.startedAt
      ? ((scan.finishedAt ? Date.parse(scan.finishedAt) : Date.now()) - Date.parse(scan.startedAt)) / 1000
      : 0;
    const rate = seconds > 0 ? scan.counts.seen / seconds : null;
    let etaSeconds: number | null = null;
    if (scan.state === 'running' && rate) {
      const previous = (recent ?? (await this.recentScans())).find(
        (s) =>
          s.id !== scan.id && s.state === 'completed' && s.root === scan.root && s.prefix === scan.prefix,
      );
      if (previous && previous.counts.seen > scan.counts.seen)
        etaSeconds = (previous.counts.seen - scan.counts.seen) / rate;
    }
    return { ...scan, rate, etaSeconds };
  }
}

/**
 * Failed files are not in the catalog, so no dataset says who may read their
 * paths: curators and the scan's requester only (as GET /ingest/v1/errors does).
 */
function showsErrors(caller: Principal, scan: ScanRecord): boolean {
  return readsEverything(caller) || scan.requestedBy === caller.subject;
}

/** Same size and ETag (or mtime when there is no ETag): the file need not be read again. */
export function unchanged(known: FileState, object: StoredObject): boolean {
  if (known.status !== 'present' || known.size !== object.size) return false;
  if (object.etag && known.etag) return object.etag === known.etag;
  return known.mtime === object.mtime;
}
