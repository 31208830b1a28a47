import type { NcData, NcMetadata } from './model';
import type { HyperslabChunk, ReadOptions } from './selection';

/** An open NetCDF file of any supported format. */
export interface NetcdfDataset {
  readonly metadata: NcMetadata;
  /** Where the bytes come from (path, s3://…, URL). */
  readonly description: string;
  /**
   * Streams a hyperslab as typed chunks in row-major order with bounded memory.
   * Omitted start/count/stride mean the whole variable.
   */
  readChunks(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options?: ReadOptions,
  ): AsyncIterableIterator<HyperslabChunk<NcData>>;
  /**
   * Formats that store values big-endian (NetCDF-3) can stream a hyperslab's
   * bytes as stored, without swapping them to host order: each chunk is the
   * selected elements back to back, `offset` counting elements. Without
   * `options.reuseBuffers` every chunk is memory of its own. Absent where the
   * stored bytes are not plain big-endian values (NetCDF-4).
   */
  readRawChunks?(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options?: ReadOptions,
  ): AsyncIterableIterator<HyperslabChunk<Uint8Array>>;
  /**
   * Where a worker thread can read the file (a local NetCDF-3 file): fills
   * `target`, memory of a SharedArrayBuffer of exactly the selection's bytes,
   * with them as readRawChunks would stream them, in as few worker jobs as
   * possible. Resolves false, having read nothing, when it cannot (another
   * source, target not shared): the caller then streams readRawChunks.
   */
  readRawInto?(
    variable: string,
    start: readonly number[],
    count: readonly number[],
    stride: readonly number[],
    target: Uint8Array,
    options?: ReadOptions,
  ): Promise<boolean>;
  /** Collects a hyperslab into one typed array (refused past `options.maxBytes`). */
  read(
    variable: string,
    start?: readonly number[],
    count?: readonly number[],
    stride?: readonly number[],
    options?: ReadOptions,
  ): Promise<NcData>;
  close(): Promise<void>;
}
