/**
 * Streaming NetCDF-3 writer (classic, 64-bit offset, CDF-5). The header is
 * computed from the schema and written first; data then follows in file order
 * (non-record variables, then record by record), so nothing needs to be held
 * in memory and the target can be any Writable. Slots not written get the
 * variable's fill value.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { NetcdfWriteError } from '../errors';
import type { BufferLender } from '../io/buffer-pool';
import { copyBytes } from '../io/copy-bytes';
import { ARRAY_TYPES, TYPE_SIZE, type NcArray, type NcType } from '../model';
import { swapToNative } from './byte-swap';
import { MAX_NAME_BYTES, NC_ATTRIBUTE, NC_DIMENSION, NC_VARIABLE, pad4 } from './header';

export type Netcdf3Format = 'classic' | '64bit-offset' | 'cdf5';
export type Cdf3Type = Exclude<NcType, 'string'>;

/** Values accepted for attributes and data. `string` is for `char`. */
export type WritableValues = string | NcArray | readonly number[] | readonly bigint[];

export interface AttributeInput {
  name: string;
  /** Inferred when omitted: string → char, number[] → double, typed arrays by their element type. */
  type?: Cdf3Type;
  value: WritableValues | number;
}

export interface DimensionInput {
  name: string;
  /** Fixed length; ignored for the unlimited dimension. */
  length: number;
  unlimited?: boolean;
}

export interface VariableInput {
  name: string;
  type: Cdf3Type;
  dimensions: string[];
  attributes?: AttributeInput[];
}

export interface Netcdf3Schema {
  format?: Netcdf3Format;
  dimensions: DimensionInput[];
  variables: VariableInput[];
  globalAttributes?: AttributeInput[];
  /** Number of records (length of the unlimited dimension); required when there is one. */
  numRecords?: number;
}

const CODES: Record<Cdf3Type, number> = {
  byte: 1,
  char: 2,
  short: 3,
  int: 4,
  float: 5,
  double: 6,
  ubyte: 7,
  ushort: 8,
  uint: 9,
  int64: 10,
  uint64: 11,
};

/** netCDF-C's default fill values (NC_FILL_*). */
export const DEFAULT_FILL: Record<Cdf3Type, number | bigint> = {
  byte: -127,
  char: 0,
  short: -32767,
  int: -2147483647,
  float: 9.969209968386869e36,
  double: 9.969209968386869e36,
  ubyte: 255,
  ushort: 65535,
  uint: 4294967295,
  int64: -9223372036854775806n,
  uint64: 18446744073709551614n,
};

const NAME_START = /^[\p{L}\p{N}_]/u;
const hasControlOrSlash = (name: string): boolean =>
  [...name].some((c) => c === '/' || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function inferType(value: AttributeInput['value']): Cdf3Type {
  if (typeof value === 'string') return 'char';
  if (typeof value === 'number') return 'double';
  if (value instanceof Int8Array) return 'byte';
  if (value instanceof Uint8Array) return 'ubyte';
  if (value instanceof Int16Array) return 'short';
  if (value instanceof Uint16Array) return 'ushort';
  if (value instanceof Int32Array) return 'int';
  if (value instanceof Uint32Array) return 'uint';
  if (value instanceof Float32Array) return 'float';
  if (value instanceof BigInt64Array) return 'int64';
  if (value instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(value) && typeof value[0] === 'bigint') return 'int64';
  return 'double';
}

/** Big-endian bytes of `values` as `type` (numbers are converted like a C cast). */
export function encodeValues(type: Cdf3Type, values: WritableValues | number): Uint8Array {
  if (type === 'char') {
    if (typeof values === 'string') return new TextEncoder().encode(values);
    if (values instanceof Uint8Array || values instanceof Int8Array)
      return new Uint8Array(values.buffer, values.byteOffset, values.length).slice();
    if (typeof values === 'number') return Uint8Array.of(values);
    if (Array.isArray(values) && values.every((x) => typeof x === 'number'))
      return Uint8Array.from(values as readonly number[]);
    throw new NetcdfWriteError('char values must be a string or bytes');
  }
  if (typeof values === 'string') throw new NetcdfWriteError(`a string cannot be written as ${type}`);
  const list: ArrayLike<number | bigint> = typeof values === 'number' ? [values] : values;
  const size = TYPE_SIZE[type];
  const out = new Uint8Array(list.length * size);
  // Fast path: same element type, copy and byte-swap natively.
  if (values instanceof ARRAY_TYPES[type]) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    swapToNative(out, size);
    return out;
  }
  const dv = new DataView(out.buffer);
  const set = SETTERS[type];
  for (let i = 0; i < list.length; i++) set(dv, i * size, list[i] as number | bigint);
  return out;
}

