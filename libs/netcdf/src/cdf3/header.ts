/**
 * NetCDF-3 header parser (CDF-1 classic, CDF-2 64-bit offset, CDF-5) written
 * against the format specification
 * (https://docs.unidata.ucar.edu/netcdf-c/current/file_format_specifications.html).
 * It works on a prefix of the file: when the prefix ends early it asks for
 * more bytes (`NeedMoreBytes`), so only the header is ever read. Every count
 * and size is checked against the file size before anything is allocated.
 */
import { NetcdfFormatError } from '../errors';
import { TYPE_SIZE, viewArray, type NcAttribute, type NcDimension, type NcType } from '../model';
import { swapToNative } from './byte-swap';

export const NC_DIMENSION = 10;
export const NC_VARIABLE = 11;
export const NC_ATTRIBUTE = 12;
/** NC_MAX_NAME in netCDF-C. */
export const MAX_NAME_BYTES = 256;
export const STREAMING = 0xffffffff;
/** Counts needing more than this are called absurd rather than truncated. */
const PLAUSIBLE_BYTES = 1 << 26;

/** nc_type codes of the NetCDF-3 formats (7..11 are CDF-5 only). */
export const NC_TYPE_CODES: Record<number, NcType> = {
  1: 'byte',
  2: 'char',
  3: 'short',
  4: 'int',
  5: 'float',
  6: 'double',
  7: 'ubyte',
  8: 'ushort',
  9: 'uint',
  10: 'int64',
  11: 'uint64',
};

export type Cdf3Version = 1 | 2 | 5;

export interface Cdf3VariableLayout {
  name: string;
  type: Exclude<NcType, 'string'>;
  dimIds: number[];
  attributes: NcAttribute[];
  /** Offset of the data (first record for record variables). */
  begin: number;
  /** vsize as stored (2^32 - 1 for variables past 4 GiB in CDF-1/2; informative only). */
  vsize: number;
  record: boolean;
  /** Bytes of one record (record variables) or of the whole variable (unpadded). */
  sliceBytes: number;
}

export interface Cdf3Header {
  version: Cdf3Version;
  numrecs: number;
  /** numrecs was STREAMING (0xFFFFFFFF) and has been computed from the file size. */
  streaming: boolean;
  dimensions: NcDimension[];
  recordDimId: number;
  globalAttributes: NcAttribute[];
  variables: Cdf3VariableLayout[];
  /** Bytes the header occupies. */
  headerBytes: number;
  /** Bytes per record across all record variables (netCDF-C's recsize). */
  recordBytes: number;
  /** Offset of the first record. */
  recordBegin: number;
}

/** Internal signal: the parser needs at least `needed` bytes of the file. */
export class NeedMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`header parser needs ${needed} bytes`);
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Loose = new TextDecoder('utf-8');

