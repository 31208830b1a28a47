/**
 * Files written by the library must be read by netCDF-C (ncdump) and
 * netCDF4-python with identical values, in every NetCDF-3 flavour.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_FILL,
  Netcdf3Writer,
  stringsToChars,
  writeNetcdf3,
  type Netcdf3Format,
  type Netcdf3Schema,
} from '@climcat/netcdf';
import { makeTempDir, oracle, requirePythonNetcdf, requireTool, run } from './tools';

const f32 = (xs: number[]): number[] => xs.map((x) => Math.fround(x));

function schemaFor(format: Netcdf3Format): Netcdf3Schema {
  const cdf5 = format === 'cdf5';
  return {
    format,
    numRecords: 3,
    dimensions: [
      { name: 'time', length: 0, unlimited: true },
      { name: 'y', length: 2 },
      { name: 'x', length: 3 },
      { name: 'nchar', length: 5 },
    ],
    globalAttributes: [
      { name: 'title', value: 'written by climcat — ünïcode' },
      { name: 'att_byte', type: 'byte', value: [-128, 127] },
      { name: 'att_short', type: 'short', value: [-32768, 32767] },
      { name: 'att_int', type: 'int', value: [-2147483648, 2147483647] },
      { name: 'att_float', type: 'float', value: [0.1, 3.4028234663852886e38] },
      { name: 'att_double', type: 'double', value: [0.1, -1e-300] },
      ...(cdf5
        ? [
            { name: 'att_ubyte', type: 'ubyte' as const, value: [255] },
            { name: 'att_ushort', type: 'ushort' as const, value: [65535] },
            { name: 'att_uint', type: 'uint' as const, value: [4294967295] },
            { name: 'att_int64', type: 'int64' as const, value: [-(2n ** 63n)] },
            { name: 'att_uint64', type: 'uint64' as const, value: [2n ** 64n - 1n] },
          ]
        : []),
    ],
    variables: [
      {
        name: 'time',
        type: 'double',
        dimensions: ['time'],
        attributes: [
          { name: 'units', value: 'days since 1949-12-1 00:00:00' },
          { name: 'calendar', value: '360_day' },
        ],
      },
      { name: 'names', type: 'char', dimensions: ['y', 'nchar'] },
      {
        name: 'b',
        type: 'byte',
        dimensions: ['y', 'x'],
        attributes: [{ name: '_FillValue', type: 'byte', value: [-1] }],
      },
      { name: 's', type: 'short', dimensions: ['x'] },
      { name: 'i', type: 'int', dimensions: ['y', 'x'] },
      {
        name: 'tas',
        type: 'float',
        dimensions: ['time', 'y', 'x'],
        attributes: [
          { name: '_FillValue', type: 'float', value: [1e20] },
          { name: 'standard_name', value: 'air_temperature' },
        ],
      },
      { name: 'flag', type: 'short', dimensions: ['time'] },
      { name: 'label', type: 'char', dimensions: ['time', 'nchar'] },
      ...(cdf5
        ? [
            { name: 'u8', type: 'ubyte' as const, dimensions: ['x'] },
            { name: 'i64', type: 'int64' as const, dimensions: ['x'] },
          ]
        : []),
      { name: 'scalar', type: 'double', dimensions: [] },
    ],
  };
}

describe.each<Netcdf3Format>(['classic', '64bit-offset', 'cdf5'])('writer output as %s', (format) => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let path: string;
  beforeAll(async () => {
    requireTool('ncdump');
    await requirePythonNetcdf();
    tmp = await makeTempDir('climcat-write-');
    path = join(tmp.dir, `out.${format}.nc`);
    // Stream into a Writable, partly through the slot API: b stays partly filled.
    const w = await Netcdf3Writer.create(createWriteStream(path), schemaFor(format));
    await w.write('names', stringsToChars(['Ålesund', 'Bergen'], 5));
    await w.write('b', Int8Array.of(1, 2));
    await w.completeSlot();
    await w.write('s', Int16Array.of(-5, 0, 5));
    await w.write('i', Int32Array.of(1, -2, 3, -4, 5, -6));
    if (format === 'cdf5') {
      await w.write('u8', Uint8Array.of(0, 128, 255));
      await w.write('i64', BigInt64Array.of(-(2n ** 62n), 0n, 2n ** 62n));
    }
    await w.write('scalar', [Math.E]);
    for (let r = 0; r < 3; r++) {
      await w.write('time', [15 + 30 * r], r);
      if (r !== 1)
        await w.write(
          'tas',
          Float32Array.from({ length: 6 }, (_, k) => 273.15 + r + k / 10),
          r,
        );
      await w.write('flag', [r * 100], r);
      await w.write('label', new TextEncoder().encode(`rec${r}`), r);
      await w.completeSlot();
    }
    await w.close();
  });
  afterAll(() => tmp?.cleanup());

  it('is accepted by ncdump with the right kind', async () => {
    expect((await run(requireTool('ncdump'), ['-k', path])).trim()).toBe(
      { classic: 'classic', '64bit-offset': '64-bit offset', cdf5: 'cdf5' }[format],
    );
    const dump = await run(requireTool('ncdump'), [path]);
    expect(dump).toContain('tas:standard_name = "air_temperature" ;');
    expect(dump).toContain('time = UNLIMITED ; // (3 currently)');
  });

  it('has the values netCDF4-python reads', async () => {
    const ref = await oracle(path);
    const values = Object.fromEntries(ref.variables.map((v) => [v.name, v.values]));
    const fillF = Math.fround(1e20);
    expect(values.time).toEqual([15, 45, 75]);
    expect(values.b).toEqual([1, 2, -1, -1, -1, -1]);
    expect(values.s).toEqual([-5, 0, 5]);
    expect(values.i).toEqual([1, -2, 3, -4, 5, -6]);
    expect(values.tas).toEqual([
      ...f32([273.15, 273.25, 273.35, 273.45, 273.55, 273.65]),
      ...new Array<number>(6).fill(fillF),
      ...f32([275.15, 275.25, 275.35, 275.45, 275.55, 275.65]),
    ]);
    expect(values.flag).toEqual([0, 100, 200]);
    expect(Buffer.from(values.label as number[]).toString()).toBe('rec0\0rec1\0rec2\0');
    expect(Buffer.from(values.names as number[]).toString('utf8')).toBe('Åles' + 'Berge');
    expect(values.scalar).toEqual([Math.E]);
    if (format === 'cdf5') {
      expect(values.u8).toEqual([0, 128, 255]);
      expect(values.i64).toEqual([String(-(2n ** 62n)), '0', String(2n ** 62n)]);
      expect(ref.global.att_int64).toEqual([String(-(2n ** 63n))]);
      expect(ref.global.att_uint64).toEqual([String(2n ** 64n - 1n)]);
      expect(ref.global.att_ushort).toEqual([65535]);
    }
    expect(ref.global).toMatchObject({
      title: 'written by climcat — ünïcode',
      att_byte: [-128, 127],
      att_short: [-32768, 32767],
      att_int: [-2147483648, 2147483647],
      att_float: f32([0.1, 3.4028234663852886e38]),
      att_double: [0.1, -1e-300],
    });
    expect(ref.variables.find((v) => v.name === 'b')?.attributes).toEqual({ _FillValue: [-1] });
  });

  it('fills unwritten values with netCDF-C default fill values', async () => {
    const p = join(tmp.dir, `defaults.${format}.nc`);
    await writeNetcdf3(
      p,
      {
        format,
        dimensions: [{ name: 'n', length: 2 }],
        variables: (['byte', 'short', 'int', 'float', 'double'] as const).map((type) => ({
          name: `v_${type}`,
          type,
          dimensions: ['n'],
        })),
      },
      {},
    );
    const ref = await oracle(p);
    for (const v of ref.variables) {
      const type = v.name.slice(2) as 'byte' | 'short' | 'int' | 'float' | 'double';
      const fill = DEFAULT_FILL[type] as number;
      expect(v.values).toEqual([fill, fill].map((x) => (type === 'float' ? Math.fround(x) : x)));
    }
  });
});

describe('lone byte record variable written by the library', () => {
  it('is packed the way netCDF-C reads it', async () => {
    await requirePythonNetcdf();
    const tmp = await makeTempDir('climcat-lone-');
    try {
      const p = join(tmp.dir, 'lone.nc');
      await writeNetcdf3(
        p,
        {
          numRecords: 5,
          dimensions: [
            { name: 't', length: 0, unlimited: true },
            { name: 'n', length: 3 },
          ],
          variables: [{ name: 'flag', type: 'byte', dimensions: ['t', 'n'] }],
        },
        { flag: Int8Array.from({ length: 15 }, (_, i) => i - 7) },
      );
      const ref = await oracle(p);
      expect(ref.variables[0]?.values).toEqual(Array.from({ length: 15 }, (_, i) => i - 7));
    } finally {
      await tmp.cleanup();
    }
  });
});