type Setter = (dv: DataView, at: number, v: number | bigint) => void;
const toBigInt = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));

/** Big-endian DataView stores, numbers converted like a C cast. */
const SETTERS: Record<Exclude<Cdf3Type, 'char'>, Setter> = {
  byte: (dv, at, v) => dv.setInt8(at, Number(v)),
  ubyte: (dv, at, v) => dv.setUint8(at, Number(v)),
  short: (dv, at, v) => dv.setInt16(at, Number(v)),
  ushort: (dv, at, v) => dv.setUint16(at, Number(v)),
  int: (dv, at, v) => dv.setInt32(at, Number(v)),
  uint: (dv, at, v) => dv.setUint32(at, Number(v)),
  float: (dv, at, v) => dv.setFloat32(at, Number(v)),
  double: (dv, at, v) => dv.setFloat64(at, Number(v)),
  int64: (dv, at, v) => dv.setBigInt64(at, toBigInt(v)),
  uint64: (dv, at, v) => dv.setBigUint64(at, toBigInt(v)),
};

/** Where each variable's data goes (the same numbers netCDF-C computes). */
export interface Netcdf3Layout {
  headerBytes: number;
  recordBytes: number;
  recordBegin: number;
  fileBytes: number;
  variables: {
    name: string;
    type: Cdf3Type;
    record: boolean;
    begin: number;
    /** Bytes of one record slab or of the whole variable, unpadded. */
    sliceBytes: number;
    /** Bytes reserved (padded to 4, except a lone record variable). */
    slotBytes: number;
    fill: Uint8Array;
  }[];
}

