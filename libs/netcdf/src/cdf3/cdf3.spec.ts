import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { NetcdfFormatError, NetcdfWriteError, SelectionError, SelectionTooLargeError } from '../errors';
import { MemoryByteSource, type ByteSource } from '../io/byte-source';
import { BufferLenderClosedError, BufferPool } from '../io/buffer-pool';
import { FileByteSource } from '../io/file-byte-source';
import { attrNumbers, attrString, type NcArray } from '../model';
import type { HyperslabChunk } from '../selection';

const arr = (x: NcArray): number[] => Array.from(x as ArrayLike<number | bigint>, Number);
import { Netcdf3File, readCdf3Header } from './reader';
import {
  Netcdf3Writer,
  planNetcdf3,
  writeNetcdf3,
  type Netcdf3Data,
  type Netcdf3Format,
  type Netcdf3Schema,
} from './writer';

async function toBytes(schema: Netcdf3Schema, data: Netcdf3Data): Promise<Uint8Array> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Counts what the reader asks for, to prove header reads stay small. */
class CountingSource extends MemoryByteSource {
  bytesRead = 0;
  reads = 0;
  override async read(offset: number, length: number): Promise<Uint8Array> {
    this.bytesRead += length;
    this.reads++;
    return super.read(offset, length);
  }
}

/** Reference hyperslab: index arithmetic over a full row-major array. */
function referenceSlab(
  full: ArrayLike<number>,
  shape: number[],
  start: number[],
  count: number[],
  stride: number[],
): number[] {
  const out: number[] = [];
  const idx = new Array<number>(shape.length).fill(0);
  const total = count.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    let flat = 0;
    for (let d = 0; d < shape.length; d++)
      flat = flat * (shape[d] as number) + (start[d] as number) + (idx[d] as number) * (stride[d] as number);
    out.push(full[flat] as number);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (count[d] as number)) break;
      idx[d] = 0;
    }
  }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const allTypes = (format: Netcdf3Format): Netcdf3Schema => ({
  format,
  numRecords: 3,
  dimensions: [
    { name: 'time', length: 0, unlimited: true },
    { name: 'y', length: 3 },
    { name: 'x', length: 5 },
    { name: 'strlen', length: 7 },
  ],
  globalAttributes: [
    { name: 'title', value: 'all types — ünïcode' },
    { name: 'b', type: 'byte', value: [-128, 0, 127] },
    { name: 's', type: 'short', value: [-32768, 32767] },
    { name: 'i', type: 'int', value: [-2147483648, 2147483647] },
    { name: 'f', type: 'float', value: [1.5, -0.1] },
    { name: 'd', value: [Math.PI] },
  ],
  variables: [
    { name: 'byte_v', type: 'byte', dimensions: ['y', 'x'] },
    { name: 'char_v', type: 'char', dimensions: ['y', 'strlen'] },
    {
      name: 'short_v',
      type: 'short',
      dimensions: ['x'],
      attributes: [{ name: '_FillValue', type: 'short', value: [-1] }],
    },
    { name: 'int_v', type: 'int', dimensions: ['y', 'x'] },
    {
      name: 'float_v',
      type: 'float',
      dimensions: ['time', 'y', 'x'],
      attributes: [{ name: 'units', value: 'K' }],
    },
    { name: 'double_v', type: 'double', dimensions: ['time'] },
    { name: 'rec_byte', type: 'byte', dimensions: ['time', 'x'] },
    { name: 'scalar', type: 'double', dimensions: [] },
  ],
});

const allData = (): Netcdf3Data => ({
  byte_v: Int8Array.from({ length: 15 }, (_, i) => i - 7),
  char_v: 'abc\0\0\0\0defgh\0\0ij\0\0\0\0\0',
  short_v: Int16Array.from([1, 2, 3]), // partial: the rest gets _FillValue -1
  int_v: Int32Array.from({ length: 15 }, (_, i) => i * 1000003 - 7),
  float_v: Float32Array.from({ length: 45 }, (_, i) => i / 3),
  double_v: Float64Array.from([0.5, 1e300, -2]),
  rec_byte: Int8Array.from({ length: 15 }, (_, i) => -i),
  scalar: [42],
});

