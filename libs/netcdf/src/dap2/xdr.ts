/**
 * The data part of a `.dods` response: big-endian XDR, streamed chunk by
 * chunk from the reader's hyperslab chunks (memory bounded by the chunk size).
 * Primitive arrays (Byte included) start with their element count twice,
 * String arrays with it once; scalars have no count. Byte data is one byte
 * per element padded to 4, Int16/UInt16 are widened to 4 bytes, a String
 * is its length, its bytes and zero padding to 4.
 */
import type { NetcdfDataset } from '../dataset';
import type { NcArray, NcType } from '../model';
import type { ReadOptions } from '../selection';
import { projectedArrays, type Projected, type ProjectedArray } from './dds';

/** Start/count/stride of the NetCDF variable behind a projected DAP array. */
export function variableSelection(p: ProjectedArray): { start: number[]; count: number[]; stride: number[] } {
  const start = p.slices.map((s) => s.start);
  const count = p.slices.map((s) => s.count);
  const stride = p.slices.map((s) => s.stride);
  if (p.array.variable.type === 'char' && p.array.variable.shape.length > 0) {
    start.push(0);
    count.push(p.array.strlen ?? 0);
    stride.push(1);
  }
  return { start, count, stride };
}

export function elementsOf(p: ProjectedArray): number {
  return p.slices.reduce((n, s) => n * s.count, 1);
}

function uint32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

const ZERO = Buffer.alloc(4);

function pad(length: number): Buffer {
  const extra = (4 - (length % 4)) % 4;
  return ZERO.subarray(0, extra);
}

/**
 * NetCDF types whose stored form (NetCDF-3: big-endian, one byte for bytes)
 * is already their XDR, Byte arrays but for the padding after the last value.
 */
const STORED_IS_XDR: ReadonlySet<NcType> = new Set<NcType>([
  'byte',
  'ubyte',
  'int',
  'uint',
  'float',
  'double',
]);

/**
 * Lets other requests run between chunks: when the next chunk's read has
 * already completed, a stream would otherwise go on in microtasks and many
 * concurrent streams would hold the event loop for whole runs of chunks.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** XDR of one chunk of numeric values (as typed in the file). */
export function encodeNumbers(type: NcType, data: NcArray): Buffer {
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  switch (type) {
    case 'byte':
    case 'ubyte':
    case 'char':
      return Buffer.from(raw);
    case 'short':
    case 'ushort': {
      // Widened by a typed-array copy (sign- or zero-extending as the source type says), then swapped:
      // several times faster than writing each value.
      const out = Buffer.allocUnsafeSlow(data.length * 4);
      const wide = type === 'short' ? Int32Array : Uint32Array;
      new wide(out.buffer, out.byteOffset, data.length).set(data as Int16Array);
      return out.swap32();
    }
    case 'int':
    case 'uint':
    case 'float': {
      const out = Buffer.allocUnsafe(raw.length);
      raw.copy(out);
      return out.swap32();
    }
    case 'double': {
      const out = Buffer.allocUnsafe(raw.length);
      raw.copy(out);
      return out.swap64();
    }
    default:
      throw new Error(`no DAP2 encoding for ${type}`);
  }
}

/** XDR of strings: length, UTF-8 bytes, zero padding, each. */
export function encodeStrings(strings: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of strings) {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
    parts.push(uint32(bytes.length), bytes, pad(bytes.length));
  }
  return Buffer.concat(parts);
}

function trimNul(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul >= 0 ? bytes.subarray(0, nul) : bytes;
}

