import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  DatasetRules,
  STORE,
  threddsPath,
  type FileChecksum,
  type FileRecord,
  type ScanChecksums,
  type Store,
} from '@climcat/core';
import {
  APP_CONFIG,
  QUEUE_FACTORY,
  StorageService,
  type AppConfig,
  type JobQueue,
  type QueueFactory,
} from '@climcat/platform';
import { createHash } from 'node:crypto';
import { ReadPacer } from './read-pacer';

export const CHECKSUM_QUEUE = 'ingest-checksums';
/** Bytes per read while hashing (paced one read at a time). */
const CHUNK = 1 << 20;
/** Progress is published at least this often. */
const FLUSH_MS = 1000;

export interface ChecksumJob {
  scanId: string;
}

/** The stage's starting counts; `verify` re-reads files whose checksum is current too. */
export function queuedChecksums(verify: boolean): ScanChecksums {
  return {
    state: 'queued',
    verify,
    files: 0,
    hashed: 0,
    fromObject: 0,
    current: 0,
    mismatched: 0,
    failed: 0,
    bytes: 0,
    pending: 0,
  };
}

/** The stored checksum still describes the file as it is (same size, mtime and ETag). */
export function checksumIsCurrent(file: FileRecord): boolean {
  const c = file.checksum;
  return (
    file.sha256 !== undefined &&
    c !== undefined &&
    c.size === file.size &&
    c.mtime === file.mtime &&
    c.etag === file.etag
  );
}

/**
 * The checksum stage of ingestion: after a scan completes, SHA256 of every
 * present file under its root and prefix that has no current checksum, in a
 * queue job of its own (never in a request). Reads are paced (shared
 * bytes/s) and `concurrency` files are hashed at once. Each checksum is stored
 * as soon as it is known, with the size/mtime/ETag it belongs to, so a restart
 * re-runs the job and reads only the files still lacking one. S3 objects that
 * carry their own SHA256 are not read. With `verify`, current checksums are
 * re-read too: a different hash of an unchanged file is a `checksum-mismatch`
 * warning on its dataset (the stored checksum stays, the new one is recorded).
 */