describe('NetCDF-3 writer and reader', () => {
  it.each<Netcdf3Format>(['classic', '64bit-offset', 'cdf5'])(
    'round-trips every type in %s',
    async (format) => {
      const bytes = await toBytes(allTypes(format), allData());
      const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
      const meta = ds.metadata;
      expect(meta.format).toBe(format);
      expect(meta.recordCount).toBe(3);
      expect(meta.dimensions[0]).toEqual({ name: 'time', length: 3, unlimited: true });
      expect(attrString(meta.globalAttributes, 'title')).toBe('all types — ünïcode');
      expect(attrNumbers(meta.globalAttributes, 'i')).toEqual([-2147483648, 2147483647]);
      expect(Array.from(meta.globalAttributes.find((a) => a.name === 'f')?.value as Float32Array)).toEqual([
        1.5,
        Math.fround(-0.1),
      ]);
      expect(await ds.read('byte_v')).toEqual(allData().byte_v);
      expect(Buffer.from((await ds.read('char_v')) as Uint8Array).toString('latin1')).toBe(allData().char_v);
      expect(arr(await ds.read('short_v'))).toEqual([1, 2, 3, -1, -1]);
      expect(await ds.read('int_v')).toEqual(allData().int_v);
      const f = await ds.read('float_v');
      expect(f).toBeInstanceOf(Float32Array);
      expect(f).toEqual(allData().float_v);
      expect(await ds.read('double_v')).toEqual(allData().double_v);
      expect(await ds.read('rec_byte')).toEqual(allData().rec_byte);
      expect(arr(await ds.read('scalar'))).toEqual([42]);
    },
  );

  it('writes CDF-5 only types and 64-bit integers', async () => {
    const bytes = await toBytes(
      {
        format: 'cdf5',
        dimensions: [{ name: 'n', length: 2 }],
        variables: [
          { name: 'u8', type: 'ubyte', dimensions: ['n'] },
          { name: 'u16', type: 'ushort', dimensions: ['n'] },
          { name: 'u32', type: 'uint', dimensions: ['n'] },
          {
            name: 'i64',
            type: 'int64',
            dimensions: ['n'],
            attributes: [{ name: 'big', value: BigInt64Array.of(-(2n ** 62n)) }],
          },
          { name: 'u64', type: 'uint64', dimensions: ['n'] },
        ],
      },
      {
        u8: Uint8Array.of(0, 255),
        u16: Uint16Array.of(1, 65535),
        u32: Uint32Array.of(2, 4294967295),
        i64: BigInt64Array.of(-1n, 2n ** 62n),
        u64: BigUint64Array.of(0n, 2n ** 64n - 1n),
      },
    );
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    expect(await ds.read('u8')).toEqual(Uint8Array.of(0, 255));
    expect(await ds.read('u16')).toEqual(Uint16Array.of(1, 65535));
    expect(await ds.read('u32')).toEqual(Uint32Array.of(2, 4294967295));
    expect(await ds.read('i64')).toEqual(BigInt64Array.of(-1n, 2n ** 62n));
    expect(await ds.read('u64')).toEqual(BigUint64Array.of(0n, 2n ** 64n - 1n));
    expect(ds.metadata.variables[3]?.attributes[0]?.value).toEqual(BigInt64Array.of(-(2n ** 62n)));
  });

  it('packs a lone byte record variable without padding between records (netCDF-C rule)', async () => {
    const schema: Netcdf3Schema = {
      numRecords: 4,
      dimensions: [
        { name: 't', length: 0, unlimited: true },
        { name: 'n', length: 3 },
      ],
      variables: [{ name: 'v', type: 'byte', dimensions: ['t', 'n'] }],
    };
    const { layout } = planNetcdf3(schema);
    expect(layout.recordBytes).toBe(3);
    const values = Int8Array.from({ length: 12 }, (_, i) => i);
    const bytes = await toBytes(schema, { v: values });
    expect(bytes.length).toBe(layout.headerBytes + 12);
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    expect(ds.header.recordBytes).toBe(3);
    expect(await ds.read('v')).toEqual(values);
    expect(arr(await ds.read('v', [1, 1], [3, 1]))).toEqual([4, 7, 10]);
  });

  it('streams slot by slot, fills what is skipped and enforces file order', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = await Netcdf3Writer.create(sink, {
      numRecords: 2,
      dimensions: [
        { name: 't', length: 0, unlimited: true },
        { name: 'n', length: 4 },
      ],
      variables: [
        { name: 'a', type: 'int', dimensions: ['n'] },
        {
          name: 'b',
          type: 'float',
          dimensions: ['n'],
          attributes: [{ name: '_FillValue', type: 'float', value: [-9] }],
        },
        { name: 'r1', type: 'short', dimensions: ['t', 'n'] },
        { name: 'r2', type: 'double', dimensions: ['t'] },
      ],
    });
    expect(w.next).toEqual({ variable: 'a', record: -1 });
    await w.write('a', [1, 2]);
    await w.write('a', [3, 4]); // two pieces of one slot
    await expect(w.write('a', [5])).rejects.toThrow(NetcdfWriteError);
    await w.write('r1', [7, 7, 7, 7], 0); // skips b (filled with -9)
    await w.write('r1', [8, 8], 1); // skips r2 of record 0
    await expect(w.write('r2', [1], 0)).rejects.toThrow(/already written/);
    await expect(w.write('b', [1])).rejects.toThrow(/already written/);
    await expect(w.write('r2', [1], 1)).rejects.toThrow(/partly written/);
    await w.close();
    const ds = await Netcdf3File.open(new MemoryByteSource(new Uint8Array(Buffer.concat(chunks))));
    expect(arr(await ds.read('a'))).toEqual([1, 2, 3, 4]);
    expect(arr(await ds.read('b'))).toEqual([-9, -9, -9, -9]);
    expect(arr(await ds.read('r1'))).toEqual([7, 7, 7, 7, 8, 8, -32767, -32767]);
    expect(arr(await ds.read('r2'))).toEqual([9.969209968386869e36, 9.969209968386869e36]);
  });

  it('stages in lent buffers given back by write callbacks (a socket), the same bytes as without', async () => {
    const R = 40;
    const schema: Netcdf3Schema = {
      numRecords: R,
      dimensions: [
        { name: 't', length: 0, unlimited: true },
        { name: 'n', length: 20_000 },
      ],
      variables: [
        { name: 'time', type: 'double', dimensions: ['t'] },
        { name: 'v', type: 'float', dimensions: ['t', 'n'] },
      ],
    };
    const data = {
      time: Float64Array.from({ length: R }, (_, k) => k),
      v: Float32Array.from({ length: R * 20_000 }, (_, k) => k % 1000),
    };
    const want = await toBytes(schema, data);
    const pool = new BufferPool(1 << 20);
    const lender = pool.lender(2);
    // A socket-like target: copies what it is given, calls back later (then the buffer may be reused).
    const parts: Buffer[] = [];
    let written = 0;
    const { Writable } = await import('node:stream');
    const target = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _encoding, callback) {
        parts.push(Buffer.from(chunk));
        setTimeout(callback, 1);
      },
    });
    const w = await Netcdf3Writer.create(target, schema, {
      buffers: lender,
      onWritten: (n) => (written += n),
    });
    for (let r = 0; r < R; r++) {
      await w.write('time', data.time.subarray(r, r + 1), r);
      await w.write('v', data.v.subarray(r * 20_000, (r + 1) * 20_000), r);
    }
    await w.close();
    lender.close();
    expect(Buffer.concat(parts).equals(Buffer.from(want))).toBe(true);
    expect(written).toBe(want.length);
    // 3.2 MB staged through the two buffers of one slab each, over and over.
    expect(pool.slabCount).toBe(2);
    await expect(
      Netcdf3Writer.create(new PassThrough(), schema, { buffers: new BufferPool(4096).lender(1) }),
    ).rejects.toThrow(/staging buffers must hold/);
  });

  it('rejects schemas netCDF-C would reject', () => {
    const base: Netcdf3Schema = { dimensions: [{ name: 'n', length: 2 }], variables: [] };
    expect(() =>
      planNetcdf3({ ...base, variables: [{ name: 'v', type: 'int', dimensions: ['m'] }] }),
    ).toThrow(/unknown dimension/);
    expect(() =>
      planNetcdf3({ ...base, variables: [{ name: 'v', type: 'ubyte', dimensions: ['n'] }] }),
    ).toThrow(/cdf5/);
    expect(() => planNetcdf3({ ...base, variables: [{ name: 'a/b', type: 'int', dimensions: [] }] })).toThrow(
      /invalid variable name/,
    );
    expect(() =>
      planNetcdf3({
        dimensions: [
          { name: 'n', length: 2 },
          { name: 't', length: 0, unlimited: true },
        ],
        numRecords: 1,
        variables: [{ name: 'v', type: 'int', dimensions: ['n', 't'] }],
      }),
    ).toThrow(/unlimited dimension must come first/);
    expect(() =>
      planNetcdf3({ dimensions: [{ name: 't', length: 0, unlimited: true }], variables: [] }),
    ).toThrow(/numRecords/);
  });
});