class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    readonly fileSize: number,
    readonly path: string,
    readonly version: Cdf3Version,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(code: NetcdfFormatError['code'], message: string, field: string, offset = this.pos): never {
    throw new NetcdfFormatError(code, message, this.path, offset, field);
  }

  need(n: number, field: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (end > this.fileSize)
      this.fail('TRUNCATED', `header ends early: needs ${end} bytes, file has ${this.fileSize}`, field);
    throw new NeedMoreBytes(end);
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): number {
    this.need(8, field);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    if (hi > 0x1fffff) this.fail('ABSURD_SIZE', `64-bit value exceeds 2^53`, field);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  /** NON_NEG count: 32-bit in CDF-1/2 (must be < 2^31), 64-bit in CDF-5. */
  count(field: string): number {
    if (this.version === 5) return this.u64(field);
    const start = this.pos;
    const v = this.u32(field);
    if (v > 0x7fffffff)
      this.fail('ABSURD_SIZE', `count ${v} is negative as a signed 32-bit value`, field, start);
    return v;
  }

  offset(field: string): number {
    return this.version === 1 ? this.u32(field) : this.u64(field);
  }

  /** Rejects counts that could not fit in the rest of the file, before allocating for them. */
  bound(count: number, minBytesEach: number, field: string): void {
    const needed = count * minBytesEach;
    const left = this.fileSize - this.pos;
    if (needed <= left) return;
    // A plausible count in a short file is truncation; a huge one is corruption.
    if (needed <= PLAUSIBLE_BYTES)
      this.fail(
        'TRUNCATED',
        `count ${count} needs ${needed} bytes but the file ends ${left} bytes later`,
        field,
      );
    this.fail('ABSURD_SIZE', `count ${count} cannot fit in the ${left} bytes left in the file`, field);
  }

  name(field: string): string {
    const start = this.pos;
    const len = this.count(`${field}.length`);
    if (len === 0) this.fail('BAD_HEADER', 'empty name', field, start);
    if (len > MAX_NAME_BYTES)
      this.fail('ABSURD_SIZE', `name of ${len} bytes exceeds ${MAX_NAME_BYTES}`, field, start);
    const padded = pad4(len);
    this.need(padded, field);
    let text: string;
    try {
      text = utf8Strict.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      this.fail('BAD_HEADER', 'name is not valid UTF-8', field);
    }
    this.pos += padded;
    return text;
  }

  bytesOf(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Rounds up to a multiple of 4 (safe beyond 2^32, unlike bit tricks). */
export function pad4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}

function ncType(c: Cursor, field: string): Exclude<NcType, 'string'> {
  const start = c.pos;
  const code = c.u32(field);
  const type = NC_TYPE_CODES[code];
  if (!type || (c.version !== 5 && code > 6))
    c.fail(
      'BAD_HEADER',
      `unknown nc_type ${code} for ${c.version === 5 ? 'CDF-5' : `CDF-${c.version}`}`,
      field,
      start,
    );
  return type as Exclude<NcType, 'string'>;
}

/** Reads `ABSENT | tag nelems` and returns nelems (0 when absent). */
function listHeader(c: Cursor, tag: number, field: string): number {
  const start = c.pos;
  const t = c.u32(`${field}.tag`);
  const n = c.count(`${field}.count`);
  if (t === 0) {
    if (n !== 0) c.fail('BAD_HEADER', `absent list with non-zero count ${n}`, field, start);
    return 0;
  }
  if (t !== tag) c.fail('BAD_HEADER', `expected tag ${tag}, found ${t}`, field, start);
  return n;
}

/** Decodes big-endian attribute values into a native typed array. */
export function decodeValues(
  type: Exclude<NcType, 'string' | 'char'>,
  raw: Uint8Array,
  n: number,
): NcAttribute['value'] {
  const size = TYPE_SIZE[type];
  const bytes = raw.slice(0, n * size);
  swapToNative(bytes, size);
  return viewArray(type, bytes.buffer, 0, n);
}

function attributes(c: Cursor, field: string): NcAttribute[] {
  const n = listHeader(c, NC_ATTRIBUTE, field);
  c.bound(n, 16, `${field}.count`);
  const out: NcAttribute[] = [];
  for (let i = 0; i < n; i++) {
    const f = `${field}[${i}]`;
    const nameAt = c.pos;
    const name = c.name(`${f}.name`);
    if (out.some((a) => a.name === name))
      c.fail('BAD_HEADER', `duplicate attribute name "${name}"`, `${f}.name`, nameAt);
    const type = ncType(c, `${name}.type`);
    const nelems = c.count(`${name}.nelems`);
    const size = TYPE_SIZE[type];
    c.bound(nelems, size, `${name}.nelems`);
    const raw = c.bytesOf(pad4(nelems * size), `${name}.values`);
    if (type === 'char') {
      let end = nelems;
      while (end > 0 && raw[end - 1] === 0) end--;
      out.push({ name, type, value: utf8Loose.decode(raw.subarray(0, end)) });
    } else {
      out.push({ name, type, value: decodeValues(type, raw, nelems) });
    }
  }
  return out;
}

/**
 * Parses a NetCDF-3 header from `bytes` (a prefix of a `fileSize`-byte file).
 * Throws NeedMoreBytes when the prefix is too short, NetcdfFormatError when the
 * header is invalid.
 */
export function parseCdf3Header(bytes: Uint8Array, fileSize: number, path: string): Cdf3Header {
  if (fileSize === 0) throw new NetcdfFormatError('EMPTY', 'file is empty (0 bytes)', path, 0);
  if (bytes.length < 4 && bytes.length < fileSize) throw new NeedMoreBytes(Math.min(4, fileSize));
  if (bytes[0] !== 0x43 || bytes[1] !== 0x44 || bytes[2] !== 0x46)
    throw new NetcdfFormatError('NOT_NETCDF', describeSignature(bytes), path, 0, 'magic');
  const v = bytes[3];
  if (v !== 1 && v !== 2 && v !== 5)
    throw new NetcdfFormatError('BAD_HEADER', `unknown CDF version byte ${v ?? 'missing'}`, path, 3, 'magic');
  const version: Cdf3Version = v;
  const c = new Cursor(bytes, fileSize, path, version);
  c.pos = 4;

  const numrecsRaw = version === 5 ? c.u64('numrecs') : c.u32('numrecs');
  const streaming = version !== 5 && numrecsRaw === STREAMING;
  if (!streaming && version !== 5 && numrecsRaw > 0x7fffffff)
    c.fail('ABSURD_SIZE', 'numrecs is negative', 'numrecs', 4);

  const ndims = listHeader(c, NC_DIMENSION, 'dimensions');
  c.bound(ndims, 12, 'dimensions.count');
  const dimensions: NcDimension[] = [];
  let recordDimId = -1;
  for (let i = 0; i < ndims; i++) {
    const nameAt = c.pos;
    const name = c.name(`dimensions[${i}].name`);
    if (dimensions.some((d) => d.name === name))
      c.fail('BAD_HEADER', `duplicate dimension name "${name}"`, `dimensions[${i}].name`, nameAt);
    const start = c.pos;
    const length = c.count(`dimensions.${name}.length`);
    if (length === 0) {
      if (recordDimId >= 0)
        c.fail('BAD_HEADER', `second unlimited dimension "${name}"`, `dimensions.${name}`, start);
      recordDimId = i;
    }
    dimensions.push({ name, length, unlimited: length === 0 });
  }

  const globalAttributes = attributes(c, 'globalAttributes');

  const nvars = listHeader(c, NC_VARIABLE, 'variables');
  c.bound(nvars, 28, 'variables.count');
  const variables: Cdf3VariableLayout[] = [];
  const beginFieldAt: number[] = [];
  for (let i = 0; i < nvars; i++) {
    const nameAt = c.pos;
    const name = c.name(`variables[${i}].name`);
    if (variables.some((v) => v.name === name))
      c.fail('BAD_HEADER', `duplicate variable name "${name}"`, `variables[${i}].name`, nameAt);
    const f = `variables.${name}`;
    const rank = c.count(`${f}.ndims`);
    c.bound(rank, version === 5 ? 8 : 4, `${f}.ndims`);
    const dimIds: number[] = [];
    for (let d = 0; d < rank; d++) {
      const start = c.pos;
      const id = c.count(`${f}.dimids[${d}]`);
      if (id >= ndims)
        c.fail('BAD_HEADER', `dimension id ${id} out of range (${ndims} dimensions)`, `${f}.dimids`, start);
      if (id === recordDimId && d !== 0)
        c.fail('BAD_HEADER', 'the unlimited dimension must be the first dimension', `${f}.dimids`, start);
      dimIds.push(id);
    }
    const attrs = attributes(c, `${f}.attributes`);
    const type = ncType(c, `${f}.type`);
    // Unsigned in CDF-1/2: a variable past 2^31 - 1 bytes (the last fixed one, or a record
    // slab) stores its size up to 2^32 - 2, or 2^32 - 1 as a marker past 4 GiB; its size comes
    // from the shape either way (sliceBytes), as netCDF-C computes it.
    const vsize = version === 5 ? c.u64(`${f}.vsize`) : c.u32(`${f}.vsize`);
    const beginAt = c.pos;
    const begin = c.offset(`${f}.begin`);
    const record = dimIds.length > 0 && dimIds[0] === recordDimId;
    let elements = 1;
    for (let d = record ? 1 : 0; d < dimIds.length; d++)
      elements *= (dimensions[dimIds[d] as number] as NcDimension).length;
    const sliceBytes = elements * TYPE_SIZE[type];
    if (!Number.isSafeInteger(sliceBytes))
      c.fail('ABSURD_SIZE', 'variable size overflows', `${f}.shape`, beginAt);
    variables.push({ name, type, dimIds, attributes: attrs, begin, vsize, record, sliceBytes });
    beginFieldAt.push(beginAt);
  }
  const headerBytes = c.pos;

  // netCDF-C's NC_computeshapes: record size is the sum of padded record slabs,
  // except that a lone record variable is packed (no padding between records).
  let recordBytes = 0;
  let firstRecord: Cdf3VariableLayout | undefined;
  for (const v of variables) {
    if (!v.record) continue;
    firstRecord ??= v;
    recordBytes += pad4(v.sliceBytes);
  }
  if (firstRecord && recordBytes === pad4(firstRecord.sliceBytes)) recordBytes = firstRecord.sliceBytes;
  const recordBegin = firstRecord ? firstRecord.begin : 0;

  let numrecs = numrecsRaw;
  if (streaming)
    numrecs =
      recordBytes > 0 && fileSize > recordBegin ? Math.floor((fileSize - recordBegin) / recordBytes) : 0;
  if (recordDimId >= 0) (dimensions[recordDimId] as NcDimension).length = numrecs;
  else if (numrecs !== 0 && !streaming) {
    // netCDF-C ignores numrecs without an unlimited dimension; so do we.
    numrecs = 0;
  }

  for (const [i, v] of variables.entries()) {
    const at = beginFieldAt[i] as number;
    const f = `variables.${v.name}.begin`;
    const dataBytes = v.record
      ? numrecs > 0
        ? (numrecs - 1) * recordBytes + v.sliceBytes
        : 0
      : v.sliceBytes;
    if (dataBytes === 0) continue;
    if (v.begin < headerBytes)
      c.fail('BAD_HEADER', `data offset ${v.begin} lies inside the ${headerBytes}-byte header`, f, at);
    if (v.begin >= fileSize)
      c.fail('OFFSET_PAST_EOF', `data offset ${v.begin} is past the end of the ${fileSize}-byte file`, f, at);
    if (!Number.isSafeInteger(dataBytes) || v.begin + dataBytes > fileSize)
      c.fail(
        'TRUNCATED',
        `data of ${v.name} ends at ${v.begin + dataBytes} but the file has ${fileSize} bytes` +
          (v.record ? ` (${numrecs} records of ${recordBytes} bytes)` : ''),
        f,
        at,
      );
  }

  return {
    version,
    numrecs,
    streaming,
    dimensions,
    recordDimId,
    globalAttributes,
    variables,
    headerBytes,
    recordBytes,
    recordBegin,
  };
}

/** A human hint for a file that is not NetCDF at all. */
export function describeSignature(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'file is empty';
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(64, bytes.length)));
  const trimmed = head.trimStart().toLowerCase();
  if (
    trimmed.startsWith('<!doctype html') ||
    trimmed.startsWith('<html') ||
    trimmed.startsWith('<?xml') ||
    trimmed.startsWith('<')
  )
    return 'not a NetCDF file: it starts with markup (an HTML/XML page saved as .nc?)';
  if (trimmed.startsWith('netcdf ')) return 'not a NetCDF file: it looks like CDL text (run ncgen on it)';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'not a NetCDF file: it is gzip-compressed';
  if (bytes[0] === 0x0e && bytes[1] === 0x03 && bytes[2] === 0x13 && bytes[3] === 0x01)
    return 'not a NetCDF file: it is HDF4';
  const shown = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not a NetCDF file: signature ${shown} is neither "CDF" nor HDF5`;
}
