import { Inject, Injectable } from '@nestjs/common';
import { InvalidError, UnavailableError, type Principal } from '@climcat/core';
import {
  applyConstraint,
  ByteSourceError,
  NetcdfFormatError,
  checkResponseSize,
  dapDataset,
  decodeQueryOnce,
  encodeAscii,
  encodeDodsParts,
  MemoKey,
  renderDas,
  renderDds,
  ASCII_SEPARATOR,
  BufferPool,
  type DapDataset,
  type NetcdfDataset,
  type Projected,
} from '@climcat/netcdf';
import { APP_CONFIG, DatasetCacheService, StorageService, type AppConfig } from '@climcat/platform';
import { Readable } from 'node:stream';
import { ThreddsPathService, type ResolvedFile } from '../access/thredds-path.service';
import { AggregationService } from './aggregation.service';
import type { StreamedAnswer } from './dods-writer';

/** An opened file and its DAP2 view; close it when the answer is done. */
export interface OpenedDap {
  resolved: ResolvedFile;
  dataset: NetcdfDataset;
  dap: DapDataset;
  /** The unconstrained DDS and the DAS, computed once per file version. */
  dds(): string;
  das(): string;
  /** Gives the file back to the cache (which closes it when no longer cached). */
  close(): Promise<void>;
}

// Per file version in the opened-file cache: the DAP2 view and its texts depend only on
// the file, its location and the configured public URL, all fixed for a cache entry.
const DAP_VIEW = new MemoKey<DapDataset>('dap2:dataset');
const DDS_TEXT = new MemoKey<string>('dap2:dds');
const DAS_TEXT = new MemoKey<string>('dap2:das');

/**
 * Reader errors name the file by its server path; callers know it by its
 * /thredds path, and the server's directories are nobody's business.
 */
function publicError(error: unknown, rawPath: string): unknown {
  if (error instanceof NetcdfFormatError)
    return new InvalidError(
      `${rawPath} cannot be read as NetCDF: ${error.message.split(error.path).join(rawPath)}`,
    );
  if (error instanceof ByteSourceError)
    return new UnavailableError(`${rawPath} could not be read (${error.code}); try again later`);
  return error;
}

/** Bytes per read while streaming: bounds the memory of one response. */
const STREAM_CHUNK_BYTES = 1 << 20;
/**
 * Reads of values sent as stored: several MiB (fewer reads and writes per
 * MB) into reused buffers; three per stream, two being read while one is written.
 */
const DODS_BUFFER_BYTES = 2 << 20;
const DODS_BUFFERS_PER_STREAM = 3;
/**
 * 17 buffers per slab (34 MiB): above glibc's largest mmap threshold (32 MiB), so a slab
 * freed after a burst of streams goes back to the OS; a slab's untouched pages cost nothing.
 */
const DODS_SLAB_BYTES = 17 * DODS_BUFFER_BYTES;
/** Slabs with nothing lent are freed after this long without a new stream's read. */
const DODS_POOL_IDLE_MS = 10_000;

/**
 * OPeNDAP DAP2 answers for catalogued files the caller may read: DDS, DAS,
 * and streamed data (.dods, .ascii) whose size is checked against the
 * configured limits before anything is read.
 */
@Injectable()
export class OpendapService {
  /** Read buffers shared by the process's .dods streams, each lending a few. */
  private readonly buffers = new BufferPool(DODS_BUFFER_BYTES, {
    slabBytes: DODS_SLAB_BYTES,
    idleMs: DODS_POOL_IDLE_MS,
  });

  constructor(
    private readonly paths: ThreddsPathService,
    private readonly storage: StorageService,
    private readonly datasets: DatasetCacheService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly aggregations: AggregationService,
  ) {}

  get limits(): { binLimit: number; ascLimit: number } {
    return this.config.opendap;
  }

  /**
   * Checks access (every request: access decisions are never cached), then
   * leases the file from the opened-file cache, keyed by its current version.
   */
  async open(caller: Principal, rawPath: string): Promise<OpenedDap> {
    // `datasets/<dataset id>`: the dataset's files joined along time.
    if (AggregationService.isAggregationPath(rawPath)) return this.aggregations.open(caller, rawPath);
    const resolved = await this.paths.resolve(caller, rawPath);
    let lease;
    try {
      lease = await this.datasets.acquire(resolved.location, resolved.file);
    } catch (error) {
      throw publicError(error, rawPath);
    }
    const name = resolved.location.path.split('/').pop() ?? resolved.location.path;
    const dataset = lease.value;
    const dap = lease.memo(DAP_VIEW, () => dapDataset(dataset.metadata, name));
    return {
      resolved,
      dataset,
      dap,
      dds: () => lease.memo(DDS_TEXT, () => renderDds(dap, applyConstraint(dap, ''))),
      das: () =>
        lease.memo(DAS_TEXT, () => {
          const urls = this.storage.accessUrls(resolved.location);
          return renderDas(dap, { omittedHint: `get them from ${urls.httpserver} or ${urls.ncss}` });
        }),
      close: () => lease.release(),
    };
  }