describe('NetCDF-3 hyperslabs', () => {
  const shape = [6, 5, 7];
  const schema: Netcdf3Schema = {
    format: '64bit-offset',
    numRecords: 6,
    dimensions: [
      { name: 'time', length: 0, unlimited: true },
      { name: 'y', length: 5 },
      { name: 'x', length: 7 },
    ],
    variables: [
      { name: 'fixed', type: 'double', dimensions: ['y', 'x'] },
      { name: 'rec', type: 'float', dimensions: ['time', 'y', 'x'] },
      { name: 'rec2', type: 'short', dimensions: ['time', 'x'] },
    ],
  };
  const rec = Float32Array.from({ length: 6 * 35 }, (_, i) => i + 0.25);
  const data: Netcdf3Data = {
    fixed: Float64Array.from({ length: 35 }, (_, i) => -i),
    rec,
    rec2: Int16Array.from({ length: 42 }, (_, i) => i * 3),
  };
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = await toBytes(schema, data);
  });

  it('matches a reference implementation on random selections, streamed in tiny chunks', async () => {
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes, 'mem', 64));
    const rand = rng(7);
    for (let trial = 0; trial < 300; trial++) {
      const start: number[] = [];
      const count: number[] = [];
      const stride: number[] = [];
      for (const n of shape) {
        const st = 1 + Math.floor(rand() * 3);
        const s = Math.floor(rand() * n);
        const maxCount = Math.floor((n - 1 - s) / st) + 1;
        start.push(s);
        stride.push(st);
        count.push(Math.floor(rand() * maxCount) + 1);
      }
      const expected = referenceSlab(rec, shape, start, count, stride);
      const chunkBytes = [4, 12, 64, 1 << 20][trial % 4];
      const maxGapBytes = [0, 8, 65536][trial % 3];
      const got: number[] = [];
      let expectedOffset = 0;
      for await (const chunk of ds.readChunks('rec', start, count, stride, {
        chunkBytes,
        maxGapBytes,
        reuseBuffers: trial % 2 === 0,
      })) {
        expect(chunk.offset).toBe(expectedOffset);
        expect(chunk.data).toBeInstanceOf(Float32Array);
        expectedOffset += chunk.data.length;
        got.push(...Array.from(chunk.data as Float32Array));
      }
      expect(got).toEqual(expected);
      const collected = await ds.read('rec', start, count, stride, { chunkBytes: chunkBytes ?? 64 });
      expect(arr(collected)).toEqual(expected);
    }
  });

  it('reads non-record and interleaved record variables', async () => {
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    expect(arr(await ds.read('fixed', [1, 2], [2, 3], [2, 2]))).toEqual(
      referenceSlab(data.fixed as Float64Array, [5, 7], [1, 2], [2, 3], [2, 2]),
    );
    expect(arr(await ds.read('rec2', [0, 6], [6, 1]))).toEqual([18, 39, 60, 81, 102, 123]);
  });

  it('returns empty results for zero counts', async () => {
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    expect((await ds.read('rec', [0, 0, 0], [0, 5, 7])).length).toBe(0);
  });

  it('rejects bad selections with SelectionError and large ones with SelectionTooLargeError', async () => {
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    await expect(ds.read('rec', [0, 0], [1, 1])).rejects.toThrow(SelectionError);
    await expect(ds.read('rec', [0, 0, 6], [1, 1, 2])).rejects.toThrow(/past the last index/);
    await expect(ds.read('rec', [0, 0, 0], [1, 1, 1], [0, 1, 1])).rejects.toThrow(/stride/);
    await expect(ds.read('nope')).rejects.toThrow(/no such variable/);
    await expect(ds.read('rec', undefined, undefined, undefined, { maxBytes: 100 })).rejects.toThrow(
      SelectionTooLargeError,
    );
  });
});

describe('NetCDF-3 header reading', () => {
  const big: Netcdf3Schema = {
    dimensions: [{ name: 'n', length: 100_000 }],
    variables: [
      {
        name: 'v',
        type: 'double',
        dimensions: ['n'],
        attributes: [{ name: 'long_name', value: 'x'.repeat(100) }],
      },
    ],
    globalAttributes: Array.from({ length: 400 }, (_, i) => ({
      name: `attr_${i}`,
      value: `value ${i} `.repeat(10),
    })),
  };

  it('reads only header bytes, growing the read until the header parses', async () => {
    const bytes = await toBytes(big, {});
    const source = new CountingSource(bytes);
    const header = await readCdf3Header(source, { initialHeaderBytes: 1024 });
    expect(header.globalAttributes).toHaveLength(400);
    expect(header.headerBytes).toBeGreaterThan(1024);
    expect(source.bytesRead).toBeLessThan(header.headerBytes * 4 + 1024);
    expect(source.bytesRead).toBeLessThan(bytes.length / 10);
  });

  const errorOf = async (bytes: Uint8Array): Promise<NetcdfFormatError> => {
    try {
      await Netcdf3File.open(new MemoryByteSource(bytes, 'bad.nc'));
    } catch (e) {
      if (e instanceof NetcdfFormatError) return e;
      throw e;
    }
    throw new Error('expected a NetcdfFormatError');
  };

  it('names empty files, HTML and other signatures', async () => {
    expect(await errorOf(new Uint8Array(0))).toMatchObject({ code: 'EMPTY' });
    const html = await errorOf(new TextEncoder().encode('<!DOCTYPE html><html><body>404</body></html>'));
    expect(html.code).toBe('NOT_NETCDF');
    expect(html.message).toMatch(/HTML/);
    expect(await errorOf(Uint8Array.of(0x43, 0x44, 0x46, 9, 0, 0, 0, 0))).toMatchObject({
      code: 'BAD_HEADER',
      offset: 3,
    });
  });

  it('reports truncation with the position', async () => {
    const bytes = await toBytes(big, {});
    const e = await errorOf(bytes.subarray(0, 500));
    expect(e.code).toBe('TRUNCATED');
    expect(e.message).toMatch(/bad\.nc/);
    const dataCut = await errorOf(bytes.subarray(0, bytes.length - 8));
    expect(dataCut.code).toBe('TRUNCATED');
    expect(dataCut.field).toBe('variables.v.begin');
  });

  it('refuses absurd counts before allocating', async () => {
    const bytes = new Uint8Array(64);
    bytes.set([0x43, 0x44, 0x46, 1, 0, 0, 0, 0, 0, 0, 0, 10, 0x40, 0, 0, 0]);
    const e = await errorOf(bytes);
    expect(e.code).toBe('ABSURD_SIZE');
    expect(e.field).toBe('dimensions.count');
  });

  it('refuses data offsets past the end of the file', async () => {
    const bytes = await toBytes(
      { dimensions: [{ name: 'n', length: 2 }], variables: [{ name: 'v', type: 'int', dimensions: ['n'] }] },
      { v: [1, 2] },
    );
    const tampered = bytes.slice();
    const dv = new DataView(tampered.buffer);
    const beginAt = tampered.length - 8 - 4; // last header field before 8 data bytes
    dv.setUint32(beginAt, 0x7ffffff0);
    const e = await errorOf(tampered);
    expect(e.code).toBe('OFFSET_PAST_EOF');
    expect(e.offset).toBe(beginAt);
  });

  it('closes the source it owns', async () => {
    const bytes = await toBytes(big, {});
    let closed = false;
    const src: ByteSource = Object.assign(new MemoryByteSource(bytes), {
      close: async () => {
        closed = true;
      },
    });
    const ds = await Netcdf3File.open(src, { ownsSource: true });
    await ds.close();
    expect(closed).toBe(true);
  });
});

