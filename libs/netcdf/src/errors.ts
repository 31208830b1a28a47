import { InvalidError, NotFoundError, TooLargeError, UnavailableError } from '@climcat/core';

/** What is wrong with a file that claims to be NetCDF. */
export type NetcdfFormatErrorCode =
  /** Zero-byte file. */
  | 'EMPTY'
  /** Not a NetCDF-3 or HDF5 signature (HTML error page, text, random bytes). */
  | 'NOT_NETCDF'
  /** The header or the data it describes ends before the file does. */
  | 'TRUNCATED'
  /** A header field has a value the format does not allow. */
  | 'BAD_HEADER'
  /** A count, size or offset is larger than the file (or a sane bound) allows. */
  | 'ABSURD_SIZE'
  /** A data offset points past the end of the file. */
  | 'OFFSET_PAST_EOF'
  /** A valid feature this library does not read (e.g. compound types). */
  | 'UNSUPPORTED'
  /** The HDF5 library rejected the file. */
  | 'HDF5';

/**
 * A file is not valid (or not supported) NetCDF. `path` names the byte source
 * (file path, s3://bucket/key or URL), `offset` the byte position when known,
 * `field` the header element being decoded (e.g. `variables[3].begin`).
 */
export class NetcdfFormatError extends InvalidError {
  constructor(
    readonly code: NetcdfFormatErrorCode,
    message: string,
    readonly path: string,
    readonly offset?: number,
    readonly field?: string,
  ) {
    super(
      `${path}: ${message}${offset === undefined ? '' : ` (at byte ${offset})`}${field ? ` [${field}]` : ''}`,
      [{ field: field ?? 'file', message }],
    );
  }
}

/** A read from a byte source failed (I/O error, HTTP status, range past the end). */
export type ByteSourceErrorCode = 'IO' | 'OUT_OF_RANGE' | 'RANGE_NOT_SUPPORTED' | 'TOO_LARGE';

export class ByteSourceError extends UnavailableError {
  constructor(
    readonly code: ByteSourceErrorCode,
    message: string,
    readonly path: string,
    readonly offset?: number,
  ) {
    super(`${path}: ${message}`);
  }
}

/** The byte source (file, object, URL) does not exist. */
export class ByteSourceNotFoundError extends NotFoundError {
  constructor(readonly path: string) {
    super(`${path}: not found`);
  }
}

/** A hyperslab request that is malformed for the variable (rank, bounds, stride). */
export class SelectionError extends InvalidError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`, [{ field: variable, message }]);
  }
}

/** A hyperslab whose result would exceed the caller's size limit; says how big it is. */
export class SelectionTooLargeError extends TooLargeError {
  constructor(
    readonly variable: string,
    readonly estimatedBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `${variable}: the selection is ${estimatedBytes} bytes, over the ${limitBytes}-byte limit; ` +
        'read it in pieces (readChunks) or select a smaller start/count',
    );
  }
}

export type CfErrorCode = 'BAD_UNITS' | 'UNKNOWN_CALENDAR' | 'BAD_DATE' | 'BAD_VALUE' | 'UNSUPPORTED';

/** CF metadata that cannot be decoded: `variable`/`attribute` say where. */
export class CfError extends InvalidError {
  constructor(
    readonly code: CfErrorCode,
    message: string,
    readonly variable?: string,
    readonly attribute?: string,
  ) {
    const where = variable ? `${variable}${attribute ? `:${attribute}` : ''}` : attribute;
    super(where ? `${where}: ${message}` : message, [{ field: where ?? 'cf', message }]);
  }
}

/** One non-conforming part of a DRS path or filename. */
export interface DrsProblem {
  /** `directory`, `filename`, or a DRS part such as `ensemble`, `time_frequency`, `version`. */
  part: string;
  /** What was found ('' when missing). */
  value: string;
  message: string;
}

/** A path or filename that does not follow the CMIP5/CORDEX DRS; `problems` lists each wrong part. */
export class DrsError extends InvalidError {
  constructor(
    readonly path: string,
    readonly problems: DrsProblem[],
  ) {
    super(
      `${path}: ${problems.map((p) => `${p.part} ${JSON.stringify(p.value)}: ${p.message}`).join('; ')}`,
      [...problems.map((p) => ({ field: p.part, message: p.message }))],
    );
  }
}

/** A NetCDF-3 writer used out of order or with data that does not fit the schema. */
export class NetcdfWriteError extends InvalidError {
  constructor(message: string, field = 'writer') {
    super(message, [{ field, message }]);
  }
}
