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