describe('NetCDF-3 hyperslabs from a local file', () => {
  it('reads through FileByteSource.readInto with recycled buffers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'climcat-cdf3-'));
    try {
      const path = join(dir, 'f.nc');
      const values = Float32Array.from({ length: 20 * 30 * 40 }, (_, i) => i);
      await writeNetcdf3(
        path,
        {
          numRecords: 20,
          dimensions: [
            { name: 't', length: 0, unlimited: true },
            { name: 'y', length: 30 },
            { name: 'x', length: 40 },
          ],
          variables: [{ name: 'v', type: 'float', dimensions: ['t', 'y', 'x'] }],
        },
        { v: values },
      );
      const ds = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
      const got: number[] = [];
      for await (const c of ds.readChunks('v', [2, 3, 5], [15, 20, 30], [1, 1, 1], {
        chunkBytes: 1000,
        reuseBuffers: true,
      }))
        got.push(...Array.from(c.data as Float32Array));
      expect(got).toEqual(referenceSlab(values, [20, 30, 40], [2, 3, 5], [15, 20, 30], [1, 1, 1]));
      await ds.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('NetCDF-3 hyperslabs of MBs, every element size', () => {
  // Blocks of many rows, gathered in place and swapped in one pass (WebAssembly).
  const shape = [12, 120, 100];
  const n = 12 * 120 * 100;
  const rand = rng(11);
  const values: Record<string, Int16Array | Int32Array | Float32Array | Float64Array> = {
    s: Int16Array.from({ length: n }, () => Math.floor(rand() * 65536) - 32768),
    i: Int32Array.from({ length: n }, () => Math.floor(rand() * 4294967296) - 2147483648),
    f: Float32Array.from({ length: n }, () => (rand() - 0.5) * 1e6),
    d: Float64Array.from({ length: n }, () => (rand() - 0.5) * 1e300),
  };
  const schema: Netcdf3Schema = {
    format: '64bit-offset',
    numRecords: 12,
    dimensions: [
      { name: 't', length: 0, unlimited: true },
      { name: 'y', length: 120 },
      { name: 'x', length: 100 },
    ],
    variables: [
      { name: 's', type: 'short', dimensions: ['t', 'y', 'x'] },
      { name: 'i', type: 'int', dimensions: ['t', 'y', 'x'] },
      { name: 'f', type: 'float', dimensions: ['t', 'y', 'x'] },
      { name: 'd', type: 'double', dimensions: ['t', 'y', 'x'] },
    ],
  };
  /** Index of the first differing element, -1 if none (byte comparison: NaN payloads and -0 count). */
  const firstDifference = (got: NcArray, expected: NcArray): number => {
    const e = expected.BYTES_PER_ELEMENT;
    const g = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
    const x = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
    if (g.equals(x)) return -1;
    for (let k = 0; k < Math.min(g.length, x.length); k++) if (g[k] !== x[k]) return Math.floor(k / e);
    return Math.min(got.length, expected.length);
  };
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'climcat-cdf3-wasm-'));
    path = join(dir, 'big.nc');
    await writeNetcdf3(path, schema, values);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['file', 'memory'])('matches a reference on random large selections (%s source)', async (kind) => {
    const source: ByteSource =
      kind === 'file'
        ? await FileByteSource.open(path)
        : new MemoryByteSource(await toBytes(schema, values), 'mem');
    const ds = await Netcdf3File.open(source, { ownsSource: true });
    const pick = rng(kind === 'file' ? 5 : 6);
    for (let trial = 0; trial < 24; trial++) {
      const name = ['s', 'i', 'f', 'd'][trial % 4] as string;
      const start = shape.map((len) => Math.floor(pick() * len * 0.05));
      const stride = shape.map((_, d) => (name !== 's' && d === 1 + (trial % 2) && pick() < 0.5 ? 2 : 1));
      const count = shape.map(
        (len, d) => Math.floor((len - 1 - (start[d] as number)) / (stride[d] as number)) + 1,
      );
      const full = values[name] as Int16Array | Int32Array | Float32Array | Float64Array;
      const want = new (full.constructor as new (xs: number[]) => NcArray)(
        referenceSlab(full, shape, start, count, stride),
      );
      const chunkBytes = [1000, 4096, 65536, 1 << 20][trial % 4];
      // Gaps: a few elements (read through at 64), whole rows, everything.
      const maxGapBytes = [64, 4096, 1 << 20][trial % 3];
      const reuseBuffers = trial % 2 === 0;
      const got = new (full.constructor as new (n: number) => Float64Array)(want.length);
      const kept: HyperslabChunk<NcArray>[] = [];
      let next = 0;
      for await (const chunk of ds.readChunks(name, start, count, stride, {
        chunkBytes,
        maxGapBytes,
        reuseBuffers,
      })) {
        expect(chunk.offset).toBe(next);
        next += chunk.data.length;
        // Recycled chunks are copied at once; owned ones only after the last read.
        if (reuseBuffers) got.set(chunk.data as Float64Array, chunk.offset);
        else kept.push(chunk);
      }
      for (const c of kept) got.set(c.data as Float64Array, c.offset);
      expect({ name, start, count, stride, at: firstDifference(got, want) }).toEqual({
        name,
        start,
        count,
        stride,
        at: -1,
      });
      const whole = await ds.read(name, start, count, stride, { chunkBytes });
      expect(firstDifference(whole, want)).toBe(-1);
    }
    await ds.close();
  });

  it('reuses the memory of a caller that stopped early only once its reads are done', async () => {
    /** Reads resolve after `delay` ms (the bytes are copied into the reader's buffer then). */
    class SlowSource extends MemoryByteSource {
      delay = 0;
      override async read(offset: number, length: number): Promise<Uint8Array> {
        const bytes = await super.read(offset, length);
        await new Promise((resolve) => setTimeout(resolve, this.delay));
        return bytes;
      }
    }
    const source = new SlowSource(await toBytes(schema, values), 'slow');
    const ds = await Netcdf3File.open(source);
    const options = { chunkBytes: 65536, reuseBuffers: true };
    source.delay = 30;
    for await (const chunk of ds.readChunks('f', undefined, undefined, undefined, options)) {
      expect(chunk.data.length).toBeGreaterThan(0);
      break; // two reads still in flight
    }
    // The next caller looks at its first chunk past those 30 ms, while its
    // next two blocks wait in the other buffers: had they been handed out with
    // reads still due, those would land on them.
    source.delay = 1;
    const got = new Int32Array(n);
    for await (const chunk of ds.readChunks('i', undefined, undefined, undefined, options)) {
      if (chunk.offset === 0) await new Promise((resolve) => setTimeout(resolve, 60));
      got.set(chunk.data as Int32Array, chunk.offset);
    }
    expect(firstDifference(got, values.i as Int32Array)).toBe(-1);
  });
});

describe('writer with a lone record variable', () => {
  it('accepts values that run on across records', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = await Netcdf3Writer.create(sink, {
      numRecords: 4,
      dimensions: [
        { name: 't', length: 0, unlimited: true },
        { name: 'n', length: 3 },
      ],
      variables: [
        { name: 'fixed', type: 'int', dimensions: ['n'] },
        { name: 'v', type: 'short', dimensions: ['t', 'n'] },
      ],
    });
    await w.write('fixed', [7, 8, 9]);
    await w.write(
      'v',
      Int16Array.from({ length: 5 }, (_, i) => i),
    );
    await w.write(
      'v',
      Int16Array.from({ length: 7 }, (_, i) => 5 + i),
    );
    await expect(w.write('v', [1])).rejects.toThrow(/all slots|do not fit|already written/);
    await w.close();
    const ds = await Netcdf3File.open(new MemoryByteSource(new Uint8Array(Buffer.concat(chunks))));
    expect(arr(await ds.read('v'))).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });
});