async function* encodeArray(
  dataset: NetcdfDataset,
  p: ProjectedArray,
  options: ReadOptions,
  inPlace: boolean,
): AsyncGenerator<Buffer | Buffer[]> {
  const v = p.array.variable;
  const n = elementsOf(p);
  const scalar = p.array.dims.length === 0;
  const { start, count, stride } = variableSelection(p);
  if (p.array.type === 'String') {
    if (!scalar) yield uint32(n);
    if (n === 0) return;
    if (v.type === 'string') {
      for await (const chunk of dataset.readChunks(v.name, start, count, stride, options))
        yield encodeStrings(chunk.data as string[]);
      return;
    }
    // char: strings of `strlen` bytes each; a chunk may end inside a string.
    const strlen = p.array.strlen ?? 0;
    if (strlen === 0) {
      yield encodeStrings(new Array<string>(n).fill(''));
      return;
    }
    let carry = new Uint8Array(0);
    for await (const chunk of dataset.readChunks(v.name, start, count, stride, options)) {
      const data = chunk.data as Uint8Array;
      const bytes = carry.length ? Buffer.concat([carry, data]) : data;
      const whole = bytes.length - (bytes.length % strlen);
      const strings: Uint8Array[] = [];
      for (let at = 0; at < whole; at += strlen) strings.push(trimNul(bytes.subarray(at, at + strlen)));
      carry = Uint8Array.from(bytes.subarray(whole));
      yield encodeStrings(strings);
    }
    return;
  }
  if (!scalar) {
    yield uint32(n);
    yield uint32(n);
  }
  if (n === 0) return;
  if (scalar && p.array.type === 'Byte') {
    // A scalar Byte is an XDR char: a 4-byte big-endian integer, not a padded byte.
    for await (const chunk of dataset.readChunks(v.name, start, count, stride, options)) {
      const b = Buffer.alloc(4);
      b[3] = (chunk.data as Uint8Array | Int8Array)[0]! & 0xff;
      yield b;
    }
    return;
  }
  let bytes = 0;
  if (dataset.readRawChunks && STORED_IS_XDR.has(v.type)) {
    // The file's bytes are the XDR: each chunk is memory of its own (no reuseBuffers) or a buffer
    // lent by options.buffers until the consumer releases it, so it goes to the socket as it is,
    // without a copy, and nothing overwrites it while it waits there.
    for await (const chunk of dataset.readRawChunks(v.name, start, count, stride, {
      ...options,
      reuseBuffers: false,
      inPlace,
    })) {
      const views = (chunk.runs ?? [chunk.data]).map((d) =>
        Buffer.from(d.buffer, d.byteOffset, d.byteLength),
      );
      for (const d of views) bytes += d.length;
      yield views.length === 1 ? (views[0] as Buffer) : views;
      // A consumer lending buffers paces its own writes (and waits for them): no extra turn.
      if (!options.buffers) await nextTurn();
    }
  } else {
    for await (const chunk of dataset.readChunks(v.name, start, count, stride, {
      ...options,
      reuseBuffers: true,
    })) {
      const out = encodeNumbers(v.type, chunk.data as NcArray);
      bytes += out.length;
      yield out;
      await nextTurn();
    }
  }
  if (p.array.type === 'Byte') yield pad(bytes);
}

/**
 * Streams the XDR data of a projection. Stopping the iteration (a client
 * that went away) stops reading the file.
 */
export async function* encodeDods(
  dataset: NetcdfDataset,
  projected: readonly Projected[],
  options: ReadOptions = {},
): AsyncGenerator<Buffer> {
  for (const p of projectedArrays(projected))
    for await (const part of encodeArray(dataset, p, options, false))
      if (Array.isArray(part)) yield* part;
      else yield part;
}

/**
 * encodeDods for a consumer that writes vectored: the long runs of a block
 * read as stored (a record variable's records) come as one array of views
 * where they were read, in order, instead of being moved together first.
 * With `options.buffers` an array's views are all of one lent buffer: give
 * it back once the last is written.
 */
export async function* encodeDodsParts(
  dataset: NetcdfDataset,
  projected: readonly Projected[],
  options: ReadOptions = {},
): AsyncGenerator<Buffer | Buffer[]> {
  for (const p of projectedArrays(projected)) yield* encodeArray(dataset, p, options, true);
}
