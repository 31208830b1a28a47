/**
 * @climcat/netcdf — reading and writing climate files: byte sources, NetCDF-3
 * and NetCDF-4 metadata and hyperslabs, CF time and extent decoding, CMIP5 /
 * CORDEX DRS parsing and a streaming NetCDF-3 writer.
 */
export * from './errors';
export * from './model';
export type { NetcdfDataset } from './dataset';
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_RESULT_BYTES,
  normalizeSelection,
  elementCount,
  type Hyperslab,
  type HyperslabChunk,
  type ReadOptions,
} from './selection';
export { classifyVariables, gridMappingNames } from './roles';

export {
  coalesceRanges,
  readRanges,
  readSpan,
  MemoryByteSource,
  DEFAULT_MAX_READ_BYTES,
  type ByteSource,
  type ByteRange,
  type CoalescedRange,
  type CoalesceOptions,
  type ReadHints,
} from './io/byte-source';
export { FileByteSource } from './io/file-byte-source';
export { warmReadWorker } from './io/pread-worker';
export { BufferPool, BufferLender, BufferLenderClosedError } from './io/buffer-pool';
export { S3ByteSource, type S3RangeClient } from './io/s3-byte-source';
export { HttpByteSource, type HttpByteSourceOptions } from './io/http-byte-source';
export { LocalFileCache, type LocalFileCacheOptions } from './io/local-cache';
export { startWorkerEntry } from './io/worker-entry';

export { Netcdf3File, readCdf3Header, type Cdf3OpenOptions } from './cdf3/reader';
export type { Cdf3Header, Cdf3VariableLayout, Cdf3Version } from './cdf3/header';
export {
  Netcdf3Writer,
  writeNetcdf3,
  planNetcdf3,
  encodeValues,
  padChars,
  stringsToChars,
  DEFAULT_FILL,
  type Netcdf3Schema,
  type Netcdf3Format,
  type Netcdf3Layout,
  type Netcdf3Data,
  type AttributeInput,
  type DimensionInput,
  type VariableInput,
  type WritableValues,
  type Cdf3Type,
} from './cdf3/writer';
export { Netcdf4File, type Netcdf4OpenOptions } from './hdf5/netcdf4-reader';
export { Hdf5Worker, hdf5Worker, shutdownHdf5Worker, type Hdf5WorkerOptions } from './hdf5/h5-worker-client';
export { openNetcdf, detectContainer, readCfSummary, type OpenOptions, type ContainerKind } from './open';

export {
  CALENDARS,
  normalizeCalendar,
  parseCalendarDate,
  formatIso,
  compareDates,
  daysInMonth,
  invalidDateReason,
  hasYearZero,
  type Calendar,
  type CalendarDate,
} from './cf/calendar';
export { CfTime, timeCoverage, type TimeUnit, type TimeCoverage } from './cf/time';
export { bboxFromAxes, bboxFromPoints, normalizeLongitude, rotatedToGeographic, type BBox } from './cf/geo';
export {
  extractCf,
  summarizeVariable,
  type CfSummary,
  type CfVariableSummary,
  type GridMappingSummary,
  type ExtractCfOptions,
} from './cf/metadata';
export { unpackValues, type UnpackOptions } from './cf/unpack';

export {
  resolveDrs,
  parseDrsPath,
  assertDrs,
  drsToken,
  type DrsResult,
  type DrsProject,
  type DrsDisagreement,
  type ResolveDrsOptions,
} from './drs/drs';

export * from './dap2';
export * from './ncss';

export {
  DatasetCache,
  MemoKey,
  cacheableDataset,
  metadataBytes,
  type DatasetKey,
  type DatasetLease,
  type CacheableDataset,
  type DatasetCacheOptions,
  type DatasetCacheStats,
  type AcquireOptions,
} from './cache/dataset-cache';
export * from './aggregation';