describe('NetCDF-3 raw chunks (stored big-endian bytes, not swapped)', () => {
  // Interleaved record variables of every element size, one of them bytes (records padded to 4),
  // and a fixed one: selections cross records, gaps and block boundaries.
  const [T, Y, X] = [10, 50, 61];
  const n = T * Y * X;
  const rand = rng(23);
  const values: Record<string, NcArray> = {
    b: Int8Array.from({ length: n }, () => Math.floor(rand() * 256) - 128),
    s: Int16Array.from({ length: n }, () => Math.floor(rand() * 65536) - 32768),
    i: Int32Array.from({ length: n }, () => Math.floor(rand() * 4294967296) - 2147483648),
    f: Float32Array.from({ length: n }, () => (rand() - 0.5) * 1e6),
    d: Float64Array.from({ length: n }, () => (rand() - 0.5) * 1e300),
    fixed: Float32Array.from({ length: Y * X }, (_, k) => k - 0.5),
  };
  const recordDims = ['t', 'y', 'x'];
  const schema: Netcdf3Schema = {
    format: '64bit-offset',
    numRecords: T,
    dimensions: [
      { name: 't', length: 0, unlimited: true },
      { name: 'y', length: Y },
      { name: 'x', length: X },
    ],
    variables: [
      { name: 'fixed', type: 'float', dimensions: ['y', 'x'] },
      { name: 'b', type: 'byte', dimensions: recordDims },
      { name: 's', type: 'short', dimensions: recordDims },
      { name: 'i', type: 'int', dimensions: recordDims },
      { name: 'f', type: 'float', dimensions: recordDims },
      { name: 'd', type: 'double', dimensions: recordDims },
    ],
  };
  /** The swapped path's values, encoded big-endian again: what the raw path must give. */
  const bigEndian = (values: NcArray): Buffer => {
    const out = Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    if (values.BYTES_PER_ELEMENT === 2) out.swap16();
    else if (values.BYTES_PER_ELEMENT === 4) out.swap32();
    else if (values.BYTES_PER_ELEMENT === 8) out.swap64();
    return out;
  };
  let dir: string;
  let path: string;
  let bytes: Uint8Array;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'climcat-cdf3-raw-'));
    path = join(dir, 'raw.nc');
    await writeNetcdf3(path, schema, values);
    bytes = await toBytes(schema, values);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Raw chunks of a selection concatenated, after checking their offsets; owned chunks are kept until the end. */
  async function rawBytes(
    ds: Netcdf3File,
    name: string,
    sel: { start?: number[]; count?: number[]; stride?: number[] },
    options: { chunkBytes?: number; maxGapBytes?: number; reuseBuffers?: boolean },
  ): Promise<{ bytes: Buffer; chunks: number; buffers: Set<ArrayBufferLike> }> {
    const size = (values[name] as NcArray).BYTES_PER_ELEMENT;
    const parts: Uint8Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let next = 0;
    const offsets: number[] = [];
    for await (const chunk of ds.readRawChunks(name, sel.start, sel.count, sel.stride, options)) {
      // Checked once at the end: an expect per chunk would dominate the test's time.
      if (chunk.offset !== next || chunk.data.length % size !== 0) offsets.push(chunk.offset);
      next += chunk.data.length / size;
      buffers.add(chunk.data.buffer);
      // Lent buffers are only valid until the next chunk: copy them at once.
      parts.push(options.reuseBuffers ? Uint8Array.from(chunk.data) : chunk.data);
    }
    expect(offsets).toEqual([]);
    return { bytes: Buffer.concat(parts), chunks: parts.length, buffers };
  }

  it.each(['file', 'memory'])(
    'equals the swapped values re-encoded on random contiguous, strided and record selections (%s source)',
    async (kind) => {
      const source: ByteSource =
        kind === 'file' ? await FileByteSource.open(path) : new MemoryByteSource(bytes);
      const ds = await Netcdf3File.open(source, { ownsSource: true });
      const pick = rng(kind === 'file' ? 3 : 4);
      const names = ['b', 's', 'i', 'f', 'd', 'fixed'];
      for (let trial = 0; trial < 60; trial++) {
        const name = names[trial % names.length] as string;
        const shape = name === 'fixed' ? [Y, X] : [T, Y, X];
        const start = shape.map((len) => Math.floor(pick() * len * 0.3));
        const stride = shape.map(() => (pick() < 0.4 ? 1 + Math.floor(pick() * 3) : 1));
        const count = shape.map(
          (len, d) => Math.floor((len - 1 - (start[d] as number)) / (stride[d] as number)) + 1,
        );
        const options = {
          chunkBytes: [256, 1000, 4096, 1 << 20][trial % 4],
          maxGapBytes: [0, 64, 1 << 20][trial % 3],
          reuseBuffers: trial % 2 === 0,
        };
        const want = bigEndian(await ds.read(name, start, count, stride));
        const got = await rawBytes(ds, name, { start, count, stride }, options);
        expect({ name, start, count, stride, options, equal: got.bytes.equals(want) }).toEqual({
          name,
          start,
          count,
          stride,
          options,
          equal: true,
        });
      }
      await ds.close();
    },
  );

  it('streams a whole variable in many blocks, each chunk memory of its own unless buffers are lent', async () => {
    const ds = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    for (const name of ['b', 'f', 'd', 'fixed']) {
      const want = bigEndian(values[name] as NcArray);
      const owned = await rawBytes(ds, name, {}, { chunkBytes: 4096 });
      expect(owned.bytes.equals(want)).toBe(true);
      expect(owned.chunks).toBeGreaterThan(2);
      // Kept until the end and still right: no later read reused their memory.
      expect(owned.buffers.size).toBe(owned.chunks);
      const lent = await rawBytes(ds, name, {}, { chunkBytes: 4096, reuseBuffers: true });
      expect(lent.bytes.equals(want)).toBe(true);
      expect(lent.buffers.size).toBeLessThanOrEqual(3);
    }
    await ds.close();
  });

  it('reads into buffers borrowed from a lender, each given back once used, and stops when it closes', async () => {
    const ds = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    const pool = new BufferPool(512);
    for (const [name, sel] of [
      ['f', {}],
      ['d', { start: [1, 0, 1], count: [T - 1, Y, X - 1], stride: [1, 1, 1] }],
      ['fixed', {}],
    ] as const) {
      const lender = pool.lender(3);
      const parts: Buffer[] = [];
      const buffers = new Set<ArrayBufferLike>();
      for await (const chunk of ds.readRawChunks(name, sel.start, sel.count, sel.stride, {
        buffers: lender,
      })) {
        expect(chunk.data.buffer.byteLength).toBe(512);
        buffers.add(chunk.data.buffer);
        parts.push(Buffer.from(chunk.data));
        expect(lender.release(chunk.data)).toBe(true);
      }
      lender.close();
      const want = bigEndian(await ds.read(name, sel.start, sel.count, sel.stride));
      expect(Buffer.concat(parts).equals(want)).toBe(true);
      expect(parts.length).toBeGreaterThan(3);
      // Never more than the lender holds: the same few buffers over and over.
      expect(buffers.size).toBeLessThanOrEqual(3);
    }
    // Every buffer went back to the pool for the next stream.
    expect(pool.idleCount).toBe(3);

    // A consumer that keeps its chunks holds the reader back; closing the lender stops it.
    const lender = pool.lender(2);
    const chunks = ds.readRawChunks('f', undefined, undefined, undefined, { buffers: lender });
    expect((await chunks.next()).done).toBe(false);
    expect((await chunks.next()).done).toBe(false);
    const third = chunks.next();
    const settled = await Promise.race([
      third.then(() => 'read'),
      new Promise((r) => setTimeout(r, 50, 'waiting')),
    ]);
    expect(settled).toBe('waiting');
    lender.close();
    await expect(third).rejects.toBeInstanceOf(BufferLenderClosedError);
    await ds.close();
  });

  it('reads many blocks per worker job into shared lent buffers (local file), equal to the decoded values', async () => {
    const ds = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    const pick = rng(7);
    const names = ['b', 's', 'i', 'f', 'd', 'fixed'];
    // Small buffers: a job's blocks end mid-buffer, records and rows cross job boundaries.
    for (const bufferBytes of [512, 4096, 1 << 16]) {
      const pool = new BufferPool(bufferBytes, { shared: true });
      for (let trial = 0; trial < 24; trial++) {
        const name = names[trial % names.length] as string;
        const shape = name === 'fixed' ? [Y, X] : [T, Y, X];
        // Boxes anywhere, to the grid's last row and column half of the time, with strides.
        const start = shape.map((len) => Math.floor(pick() * len * 0.5));
        const stride = shape.map(() => (pick() < 0.4 ? 1 + Math.floor(pick() * 3) : 1));
        const count = shape.map((len, d) =>
          Math.max(
            1,
            Math.floor(
              ((pick() < 0.5 ? len : len * 0.8) - 1 - (start[d] as number)) / (stride[d] as number),
            ) + 1,
          ),
        );
        const lender = pool.lender(3);
        const parts: Buffer[] = [];
        let shared = 0;
        let next = 0;
        for await (const chunk of ds.readRawChunks(name, start, count, stride, {
          buffers: lender,
          maxGapBytes: [0, 64, 1 << 20][trial % 3],
        })) {
          if (chunk.data.buffer instanceof SharedArrayBuffer) shared++;
          expect(chunk.offset).toBe(next);
          next += chunk.data.length / (values[name] as NcArray).BYTES_PER_ELEMENT;
          parts.push(Buffer.from(chunk.data));
          lender.release(chunk.data);
        }
        lender.close();
        const want = bigEndian(await ds.read(name, start, count, stride));
        expect({ name, start, count, stride, equal: Buffer.concat(parts).equals(want) }).toEqual({
          name,
          start,
          count,
          stride,
          equal: true,
        });
        expect(shared).toBe(parts.length);
        // The same selection filled in place into shared memory, in one call.
        const into = new Uint8Array(new SharedArrayBuffer(want.length));
        expect(await ds.readRawInto(name, start, count, stride, into, { maxGapBytes: 64 })).toBe(true);
        expect(Buffer.from(into).equals(want)).toBe(true);
      }
      expect(pool.idleCount).toBe(Math.min(3, pool.idleCount));
    }
    await ds.close();
  });

  it('fills only shared memory in place, from a source with a read worker', async () => {
    const memory = await Netcdf3File.open(new MemoryByteSource(bytes));
    const file = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    const n = Y * X * 4;
    expect(
      await memory.readRawInto(
        'f',
        [0, 0, 0],
        [1, Y, X],
        [1, 1, 1],
        new Uint8Array(new SharedArrayBuffer(n)),
      ),
    ).toBe(false);
    expect(await file.readRawInto('f', [0, 0, 0], [1, Y, X], [1, 1, 1], new Uint8Array(n))).toBe(false);
    await expect(
      file.readRawInto('f', [0, 0, 0], [1, Y, X], [1, 1, 1], new Uint8Array(new SharedArrayBuffer(n - 4))),
    ).rejects.toThrow(SelectionError);
    await file.close();
  });

  it('reports a file truncated under a worker job as TRUNCATED', async () => {
    const cut = join(dir, 'cut.nc');
    await writeNetcdf3(cut, schema, values);
    const source = await FileByteSource.open(cut);
    const ds = await Netcdf3File.open(source, { ownsSource: true });
    const { truncate } = await import('node:fs/promises');
    await truncate(cut, 4096);
    const lender = new BufferPool(4096, { shared: true }).lender(3);
    const read = async () => {
      for await (const chunk of ds.readRawChunks('f', undefined, undefined, undefined, { buffers: lender }))
        lender.release(chunk.data);
    };
    await expect(read()).rejects.toMatchObject({ code: 'TRUNCATED' });
    const into = new Uint8Array(new SharedArrayBuffer(T * Y * X * 4));
    await expect(ds.readRawInto('f', [0, 0, 0], [T, Y, X], [1, 1, 1], into)).rejects.toMatchObject({
      code: 'TRUNCATED',
    });
    await ds.close();
  });

  it('keeps small record variables (time) in memory once read: later reads ask the file for nothing', async () => {
    const R = 300;
    const small: Netcdf3Schema = {
      format: 'classic',
      numRecords: R,
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'bnds', length: 2 },
        { name: 'x', length: 40 },
      ],
      variables: [
        { name: 'time', type: 'double', dimensions: ['time'] },
        { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
        { name: 'v', type: 'float', dimensions: ['time', 'x'] },
      ],
    };
    const data = {
      time: Float64Array.from({ length: R }, (_, k) => k + 0.5),
      time_bnds: Float64Array.from({ length: 2 * R }, (_, k) => (k >> 1) + (k & 1)),
      v: Float32Array.from({ length: R * 40 }, (_, k) => k),
    };
    const file = join(dir, 'small.nc');
    await writeNetcdf3(file, small, data);
    for (const kind of ['memory', 'file'] as const) {
      const counting = new CountingSource(await toBytes(small, data));
      const ds = await Netcdf3File.open(kind === 'memory' ? counting : await FileByteSource.open(file), {
        ownsSource: true,
      });
      expect(arr(await ds.read('time'))).toEqual(arr(data.time));
      const after = counting.reads;
      expect(arr(await ds.read('time', [5], [10], [3]))).toEqual(
        Array.from({ length: 10 }, (_, k) => 5 + 3 * k + 0.5),
      );
      expect(counting.reads).toBe(after);
      expect(arr(await ds.read('time_bnds', [R - 2, 1], [2, 1]))).toEqual([R - 1, R]);
      const raw: Buffer[] = [];
      for await (const chunk of ds.readRawChunks('time_bnds', [1, 0], [R / 2, 2], [2, 1]))
        raw.push(Buffer.from(chunk.data));
      expect(
        Buffer.concat(raw).equals(bigEndian(await ds.read('time_bnds', [1, 0], [R / 2, 2], [2, 1]))),
      ).toBe(true);
      // v (160 bytes a record) is not kept.
      expect(arr(await ds.read('v', [R - 1, 0], [1, 40]))).toEqual(arr(data.v.subarray((R - 1) * 40)));
      // time_bnds loaded once (one sweep of the records) for both its reads, and v's one read.
      if (kind === 'memory') expect(counting.reads - after).toBe(2);
      await ds.close();
    }
    // Records far apart (9.6 MB of them): the column is loaded record by record, not swept.
    const wide: Netcdf3Schema = {
      ...small,
      numRecords: 60,
      dimensions: [small.dimensions[0]!, small.dimensions[1]!, { name: 'x', length: 40_000 }],
    };
    const wideFile = join(dir, 'wide.nc');
    await writeNetcdf3(wideFile, wide, {
      time: data.time.subarray(0, 60),
      time_bnds: data.time_bnds.subarray(0, 120),
    });
    const ds = await Netcdf3File.open(await FileByteSource.open(wideFile), { ownsSource: true });
    expect(arr(await ds.read('time_bnds', [0, 0], [60, 2], [1, 1]))).toEqual(
      arr(data.time_bnds.subarray(0, 120)),
    );
    expect(arr(await ds.read('time', [59], [1]))).toEqual([59.5]);
    await ds.close();
  });

  it('leaves long records in place when asked (inPlace), as views of the block in order', async () => {
    // Records of 80 kB (above the in-place threshold) between a double per record.
    const [R, LAT, LON] = [7, 100, 200];
    const tas = Float32Array.from({ length: R * LAT * LON }, (_, k) => k * 0.25 - 3);
    const time = Float64Array.from({ length: R }, (_, k) => k + 0.5);
    const big: Netcdf3Schema = {
      format: 'classic',
      numRecords: R,
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: LAT },
        { name: 'lon', length: LON },
      ],
      variables: [
        { name: 'time', type: 'double', dimensions: ['time'] },
        { name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'] },
      ],
    };
    const ds = await Netcdf3File.open(new MemoryByteSource(await toBytes(big, { tas, time })));
    for (const sel of [{}, { start: [1, 0, 0], count: [3, LAT, LON], stride: [2, 1, 1] }] as const) {
      const s = sel as { start?: number[]; count?: number[]; stride?: number[] };
      const parts: Buffer[] = [];
      let withRuns = 0;
      for await (const chunk of ds.readRawChunks('tas', s.start, s.count, s.stride, {
        chunkBytes: 3 * LAT * LON * 4 + 100,
        // Reads through the skipped records too (the stride-2 selection).
        maxGapBytes: 1 << 20,
        inPlace: true,
      })) {
        if (chunk.runs) {
          withRuns++;
          for (const run of chunk.runs) {
            expect(run.buffer).toBe(chunk.data.buffer);
            expect(run.length).toBe(LAT * LON * 4);
          }
        }
        parts.push(...(chunk.runs ?? [chunk.data]).map((d) => Buffer.from(d)));
      }
      const want = bigEndian(await ds.read('tas', s.start, s.count, s.stride));
      expect(Buffer.concat(parts).equals(want)).toBe(true);
      expect(withRuns).toBeGreaterThan(0);
    }
    // Short runs (one longitude of every row) are moved together as without inPlace.
    for await (const chunk of ds.readRawChunks('tas', [0, 0, 0], [R, LAT, 1], [1, 1, 1], { inPlace: true }))
      expect(chunk.runs).toBeUndefined();
    await ds.close();
  });

  it('gives nothing for an empty selection and refuses bad ones like readChunks', async () => {
    const ds = await Netcdf3File.open(new MemoryByteSource(bytes));
    const empty = await rawBytes(ds, 'f', { start: [0, 0, 0], count: [0, Y, X] }, {});
    expect(empty.chunks).toBe(0);
    expect(() => ds.readRawChunks('nope')).toThrow(SelectionError);
    expect(() => ds.readRawChunks('f', [0, 0, 0], [T + 1, 1, 1])).toThrow(SelectionError);
  });
});