@Injectable()
export class ChecksumService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ChecksumService');
  private readonly queue: JobQueue<ChecksumJob>;
  private readonly pacer: ReadPacer;
  /** Aborted on shutdown: running stages stop where they are and resume at the next boot. */
  private readonly stopping = new AbortController();

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(QUEUE_FACTORY) queues: QueueFactory,
    private readonly storage: StorageService,
    private readonly rules: DatasetRules,
  ) {
    this.queue = queues.create<ChecksumJob>(CHECKSUM_QUEUE);
    this.pacer = new ReadPacer(config.ingest.checksums.bytesPerSecond);
  }

  get enabled(): boolean {
    return this.config.ingest.checksums.enabled;
  }

  onApplicationBootstrap(): void {
    this.queue.process(1, (job) => this.run(job.data.scanId));
    void this.resumeInterrupted().catch((error: unknown) =>
      this.logger.error({ err: error }, 'could not resume checksum stages'),
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.queue.close();
  }

  /**
   * Queues the stage of a completed scan (its record already holds `checksums`).
   * A resumed stage gets a job of its own: the job a shutdown cut short ended
   * as completed (bull would dedupe its id), and a duplicate finds every
   * checksum already current.
   */
  async enqueue(scanId: string, resumed = false): Promise<void> {
    const jobId = resumed ? `${scanId}-resumed-${Date.now()}` : scanId;
    await this.queue.add({ scanId }, { jobId, attempts: 3, backoffMs: 2000 });
  }

  /** Resolves when every queued stage has finished (CLI, tests). */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  /** Runs (or resumes) the stage of one scan. */
  async run(scanId: string): Promise<ScanChecksums | null> {
    const scan = await this.store.scans.get(scanId);
    if (!scan?.checksums || scan.state !== 'completed') return scan?.checksums ?? null;
    if (scan.checksums.state === 'completed' || scan.checksums.state === 'cancelled') return scan.checksums;
    const { verify } = scan.checksums;
    const progress: ScanChecksums = {
      ...queuedChecksums(verify),
      state: 'running',
      startedAt: new Date().toISOString(),
    };
    // What is left to read, so progress has a denominator (a listing from the store, no file reads).
    for await (const batch of this.store.files.iterateByRoot(scan.root, scan.prefix))
      progress.pending += batch.filter((f) => verify || !checksumIsCurrent(f)).length;
    await this.store.scans.update(scanId, { checksums: { ...progress } });

    let cancelled = false;
    let publishing: Promise<void> = Promise.resolve();
    const publish = (): Promise<void> => {
      publishing = publishing
        .then(async () => {
          const current = await this.store.scans.get(scanId);
          if (current?.state === 'cancelled' || current?.checksums?.state === 'cancelled') {
            cancelled = true;
            return;
          }
          await this.store.scans.update(scanId, { checksums: { ...progress } });
        })
        .catch((error: unknown) =>
          this.logger.warn({ scanId, err: error }, 'could not publish checksum progress'),
        );
      return publishing;
    };
    const ticker = setInterval(() => void publish(), FLUSH_MS);
    ticker.unref();
    const warned = new Map<string, Promise<Set<string>>>();
    const pool = new Set<Promise<void>>();
    const limit = Math.max(1, this.config.ingest.checksums.concurrency);
    try {
      for await (const batch of this.store.files.iterateByRoot(scan.root, scan.prefix)) {
        for (const file of batch) {
          if (cancelled || this.stopping.signal.aborted) break;
          progress.files++;
          if (!verify && checksumIsCurrent(file)) {
            progress.current++;
            continue;
          }
          const task = this.checksum(file, verify, progress, warned)
            .catch((error: unknown) => {
              if (this.stopping.signal.aborted) return;
              progress.failed++;
              this.logger.warn({ scanId, path: threddsPath(file.location), err: error }, 'checksum failed');
            })
            .finally(() => pool.delete(task));
          pool.add(task);
          if (pool.size >= limit) await Promise.race(pool);
        }
        if (cancelled || this.stopping.signal.aborted) break;
      }
      await Promise.all(pool);
    } finally {
      clearInterval(ticker);
      await publishing;
    }
    // Stopped by shutdown: left running, so the next boot resumes it with the files still lacking one.
    if (this.stopping.signal.aborted) return progress;
    const final: ScanChecksums = {
      ...progress,
      state: cancelled ? 'cancelled' : 'completed',
      finishedAt: new Date().toISOString(),
    };
    await this.store.scans.update(scanId, { checksums: final });
    return final;
  }

  /** One file: its object's own SHA256, or read and hashed; stored against the state it describes. */
  private async checksum(
    file: FileRecord,
    verify: boolean,
    progress: ScanChecksums,
    warned: Map<string, Promise<Set<string>>>,
  ): Promise<void> {
    const { root, path } = file.location;
    const basis = { size: file.size, mtime: file.mtime, ...(file.etag ? { etag: file.etag } : {}) };
    const current = checksumIsCurrent(file);
    if (!current || !verify) {
      const own = await this.storage.objectSha256(root, path);
      // The object's metadata counts only for the version the catalog knows (same ETag).
      if (own && own.etag === file.etag && file.sha256 === undefined) {
        await this.store.files.setChecksum(file.id, own.sha256, {
          ...basis,
          at: new Date().toISOString(),
          source: 'object',
        });
        progress.fromObject++;
        return;
      }
    }
    // Hash only the version the record describes: a file changed since the scan waits for the next scan.
    if (!(await this.unchangedSinceScan(file)))
      throw new Error('changed since the scan; the next scan hashes it');
    const sha256 = await this.hash(root, path, file.size, progress);
    if (!(await this.unchangedSinceScan(file))) throw new Error('changed while it was read');
    progress.hashed++;
    const at = new Date().toISOString();
    // A checksum given with the file (ingest record, S3 metadata) or computed before is what the file must match.
    const expected =
      current || (file.sha256 !== undefined && file.checksum === undefined) ? file.sha256 : undefined;
    const name = threddsPath(file.location);
    if (expected !== undefined && expected !== sha256) {
      const checksum: FileChecksum = { ...basis, at, source: 'computed', mismatch: sha256 };
      if (!(await this.store.files.setChecksum(file.id, expected, checksum))) return;
      progress.mismatched++;
      await this.rules.setChecksumWarning(file.datasetId, name, {
        code: 'checksum-mismatch',
        message:
          `${name}: SHA256 is now ${sha256}, not ${expected} as recorded, although its size` +
          ` (${file.size} bytes) and ${file.etag ? 'ETag' : 'mtime'} did not change: the content changed` +
          ' in place (bit rot or a rewrite that kept the mtime)',
        file: name,
      });
      return;
    }
    const checksum: FileChecksum = { ...basis, at, source: 'computed' };
    if (!(await this.store.files.setChecksum(file.id, sha256, checksum))) return;
    // A file that verifies (again) or was rewritten loses the warning it had.
    let names = warned.get(file.datasetId);
    if (!names) {
      names = this.store.datasets
        .get(file.datasetId)
        .then((d) => new Set((d?.checksumWarnings ?? []).flatMap((w) => (w.file ? [w.file] : []))));
      warned.set(file.datasetId, names);
    }
    if ((await names).has(name)) await this.rules.setChecksumWarning(file.datasetId, name, null);
  }

  private async unchangedSinceScan(file: FileRecord): Promise<boolean> {
    const now = await this.storage.stat(file.location.root, file.location.path);
    if (!now || now.size !== file.size) return false;
    return file.etag ? now.etag === file.etag : now.mtime === file.mtime;
  }

  private async hash(root: string, path: string, size: number, progress: ScanChecksums): Promise<string> {
    const source = await this.storage.open(root, path, size);
    try {
      const digest = createHash('sha256');
      const chunk = Math.max(1, Math.min(CHUNK, source.maxReadBytes));
      for (let offset = 0; offset < size;) {
        const n = Math.min(chunk, size - offset);
        await this.pacer.take(n, this.stopping.signal);
        digest.update(await source.read(offset, n));
        offset += n;
        progress.bytes += n;
      }
      return digest.digest('hex');
    } finally {
      await source.close();
    }
  }

  /** After a crash or restart: stages left queued or running behind a completed scan go back on the queue. */
  private async resumeInterrupted(): Promise<void> {
    const recent = await this.store.scans.list({ limit: 100, offset: 0 });
    for (const scan of recent.items) {
      const state = scan.checksums?.state;
      if (scan.state === 'completed' && (state === 'queued' || state === 'running')) {
        this.logger.log({ scanId: scan.id }, 'resuming checksum stage');
        await this.enqueue(scan.id, true);
      }
    }
  }
}