class HeaderBuilder {
  private chunks: Uint8Array[] = [];
  length = 0;
  constructor(private readonly version: 1 | 2 | 5) {}
  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.push(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    this.push(b);
  }
  count(v: number): void {
    if (this.version === 5) this.u64(v);
    else this.u32(v);
  }
  offset(v: number): void {
    if (this.version === 1) this.u32(v);
    else this.u64(v);
  }
  bytes(b: Uint8Array): void {
    this.push(b);
    const pad = pad4(b.length) - b.length;
    if (pad) this.push(new Uint8Array(pad));
  }
  name(n: string): void {
    const b = new TextEncoder().encode(n.normalize('NFC'));
    this.count(b.length);
    this.bytes(b);
  }
  /** Start of a dimension/attribute/variable list: its tag and length, or ABSENT (two zeros) when empty. */
  list(tag: number, length: number): void {
    this.u32(length === 0 ? 0 : tag);
    this.count(length);
  }
  attributes(attrs: AttributeInput[]): void {
    this.list(NC_ATTRIBUTE, attrs.length);
    for (const a of attrs) {
      const type = a.type ?? inferType(a.value);
      this.name(a.name);
      this.u32(CODES[type]);
      const bytes = encodeValues(type, a.value);
      this.count(bytes.length / TYPE_SIZE[type]);
      this.bytes(bytes);
    }
  }
  build(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function checkName(name: string, what: string): void {
  if (
    !NAME_START.test(name) ||
    hasControlOrSlash(name) ||
    name !== name.trimEnd() ||
    new TextEncoder().encode(name).length > MAX_NAME_BYTES
  )
    throw new NetcdfWriteError(`invalid ${what} name ${JSON.stringify(name)}`, what);
}

/** Computes the header bytes and the layout of a schema (validating it). */
export function planNetcdf3(schema: Netcdf3Schema): { header: Uint8Array; layout: Netcdf3Layout } {
  const format = schema.format ?? 'classic';
  const version = format === 'classic' ? 1 : format === '64bit-offset' ? 2 : 5;
  const dims = schema.dimensions;
  const dimIndex = new Map<string, number>();
  let unlimited = -1;
  dims.forEach((d, i) => {
    checkName(d.name, 'dimension');
    if (dimIndex.has(d.name)) throw new NetcdfWriteError(`duplicate dimension ${d.name}`, 'dimension');
    dimIndex.set(d.name, i);
    if (d.unlimited) {
      if (unlimited >= 0) throw new NetcdfWriteError('NetCDF-3 allows one unlimited dimension', 'dimension');
      unlimited = i;
    } else if (!Number.isSafeInteger(d.length) || d.length < 1)
      throw new NetcdfWriteError(`dimension ${d.name} needs a length >= 1 (or unlimited: true)`, 'dimension');
  });
  const numRecords = unlimited >= 0 ? (schema.numRecords ?? -1) : 0;
  if (!Number.isSafeInteger(numRecords) || numRecords < 0)
    throw new NetcdfWriteError('numRecords is required (>= 0) when a dimension is unlimited', 'numRecords');
  if (version !== 5 && numRecords > 0x7fffffff) throw new NetcdfWriteError('too many records', 'numRecords');

  const names = new Set<string>();
  const vars = schema.variables.map((v) => {
    checkName(v.name, 'variable');
    if (names.has(v.name)) throw new NetcdfWriteError(`duplicate variable ${v.name}`, 'variable');
    names.add(v.name);
    if (version !== 5 && CODES[v.type] > 6)
      throw new NetcdfWriteError(`type ${v.type} of ${v.name} needs the cdf5 format`, `variables.${v.name}`);
    const ids = v.dimensions.map((d, i) => {
      const id = dimIndex.get(d);
      if (id === undefined)
        throw new NetcdfWriteError(`${v.name}: unknown dimension ${d}`, `variables.${v.name}`);
      if (id === unlimited && i !== 0)
        throw new NetcdfWriteError(
          `${v.name}: the unlimited dimension must come first`,
          `variables.${v.name}`,
        );
      return id;
    });
    for (const a of v.attributes ?? []) checkAttribute(a, version, v.name);
    const record = ids.length > 0 && ids[0] === unlimited;
    let elements = 1;
    for (let i = record ? 1 : 0; i < ids.length; i++)
      elements *= (dims[ids[i] as number] as DimensionInput).length;
    return { input: v, ids, record, sliceBytes: elements * TYPE_SIZE[v.type] };
  });
  for (const a of schema.globalAttributes ?? []) checkAttribute(a, version, 'global');

  const recordVars = vars.filter((v) => v.record);
  const lone = recordVars.length === 1;
  const slot = (v: (typeof vars)[number]): number => (v.record && lone ? v.sliceBytes : pad4(v.sliceBytes));

  const build = (begins: number[]): Uint8Array => {
    const h = new HeaderBuilder(version);
    h.bytes(new Uint8Array([0x43, 0x44, 0x46, version]));
    h.count(numRecords);
    h.list(NC_DIMENSION, dims.length);
    for (const d of dims) {
      h.name(d.name);
      h.count(d.unlimited ? 0 : d.length);
    }
    h.attributes(schema.globalAttributes ?? []);
    h.list(NC_VARIABLE, vars.length);
    vars.forEach((v, i) => {
      h.name(v.input.name);
      h.count(v.ids.length);
      for (const id of v.ids) h.count(id);
      h.attributes(v.input.attributes ?? []);
      h.u32(CODES[v.input.type]);
      const vsize = pad4(v.sliceBytes);
      h.count(version === 5 ? vsize : Math.min(vsize, 0xffffffff));
      h.offset(begins[i] ?? 0);
    });
    return h.build();
  };

  const headerBytes = build([]).length;
  const begins: number[] = new Array<number>(vars.length).fill(0);
  let at = headerBytes;
  vars.forEach((v, i) => {
    if (v.record) return;
    begins[i] = at;
    at += slot(v);
  });
  const recordBegin = at;
  let recordBytes = 0;
  vars.forEach((v, i) => {
    if (!v.record) return;
    begins[i] = recordBegin + recordBytes;
    recordBytes += slot(v);
  });
  const fileBytes = recordBegin + recordBytes * numRecords;
  const maxOffset = version === 1 ? 0x7fffffff : Number.MAX_SAFE_INTEGER;
  vars.forEach((v, i) => {
    if ((begins[i] as number) > maxOffset)
      throw new NetcdfWriteError(
        `${v.input.name} starts beyond 2 GiB: use the 64bit-offset format`,
        'format',
      );
    const last = i === vars.length - 1 || (v.record ? v === recordVars[recordVars.length - 1] : false);
    if (version !== 5 && !last && pad4(v.sliceBytes) > (version === 1 ? 0x7ffffffc : 0xfffffffc))
      throw new NetcdfWriteError(`${v.input.name} is too large for ${format} (use cdf5)`, 'format');
  });
  const header = build(begins);
  const layout: Netcdf3Layout = {
    headerBytes,
    recordBytes,
    recordBegin,
    fileBytes,
    variables: vars.map((v, i) => ({
      name: v.input.name,
      type: v.input.type,
      record: v.record,
      begin: begins[i] as number,
      sliceBytes: v.sliceBytes,
      slotBytes: slot(v),
      fill: fillBytes(v.input),
    })),
  };
  return { header, layout };
}

function checkAttribute(a: AttributeInput, version: 1 | 2 | 5, owner: string): void {
  checkName(a.name, 'attribute');
  const type = a.type ?? inferType(a.value);
  if (version !== 5 && CODES[type] > 6)
    throw new NetcdfWriteError(
      `attribute ${owner}:${a.name} of type ${type} needs the cdf5 format`,
      `${owner}.${a.name}`,
    );
}

function fillBytes(v: VariableInput): Uint8Array {
  const fill = v.attributes?.find((a) => a.name === '_FillValue');
  if (fill) {
    const type = fill.type ?? inferType(fill.value);
    if (type !== v.type)
      throw new NetcdfWriteError(`${v.name}:_FillValue must have the variable's type ${v.type}`);
    const bytes = encodeValues(v.type, fill.value);
    if (bytes.length !== TYPE_SIZE[v.type])
      throw new NetcdfWriteError(`${v.name}:_FillValue must be one value`);
    return bytes;
  }
  const d = DEFAULT_FILL[v.type];
  return encodeValues(v.type, typeof d === 'bigint' ? [d] : [d]);
}

interface Sink {
  /** `lent`: a staging buffer of the writer's lender, given back once the target wrote it. */
  write(bytes: Uint8Array, lent?: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface Netcdf3WriterOptions {
  /**
   * Staging buffers borrowed from this lender and given back in each write's
   * callback, instead of a fresh 1 MiB per flush. Only for a target whose write
   * callback means the bytes are written out (a socket, an HTTP response), not
   * one that may still hold them (a PassThrough queues them for its reader).
   */
  buffers?: BufferLender;
  /** Told the length of each write to a stream target once it is done. */
  onWritten?: (bytes: number) => void;
}

function streamSink(stream: Writable, options: Netcdf3WriterOptions): Sink {
  const { buffers, onWritten } = options;
  return {
    async write(bytes, lent) {
      const done =
        lent || onWritten
          ? (error?: Error | null) => {
              if (error) return;
              onWritten?.(bytes.length);
              if (lent) buffers?.release(lent);
            }
          : undefined;
      // A lent buffer needs no 'drain': the lender paces the writer (acquire waits while all
      // its buffers are on their way), and waiting for an empty queue left the socket idle.
      if (!stream.write(bytes, done) && !lent) await once(stream, 'drain');
    },
    async close() {
      stream.end();
      await once(stream, 'finish');
    },
  };
}

function fileSink(handle: FileHandle): Sink {
  return {
    async write(bytes) {
      let done = 0;
      while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
    },
    async close() {
      await handle.close();
    },
  };
}

const FLUSH_BYTES = 1 << 20;
/** `writeRaw` copies bytes shorter than this into its own buffer: the caller may then reuse them. */
export const WRITE_RAW_COPIES_BELOW = FLUSH_BYTES;

/**
 * Writes a NetCDF-3 file slot by slot. Call `write(name, values)` in file
 * order (non-record variables, then for each record each record variable);
 * values may arrive in several pieces. Skipped slots are filled.
 */
export class Netcdf3Writer {
  private slot = 0;
  private filled = 0;
  private pending: Uint8Array | undefined;
  /** Whether `pending` is a buffer of the lender (given back by the sink once written). */
  private pendingLent = false;
  private pendingBytes = 0;
  private closed = false;
  private readonly nonRecord: number[];
  private readonly recordVars: number[];

  private constructor(
    private readonly sink: Sink,
    readonly layout: Netcdf3Layout,
    readonly numRecords: number,
    private readonly buffers?: BufferLender,
  ) {
    this.nonRecord = layout.variables.flatMap((v, i) => (v.record ? [] : [i]));
    this.recordVars = layout.variables.flatMap((v, i) => (v.record ? [i] : []));
  }

  /** Validates the schema, writes the header and returns a writer positioned at the first data slot. */
  static async create(
    target: string | Writable,
    schema: Netcdf3Schema,
    options: Netcdf3WriterOptions = {},
  ): Promise<Netcdf3Writer> {
    const { header, layout } = planNetcdf3(schema);
    const sink = typeof target === 'string' ? fileSink(await open(target, 'w')) : streamSink(target, options);
    const buffers = typeof target === 'string' ? undefined : options.buffers;
    if (buffers && buffers.bufferBytes < FLUSH_BYTES)
      throw new NetcdfWriteError(
        `staging buffers must hold ${FLUSH_BYTES} bytes (not ${buffers.bufferBytes})`,
      );
    const writer = new Netcdf3Writer(sink, layout, schema.numRecords ?? 0, buffers);
    await writer.emit(header);
    return writer;
  }

  private variableAt(index: number): Netcdf3Layout['variables'][number] {
    return this.layout.variables[index] as Netcdf3Layout['variables'][number];
  }

  private get totalSlots(): number {
    return this.nonRecord.length + this.recordVars.length * this.numRecords;
  }

  /** Variable index and record of slot `s`. */
  private slotAt(s: number): { variable: number; record: number } {
    if (s < this.nonRecord.length) return { variable: this.nonRecord[s] as number, record: -1 };
    const r = s - this.nonRecord.length;
    return {
      variable: this.recordVars[r % this.recordVars.length] as number,
      record: Math.floor(r / this.recordVars.length),
    };
  }

  /** The variable (and record) the next `write` must target, or undefined when all data is written. */
  get next(): { variable: string; record: number } | undefined {
    if (this.slot >= this.totalSlots) return undefined;
    const s = this.slotAt(this.slot);
    return {
      variable: this.variableAt(s.variable).name,
      record: s.record,
    };
  }

  /**
   * Appends values to the current slot of `variable` (skipping, with fill
   * values, untouched slots of variables before it). `record` (optional)
   * asserts which record is being written.
   */
  async write(variable: string, values: WritableValues, record?: number): Promise<void> {
    return this.put(variable, record, (type) => encodeValues(type, values));
  }

  /**
   * Like `write`, with the values given as their big-endian bytes, as a
   * NetCDF-3 file stores them (a hyperslab copied from one): no decoding or
   * encoding. The bytes may be handed to the target as they are, so the
   * caller must not change them afterwards, unless they are fewer than
   * {@link WRITE_RAW_COPIES_BELOW} (then they are copied before this returns).
   */
  async writeRaw(variable: string, bytes: Uint8Array, record?: number): Promise<void> {
    return this.put(variable, record, (type) => {
      if (bytes.length % TYPE_SIZE[type] !== 0)
        throw new NetcdfWriteError(
          `${variable}: ${bytes.length} bytes are not a whole number of ${type} values`,
          variable,
        );
      return bytes;
    });
  }

  private async put(
    variable: string,
    record: number | undefined,
    encode: (type: Cdf3Type) => Uint8Array,
  ): Promise<void> {
    if (this.closed) throw new NetcdfWriteError('write after close');
    const target = this.layout.variables.findIndex((v) => v.name === variable);
    if (target < 0) throw new NetcdfWriteError(`no variable ${variable} in the schema`, variable);
    const targetSlot = this.findSlot(target, record);
    if (targetSlot < 0)
      throw new NetcdfWriteError(
        `${variable}${record === undefined ? '' : ` record ${record}`}: already written or beyond the last record (data must come in file order)`,
        variable,
      );
    if (targetSlot > this.slot && this.filled > 0) {
      const cur = this.slotAt(this.slot);
      const v = this.variableAt(cur.variable);
      throw new NetcdfWriteError(
        `${variable}: ${v.name}${cur.record >= 0 ? ` record ${cur.record}` : ''} is only partly written (${this.filled} of ${v.sliceBytes} bytes)`,
        variable,
      );
    }
    while (this.slot < targetSlot) await this.fillSlot();
    const v = this.variableAt(target);
    const bytes = encode(v.type);
    // Values may run on into following records when nothing lies between them
    // (a lone record variable); otherwise they must fit in this slot.
    const lone = v.record && this.recordVars.length === 1;
    const room = lone
      ? (this.totalSlots - this.slot) * v.sliceBytes - this.filled
      : v.sliceBytes - this.filled;
    if (bytes.length > room)
      throw new NetcdfWriteError(
        `${variable}: ${bytes.length} bytes do not fit in the ${room} bytes left of this ${v.record ? 'record' : 'variable'}`,
        variable,
      );
    for (let at = 0; at < bytes.length;) {
      const n = Math.min(bytes.length - at, v.sliceBytes - this.filled);
      await this.emit(bytes.subarray(at, at + n));
      at += n;
      this.filled += n;
      if (this.filled === v.sliceBytes) await this.finishSlot();
    }
  }

  /** Fills the rest of a partly written slot with the fill value (no-op when none is open). */
  async completeSlot(): Promise<void> {
    if (this.filled > 0) await this.fillSlot();
  }

  /** First slot at or after the current one holding `variable` (and `record` when given); -1 if none. */
  private findSlot(variable: number, record?: number): number {
    const nr = this.nonRecord.length;
    const rv = this.recordVars.length;
    if (!this.variableAt(variable).record) {
      const s = this.nonRecord.indexOf(variable);
      return s >= this.slot ? s : -1;
    }
    const pos = this.recordVars.indexOf(variable);
    let s: number;
    if (record !== undefined) {
      if (!Number.isSafeInteger(record) || record < 0 || record >= this.numRecords) return -1;
      s = nr + record * rv + pos;
    } else {
      const first = nr + pos;
      s = this.slot <= first ? first : first + Math.ceil((this.slot - first) / rv) * rv;
    }
    return s >= this.slot && s < this.totalSlots ? s : -1;
  }

  /** Fills the rest of the current slot with the fill value and moves on. */
  private async fillSlot(): Promise<void> {
    const s = this.slotAt(this.slot);
    const v = this.variableAt(s.variable);
    const remaining = v.sliceBytes - this.filled;
    const size = v.fill.length;
    const block = new Uint8Array(Math.min(remaining, FLUSH_BYTES - (FLUSH_BYTES % size)));
    for (let i = 0; i < block.length; i += size) block.set(v.fill, i);
    for (let left = remaining; left > 0; left -= block.length)
      await this.emit(block.subarray(0, Math.min(left, block.length)));
    this.filled = v.sliceBytes;
    await this.finishSlot();
  }

  private async finishSlot(): Promise<void> {
    const s = this.slotAt(this.slot);
    const v = this.variableAt(s.variable);
    const pad = v.slotBytes - v.sliceBytes;
    if (pad > 0) await this.emit(new Uint8Array(pad));
    this.slot++;
    this.filled = 0;
  }

  private async emit(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= FLUSH_BYTES) {
      await this.flush();
      await this.sink.write(bytes);
      return;
    }
    // Small pieces are copied into one staging buffer: the caller may reuse its bytes.
    if (this.pendingBytes + bytes.length > FLUSH_BYTES) await this.flush();
    if (!this.pending) {
      const lent = this.buffers ? await this.buffers.acquire() : undefined;
      this.pending = lent
        ? new Uint8Array(lent.buffer, lent.byteOffset, FLUSH_BYTES)
        : new Uint8Array(Buffer.allocUnsafeSlow(FLUSH_BYTES).buffer, 0, FLUSH_BYTES);
      this.pendingLent = lent !== undefined;
    }
    copyBytes(this.pending, bytes, this.pendingBytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes === FLUSH_BYTES) await this.flush();
  }

  /**
   * Sends what is staged now instead of when a staging buffer is full: for a caller about to
   * wait for its next values, so the target is not left idle meanwhile.
   */
  async flush(): Promise<void> {
    if (this.pendingBytes === 0 || !this.pending) return;
    const out = this.pending.subarray(0, this.pendingBytes);
    // The target may keep `out` until it is written: the next piece goes to another buffer
    // (a lent one comes back to the lender in the write's callback).
    const lent = this.pendingLent ? this.pending : undefined;
    this.pending = undefined;
    this.pendingBytes = 0;
    await this.sink.write(out, lent);
  }

  /** Fills every slot not written yet, flushes and closes the target. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.filled > 0) await this.fillSlot();
    while (this.slot < this.totalSlots) await this.fillSlot();
    this.closed = true;
    await this.flush();
    await this.sink.close();
  }
}

/** In-memory data for `writeNetcdf3`: whole variables (record variables: all records, record-major). */
export type Netcdf3Data = Record<string, WritableValues>;

/** Writes a whole small dataset (fixtures, demo files, NCSS results that fit in memory). */
export async function writeNetcdf3(
  target: string | Writable,
  schema: Netcdf3Schema,
  data: Netcdf3Data,
): Promise<void> {
  const writer = await Netcdf3Writer.create(target, schema);
  const numRecords = schema.numRecords ?? 0;
  for (const v of writer.layout.variables) {
    const values = data[v.name];
    if (values === undefined || v.record) continue;
    await writer.write(v.name, typeof values === 'string' ? padChars(values, v.sliceBytes) : values);
    await writer.completeSlot();
  }
  for (let r = 0; r < numRecords; r++) {
    for (const v of writer.layout.variables) {
      const values = data[v.name];
      if (values === undefined || !v.record) continue;
      const per = v.sliceBytes / TYPE_SIZE[v.type];
      if (typeof values === 'string') {
        const bytes = padChars(values, per * numRecords);
        await writer.write(v.name, bytes.subarray(r * per, (r + 1) * per), r);
      } else {
        const part = (values as NcArray).slice(r * per, (r + 1) * per);
        if (part.length > 0) await writer.write(v.name, part, r);
      }
      await writer.completeSlot();
    }
  }
  await writer.close();
}

/** UTF-8 bytes of `text`, NUL-padded (or cut) to `length`. */
export function padChars(text: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const bytes = new TextEncoder().encode(text);
  out.set(bytes.subarray(0, length));
  return out;
}

/** Strings as a NUL-padded `char` array of `strings.length × length` bytes (e.g. station names). */
export function stringsToChars(strings: readonly string[], length: number): Uint8Array {
  const out = new Uint8Array(strings.length * length);
  strings.forEach((s, i) => out.set(padChars(s, length), i * length));
  return out;
}
