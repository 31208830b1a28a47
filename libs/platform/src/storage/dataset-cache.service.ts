import { Inject, Injectable, Logger } from '@nestjs/common';
import { NotFoundError, UnavailableError, type StorageLocation } from '@climcat/core';
import {
  cacheableDataset,
  DatasetCache,
  type AcquireOptions,
  type DatasetKey,
  type DatasetLease,
  type NetcdfDataset,
} from '@climcat/netcdf';
import { stat } from 'node:fs/promises';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { MetricsService } from '../observability/metrics';
import { StorageService } from './storage.service';

/** What the catalog (or a listing) says about a file's current bytes. */
export interface FileVersionHint {
  size: number;
  /** ISO-8601. */
  mtime: string;
  etag?: string;
}

/**
 * The process's opened NetCDF files (THREDDS_CACHE_FILES, THREDDS_CACHE_MEMORY),
 * shared by OPeNDAP and the ingestor's metadata reads. Callers check access
 * before acquiring: the cache knows files, never who may read them.
 */
@Injectable()
export class DatasetCacheService {
  readonly cache: DatasetCache<NetcdfDataset>;
  private readonly logger = new Logger('DatasetCache');

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly storage: StorageService,
    metrics: MetricsService,
  ) {
    this.cache = new DatasetCache<NetcdfDataset>({
      ...config.datasetCache,
      onCloseError: (error, key) => this.logger.warn(`closing ${key.id}: ${(error as Error).message}`),
    });
    this.register(metrics);
  }

  /** Cache size and traffic, read from the cache when /metrics is scraped. */
  private register(metrics: MetricsService): void {
    const cache = this.cache;
    const registers = [metrics.registry];
    new Gauge({
      name: 'climcat_dataset_cache_entries',
      help: 'Opened NetCDF files in the cache, by state',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const s = cache.stats();
        this.set({ state: 'leased' }, s.leased);
        this.set({ state: 'all' }, s.entries);
      },
    });
    new Gauge({
      name: 'climcat_dataset_cache_bytes',
      help: 'Estimated memory of cached headers and DDS/DAS text',
      registers,
      collect() {
        this.set(cache.stats().bytes);
      },
    });
    new Counter({
      name: 'climcat_dataset_cache_lookups_total',
      help: 'Opened-file cache lookups by outcome (hit, miss) and evictions',
      labelNames: ['outcome'] as const,
      registers,
      collect() {
        const s = cache.stats();
        this.reset();
        this.inc({ outcome: 'hit' }, s.hits);
        this.inc({ outcome: 'miss' }, s.misses);
        this.inc({ outcome: 'eviction' }, s.evictions);
      },
    });
  }

  /**
   * The cache key of a file's current version, from a cheap freshness check.
   * POSIX: one stat of the path (size, mtime in ns, inode; symlinks followed,
   * so a retargeted link is a new version). S3: the ETag, size and mtime the
   * catalog recorded (no request; the ingestor updates the record when the
   * object changes), or a HEAD when no record is given.
   */
  async keyOf(location: StorageLocation, hint?: FileVersionHint): Promise<DatasetKey> {
    const at = this.storage.resolve(location);
    const id = `${at.location.root}/${at.location.path}`;
    if (at.kind === 'posix') {
      try {
        const st = await stat(at.absolutePath, { bigint: true });
        return { id, version: `${st.size}:${st.mtimeNs}:${st.ino}` };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP')
          throw new NotFoundError(`${id} does not exist`);
        throw new UnavailableError(`${id} could not be checked (${code ?? 'error'}); try again later`);
      }
    }
    const known = hint ?? (await this.storage.stat(location.root, location.path));
    if (!known) throw new NotFoundError(`${id} does not exist`);
    return { id, version: `${known.etag ?? ''}:${known.size}:${known.mtime}` };
  }

  /** A lease on the opened file (open on a miss); release it when the answer is done. */
  async acquire(
    location: StorageLocation,
    hint?: FileVersionHint,
    options: AcquireOptions = {},
  ): Promise<DatasetLease<NetcdfDataset>> {
    const key = await this.keyOf(location, hint);
    return this.cache.acquire(
      key,
      async () =>
        cacheableDataset(await this.storage.open(location.root, location.path, hint?.size), {
          cache: this.storage.cache,
        }),
      options,
    );
  }

  /** Closes idle entries; leased ones close when their answers finish. */
  close(): Promise<void> {
    return this.cache.closeAll();
  }
}