describe('NetCDF-3 variables over 2^31 - 1 bytes (sparse 64-bit offset files)', () => {
  const { execFileSync } = jest.requireActual<typeof import('node:child_process')>('node:child_process');
  const fs = jest.requireActual<typeof import('node:fs')>('node:fs');

  /** Writes the header and `values` (variable → [element index, value]) of a float-only schema; the rest are holes. */
  function sparse(path: string, schema: Netcdf3Schema, values: Record<string, [number, number][]>): void {
    const { header, layout } = planNetcdf3(schema);
    const fd = fs.openSync(path, 'w');
    try {
      fs.writeSync(fd, header, 0, header.length, 0);
      for (const [name, list] of Object.entries(values)) {
        const v = layout.variables.find((x) => x.name === name)!;
        for (const [index, value] of list) {
          const b = Buffer.alloc(4);
          b.writeFloatBE(value);
          const at = v.record
            ? v.begin +
              Math.floor(index / (v.sliceBytes / 4)) * layout.recordBytes +
              (index % (v.sliceBytes / 4)) * 4
            : v.begin + index * 4;
          fs.writeSync(fd, b, 0, 4, at);
        }
      }
      fs.ftruncateSync(fd, layout.fileBytes);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** ncks's value of one element (the reference reader). */
  const ncks = (path: string, name: string, dims: [string, number][]): number =>
    Number(
      execFileSync(
        'ncks',
        ['-H', '-C', '-s', '%.6g', '-v', name, ...dims.flatMap(([d, i]) => ['-d', `${d},${i}`]), path],
        { encoding: 'utf8' },
      ).trim(),
    );

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'climcat-cdf3-big-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a last fixed variable of 4.4 GB, whose vsize is the 2^32 - 1 marker, at both ends', async () => {
    const path = join(dir, 'fixed.nc');
    const ny = 1100;
    const nx = 1_000_000;
    sparse(
      path,
      {
        format: '64bit-offset',
        dimensions: [
          { name: 'y', length: ny },
          { name: 'x', length: nx },
        ],
        variables: [
          { name: 'small', type: 'float', dimensions: ['y'] },
          { name: 'big', type: 'float', dimensions: ['y', 'x'] },
        ],
      },
      {
        small: [[ny - 1, 7]],
        big: [
          [0, 1.5],
          [ny * nx - 1, 2.5],
          [(ny - 1) * nx + 3, 3.5],
        ],
      },
    );
    const header = await readCdf3Header(await FileByteSource.open(path));
    const big = header.variables.find((v) => v.name === 'big')!;
    expect(big.vsize).toBe(0xffffffff);
    expect(big.sliceBytes).toBe(ny * nx * 4);
    const file = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    try {
      expect(arr(await file.read('big', [0, 0], [1, 2]))).toEqual([1.5, 0]);
      expect(arr(await file.read('big', [ny - 1, 0], [1, 5], [1, 1]))).toEqual([0, 0, 0, 3.5, 0]);
      expect(arr(await file.read('big', [ny - 1, nx - 2], [1, 2]))).toEqual([0, 2.5]);
      expect(arr(await file.read('small', [ny - 1], [1]))).toEqual([7]);
    } finally {
      await file.close();
    }
    // netCDF-C reads the same values from the file our writer's header describes.
    expect(
      ncks(path, 'big', [
        ['y', ny - 1],
        ['x', nx - 1],
      ]),
    ).toBe(2.5);
    expect(
      ncks(path, 'big', [
        ['y', ny - 1],
        ['x', 3],
      ]),
    ).toBe(3.5);
  });

  it('reads a record variable whose record is 2.2 GB (vsize between 2^31 and 2^32)', async () => {
    const path = join(dir, 'record.nc');
    const nx = 550_000_000;
    sparse(
      path,
      {
        format: '64bit-offset',
        dimensions: [
          { name: 'time', length: 0, unlimited: true },
          { name: 'x', length: nx },
        ],
        variables: [{ name: 'wide', type: 'float', dimensions: ['time', 'x'] }],
        numRecords: 2,
      },
      {
        wide: [
          [nx - 1, 4.5],
          [nx, 5.5],
          [2 * nx - 1, 6.5],
        ],
      },
    );
    const header = await readCdf3Header(await FileByteSource.open(path));
    expect(header.variables[0]!.vsize).toBe(nx * 4);
    expect(header.recordBytes).toBe(nx * 4);
    const file = await Netcdf3File.open(await FileByteSource.open(path), { ownsSource: true });
    try {
      expect(arr(await file.read('wide', [0, nx - 1], [2, 1]))).toEqual([4.5, 6.5]);
      expect(arr(await file.read('wide', [1, 0], [1, 2]))).toEqual([5.5, 0]);
    } finally {
      await file.close();
    }
    expect(
      ncks(path, 'wide', [
        ['time', 1],
        ['x', nx - 1],
      ]),
    ).toBe(6.5);
  });
});
