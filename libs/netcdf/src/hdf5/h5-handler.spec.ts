import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  failureOf,
  findH5wasm,
  fromAsciiDecoded,
  H5Failure,
  H5Handler,
  hdf5Reason,
  loadH5wasm,
  stringBytes,
  toTyped,
  typeOf,
  type H5Module,
} from './h5-handler';
import type { OpenResult } from './h5-protocol';

const FIXTURES = join(__dirname, '../../test-fixtures');

describe('HDF5 type mapping', () => {
  it.each([
    [{ type: 0, size: 1, signed: true }, 'byte'],
    [{ type: 0, size: 1, signed: false }, 'ubyte'],
    [{ type: 0, size: 2, signed: true }, 'short'],
    [{ type: 0, size: 4, signed: false }, 'uint'],
    [{ type: 0, size: 8, signed: true }, 'int64'],
    [{ type: 1, size: 4, signed: false }, 'float'],
    [{ type: 1, size: 8, signed: false }, 'double'],
    [{ type: 3, size: 1, signed: false, vlen: false }, 'char'],
    [{ type: 3, size: 8, signed: false, vlen: true }, 'string'],
  ])('maps %j to %s', (meta, type) => {
    expect(typeOf(meta, 'v')).toBe(type);
  });

  it('refuses compound and half-precision types naming where', () => {
    expect(() => typeOf({ type: 6, size: 16, signed: false }, 'tas:cplx')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED', field: 'tas:cplx' }),
    );
    expect(() => typeOf({ type: 1, size: 2, signed: false }, 'h')).toThrow(/type class 1 \(size 2\)/);
  });

  it('turns plain numbers into the typed array of the NetCDF type', () => {
    expect(toTyped('byte', [-1, 2])).toEqual(Int8Array.of(-1, 2));
    expect(toTyped('ushort', 7)).toEqual(Uint16Array.of(7));
    expect(toTyped('float', [0.5])).toEqual(Float32Array.of(0.5));
    expect(toTyped('uint64', [3])).toEqual(BigUint64Array.of(3n));
    expect(toTyped('char', 'x')).toBeUndefined();
  });

  it('recovers UTF-8 text that h5wasm decoded as windows-1252', () => {
    const asCp1252 = [...Buffer.from('Zürich €', 'utf8')]
      .map((b) => new TextDecoder('windows-1252').decode(Uint8Array.of(b)))
      .join('');
    expect(fromAsciiDecoded(asCp1252, 0)).toBe('Zürich €');
    expect(fromAsciiDecoded('plain', 0)).toBe('plain');
    expect(fromAsciiDecoded('Zürich', 1)).toBe('Zürich');
    expect(Array.from(stringBytes('é', 1))).toEqual([0xc3, 0xa9]);
  });
});

describe('worker failures', () => {
  const stack = [
    'HDF5-DIAG: Error detected in HDF5 (1.14.2) thread 0:',
    '  #000: H5F.c line 836 in H5Fopen(): unable to open file',
    '  #001: H5Fsuper.c line 600 in H5F__super_read(): truncated file: eof = 96, sblock->base_addr = 0',
  ].join('\n');

  it('names the innermost HDF5 error of the diagnostics', () => {
    expect(hdf5Reason(stack)).toBe(
      ' [HDF5 H5F__super_read(): truncated file: eof = 96, sblock->base_addr = 0]',
    );
    expect(hdf5Reason('nothing useful')).toBe('');
  });

  it('keeps the code and field of refusals and marks aborts fatal', () => {
    expect(failureOf(new H5Failure('ABSURD_SIZE', 'too big', 'v:a'), '')).toEqual({
      code: 'ABSURD_SIZE',
      message: 'too big',
      field: 'v:a',
      fatal: false,
    });
    const abort = Object.assign(new Error('Aborted(native code called abort())'), { name: 'RuntimeError' });
    expect(failureOf(abort, stack)).toMatchObject({ code: 'HDF5', fatal: true });
    expect(failureOf(abort, stack).message).toContain('[HDF5 H5F__super_read()');
  });
});

describe('H5Handler on h5wasm in-process', () => {
  let h5: H5Module;
  let handler: H5Handler;
  let dir: string;
  beforeAll(async () => {
    h5 = await loadH5wasm(findH5wasm());
    handler = new H5Handler(h5);
    dir = await mkdtemp(join(tmpdir(), 'climcat-h5-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('opens plain HDF5 with dimension scales in groups, slices and closes', () => {
    const { handle, meta } = handler.handle({
      id: 1,
      op: 'open',
      path: join(FIXTURES, 'hdf5_scales_groups.h5'),
    }) as OpenResult;
    expect(handler.openFiles).toBe(1);
    expect(meta.format).toBe('netcdf4');
    expect(meta.variables.map((v) => [v.name, v.dimensions, v.shape])).toEqual([
      ['x', ['x'], [4]],
      ['sub/y', ['sub/y'], [3]],
      ['sub/v', ['x', 'sub/y'], [4, 3]],
    ]);
    expect(meta.groups).toEqual([
      { name: 'sub', attributes: [{ name: 'title', type: 'string', value: 'plain HDF5 group' }] },
    ]);
    const values = handler.handle({
      id: 2,
      op: 'slice',
      handle,
      name: 'sub/v',
      type: 'double',
      start: [1, 0],
      count: [2, 2],
      stride: [2, 2],
    });
    expect(Array.from(values as Float64Array)).toEqual([3, 5, 9, 11]);
    handler.handle({ id: 3, op: 'close', handle });
    expect(handler.openFiles).toBe(0);
    expect(() =>
      handler.handle({
        id: 4,
        op: 'slice',
        handle,
        name: 'x',
        type: 'double',
        start: [0],
        count: [1],
        stride: [1],
      }),
    ).toThrow('file handle is not open in the HDF5 worker');
  });

  it('bounds the walk of a cyclic group graph', () => {
    expect(() =>
      handler.handle({ id: 5, op: 'open', path: join(FIXTURES, 'hdf5_cyclic_groups.h5') }),
    ).toThrow(H5Failure);
    expect(handler.openFiles).toBe(0);
  });

  it('refuses a file that is not HDF5 with an HDF5 failure', async () => {
    const path = join(dir, 'not-hdf5.nc');
    await writeFile(path, 'CDF\x01 but not really');
    expect(() => handler.handle({ id: 6, op: 'open', path })).toThrow(
      expect.objectContaining({ code: 'HDF5', message: expect.stringContaining('cannot open') as unknown }),
    );
  });
});