  private async withOpen<T>(caller: Principal, rawPath: string, fn: (o: OpenedDap) => T): Promise<T> {
    const opened = await this.open(caller, rawPath);
    try {
      return fn(opened);
    } finally {
      await opened.close();
    }
  }

  async dds(caller: Principal, rawPath: string, query: string): Promise<string> {
    return this.withOpen(caller, rawPath, (o) => {
      const constraint = decodeQueryOnce(query);
      // Only the unconstrained DDS is kept: constraints are as many as clients invent.
      return constraint === '' ? o.dds() : renderDds(o.dap, applyConstraint(o.dap, constraint));
    });
  }

  async das(caller: Principal, rawPath: string): Promise<string> {
    return this.withOpen(caller, rawPath, (o) => o.das());
  }

  /** DDS + DAS of an opened file, for the HTML form and .info pages. */
  async describe(caller: Principal, rawPath: string): Promise<{ dds: string; das: string; dap: DapDataset }> {
    return this.withOpen(caller, rawPath, (o) => ({ dds: o.dds(), das: o.das(), dap: o.dap }));
  }

  /**
   * The `.dods` answer: constrained DDS, `Data:`, XDR, as chunks to write
   * with {@link pumpAnswer}. NetCDF-3 values that are already XDR are read
   * into buffers borrowed from the process's pool and sent as read.
   */
  async dods(caller: Principal, rawPath: string, query: string): Promise<StreamedAnswer> {
    const { opened, projected, dds } = await this.prepare(caller, rawPath, query, 'binary');
    const lender = this.buffers.lender(DODS_BUFFERS_PER_STREAM);
    const chunks = (async function* () {
      yield Buffer.from(`${dds}Data:\n`, 'utf8');
      // Records are written where they were read (vectored), not moved together first.
      yield* encodeDodsParts(opened.dataset, projected, { chunkBytes: STREAM_CHUNK_BYTES, buffers: lender });
    })();
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        lender.close();
        try {
          await chunks.return(undefined);
        } finally {
          await opened.close();
        }
      })());
    return { chunks, lender, close };
  }

  /** The `.ascii` answer as a stream. */
  async ascii(caller: Principal, rawPath: string, query: string): Promise<Readable> {
    const { opened, projected, dds } = await this.prepare(caller, rawPath, query, 'ascii');
    const options = { chunkBytes: STREAM_CHUNK_BYTES };
    const body = (async function* () {
      yield Buffer.from(`${dds}${ASCII_SEPARATOR}\n`, 'utf8');
      for await (const text of encodeAscii(opened.dataset, projected, options))
        yield Buffer.from(text, 'utf8');
    })();
    // Not object mode: backpressure counts bytes, so a slow client holds about one chunk.
    const stream = Readable.from(body, { objectMode: false, highWaterMark: STREAM_CHUNK_BYTES });
    stream.once('close', () => void opened.close());
    return stream;
  }

  /** Opens the file and checks the constrained answer against its size limit before anything is read. */
  private async prepare(
    caller: Principal,
    rawPath: string,
    query: string,
    kind: 'binary' | 'ascii',
  ): Promise<{ opened: OpenedDap; projected: Projected[]; dds: string }> {
    const opened = await this.open(caller, rawPath);
    try {
      const projected = applyConstraint(opened.dap, decodeQueryOnce(query));
      const dds = renderDds(opened.dap, projected);
      if (kind === 'binary')
        checkResponseSize(projected, this.config.opendap.binLimit, 'THREDDS_BIN_LIMIT', dds.length + 7);
      else checkResponseSize(projected, this.config.opendap.ascLimit, 'THREDDS_ASC_LIMIT', dds.length);
      return { opened, projected, dds };
    } catch (error) {
      await opened.close();
      throw error;
    }
  }

  /** The path and suffix of a /thredds/dodsC request URL (raw, still percent-encoded). */
  static splitUrl(url: string): { path: string; suffix: string; query: string } {
    const q = url.indexOf('?');
    const pathPart = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';
    const prefix = '/thredds/dodsC/';
    if (!pathPart.startsWith(prefix)) throw InvalidError.field('path', 'must start with /thredds/dodsC/');
    const rest = pathPart.slice(prefix.length);
    const m = /\.(dds|das|dods|ascii|asc|html|htm|info|ver)$/.exec(rest);
    if (m) return { path: rest.slice(0, -m[0].length), suffix: m[1] as string, query };
    return { path: rest, suffix: '', query };
  }
}
