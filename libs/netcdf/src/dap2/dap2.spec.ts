import { PassThrough } from 'node:stream';
import { writeNetcdf3, type Netcdf3Data, type Netcdf3Schema } from '../cdf3/writer';
import type { NetcdfDataset } from '../dataset';
import { MemoryByteSource } from '../io/byte-source';
import { openNetcdf } from '../open';
import {
  ConstraintError,
  MAX_CONSTRAINT_LENGTH,
  applyConstraint,
  decodeQueryOnce,
  parseConstraint,
} from './constraint';
import { formatFloat32, renderDas } from './das';
import { dapDataset, dapName, projectAll, renderDds, type DapDataset } from './dds';
import { checkResponseSize, estimateSize, splitSuggestion } from './size';
import { encodeDods } from './xdr';
import { encodeAscii } from './ascii';

const schema: Netcdf3Schema = {
  dimensions: [
    { name: 'time', length: 0, unlimited: true },
    { name: 'lat', length: 3 },
    { name: 'lon', length: 4 },
    { name: 'len', length: 5 },
  ],
  variables: [
    {
      name: 'time',
      type: 'double',
      dimensions: ['time'],
      attributes: [{ name: 'units', value: 'days since 2000-01-01' }],
    },
    { name: 'lat', type: 'float', dimensions: ['lat'], attributes: [] },
    { name: 'lon', type: 'float', dimensions: ['lon'], attributes: [] },
    {
      name: 'tas',
      type: 'float',
      dimensions: ['time', 'lat', 'lon'],
      attributes: [
        { name: '_FillValue', value: Float32Array.of(1e20) },
        { name: 'long_name', value: 'say "hi" \\ bye' },
      ],
    },
    {
      name: 'flag',
      type: 'byte',
      dimensions: ['lat'],
      attributes: [{ name: '_FillValue', value: Int8Array.of(-1) }],
    },
    { name: 'level', type: 'short', dimensions: ['lon'], attributes: [] },
    { name: 'station', type: 'char', dimensions: ['lat', 'len'], attributes: [] },
    { name: 'scalar', type: 'int', dimensions: [], attributes: [] },
  ],
  globalAttributes: [
    { name: 'title', value: 'unit' },
    { name: 'bytes', type: 'byte', value: Int8Array.of(-1, 2) },
  ],
  numRecords: 6,
};

const data: Netcdf3Data = {
  time: Float64Array.from([0, 1, 2, 3, 4, 5]),
  lat: Float32Array.from([-45, 0, 45]),
  lon: Float32Array.from([0, 90, 180, 270]),
  tas: Float32Array.from({ length: 72 }, (_, i) => i + 0.5),
  flag: Int8Array.from([-100, 0, 100]),
  level: Int16Array.from([-2, -1, 1, 2]),
  station: new Uint8Array(Buffer.from('ABCDEFGH\0\0XY\0\0\0')),
  scalar: Int32Array.of(-7),
};

let dataset: NetcdfDataset;
let dap: DapDataset;

beforeAll(async () => {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  dataset = await openNetcdf(new MemoryByteSource(new Uint8Array(Buffer.concat(chunks))));
  dap = dapDataset(dataset.metadata, 'unit.nc');
});
afterAll(() => dataset.close());

async function dods(constraint: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of encodeDods(dataset, applyConstraint(dap, constraint))) parts.push(b);
  return Buffer.concat(parts);
}

describe('constraint parsing', () => {
  it('reads projections, members and the three hyperslab forms (stop inclusive)', () => {
    expect(parseConstraint('tas[1][0:2][0:2:3], tas.lat ,time')).toEqual([
      [
        {
          name: 'tas',
          slices: [
            { start: 1, stride: 1, stop: 1 },
            { start: 0, stride: 1, stop: 2 },
            { start: 0, stride: 2, stop: 3 },
          ],
        },
      ],
      [
        { name: 'tas', slices: [] },
        { name: 'lat', slices: [] },
      ],
      [{ name: 'time', slices: [] }],
    ]);
    expect(parseConstraint('')).toEqual([]);
  });

  it.each([
    ['tas[0', /unbalanced/],
    ['tas]', /"\]" without "\["/],
    ['tas[a]', /expected an index/],
    ['tas[-1]', /negative index/],
    ['tas,', /expected a variable name/],
    ['tas tas', /expected "," between projections/],
    ['tas&time>1', /selections/],
    ['grid(tas)', /server functions/],
    [`tas[${'9'.repeat(30)}]`, /too large/],
  ])('refuses %s', (text, message) => {
    expect(() => parseConstraint(text)).toThrow(ConstraintError);
    expect(() => parseConstraint(text)).toThrow(message);
  });

  it('refuses a constraint longer than the limit without scanning it', () => {
    expect(() => parseConstraint('a,'.repeat(MAX_CONSTRAINT_LENGTH))).toThrow(/longer than/);
  });

  it('handles 10,000 projections in linear time', () => {
    const text = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? 'tas.lat[0:1]' : 'time[1:2]')).join(',');
    const started = process.hrtime.bigint();
    const projected = applyConstraint(dap, text);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
    expect(projected.map((p) => p.name)).toEqual(['time', 'tas']);
  });

  it('decodes percent-encoding exactly once', () => {
    expect(decodeQueryOnce('tas%5B0%5D')).toBe('tas[0]');
    expect(decodeQueryOnce('tas%255B0%255D')).toBe('tas%5B0%5D');
    expect(() => decodeQueryOnce('tas%5')).toThrow(ConstraintError);
  });
});

describe('DDS', () => {
  it('declares Grids, arrays, char as String over the leading dimensions, scalars', () => {
    expect(renderDds(dap, projectAll(dap))).toBe(
      [
        'Dataset {',
        '    Float64 time[time = 6];',
        '    Float32 lat[lat = 3];',
        '    Float32 lon[lon = 4];',
        '    Grid {',
        '      ARRAY:',
        '        Float32 tas[time = 6][lat = 3][lon = 4];',
        '      MAPS:',
        '        Float64 time[time = 6];',
        '        Float32 lat[lat = 3];',
        '        Float32 lon[lon = 4];',
        '    } tas;',
        '    Byte flag[lat = 3];',
        '    Int16 level[lon = 4];',
        '    String station[lat = 3];',
        '    Int32 scalar;',
        '} unit.nc;',
        '',
      ].join('\n'),
    );
  });

  it('keeps a Grid when sliced as a whole, a Structure when only some members are asked for', () => {
    const grid = applyConstraint(dap, 'tas[0:2:5][1][1:3]');
    expect(grid[0]).toMatchObject({ kind: 'grid' });
    expect(renderDds(dap, grid)).toContain('Float32 tas[time = 3][lat = 1][lon = 3];');
    expect(renderDds(dap, grid)).toContain('Float64 time[time = 3];');
    const part = applyConstraint(dap, 'tas.tas[0][0][0],tas.lon');
    expect(part[0]).toMatchObject({ kind: 'structure' });
  });

  it('names the variables that exist and the size of the dimension', () => {
    expect(() => applyConstraint(dap, 'nope')).toThrow(
      /no variable "nope".*time, lat, lon, tas, flag, level, station, scalar/,
    );
    expect(() => applyConstraint(dap, 'tas[0][3]')).toThrow(
      /dimension lat \(size 3, indices 0\.\.2\): index 3/,
    );
    expect(() => applyConstraint(dap, 'tas[0:0:1]')).toThrow(/stride 0/);
    expect(() => applyConstraint(dap, 'tas[2:1]')).toThrow(/start 2 is after stop 1/);
    expect(() => applyConstraint(dap, 'scalar[0]')).toThrow(/0 dimensions but 1/);
    expect(() => applyConstraint(dap, 'tas.x')).toThrow(/members are tas, time, lat, lon/);
  });

  it('escapes names DAP2 cannot carry as %XX', () => {
    expect(dapName('forecast/tas')).toBe('forecast%2Ftas');
    expect(dapName('a.b c')).toBe('a%2Eb%20c');
    expect(dapName('Tür')).toBe('T%C3%BCr');
  });
});

describe('DAS', () => {
  const das = () => renderDas(dap);
  it('has a table per variable, NC_GLOBAL, DODS_EXTRA and char lengths', () => {
    expect(das()).toContain('    lat {\n    }\n');
    expect(das()).toContain('        Int32 DODS.strlen 5;\n        String DODS.dimName "len";\n');
    expect(das()).toContain(
      '    NC_GLOBAL {\n        String title "unit";\n        Int16 bytes -1, 2;\n    }\n',
    );
    expect(das()).toContain('    DODS_EXTRA {\n        String Unlimited_Dimension "time";\n    }\n');
  });

  it('types fills as the variable and escapes strings', () => {
    expect(das()).toContain('        Float32 _FillValue 1e+20;\n');
    expect(das()).toContain('        Byte _FillValue 255;\n');
    expect(das()).toContain('        String long_name "say \\"hi\\" \\\\ bye";\n');
  });

  it('prints float32 values with the fewest digits that read back the same', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(Math.fround(3.4028235e38))).toBe('3.4028235e+38');
    expect(formatFloat32(Math.fround(1e-45))).toBe('1e-45');
    expect(formatFloat32(NaN)).toBe('NaN');
  });
});

describe('XDR', () => {
  it('writes counts twice before primitive arrays and big-endian values', async () => {
    const b = await dods('lat');
    expect(b.readUInt32BE(0)).toBe(3);
    expect(b.readUInt32BE(4)).toBe(3);
    expect([b.readFloatBE(8), b.readFloatBE(12), b.readFloatBE(16)]).toEqual([-45, 0, 45]);
    expect(b.length).toBe(20);
  });

  it('pads Byte arrays to 4 and widens Int16 to 4 bytes', async () => {
    const b = await dods('flag,level[1:3]');
    expect([...b.subarray(0, 12)]).toEqual([0, 0, 0, 3, 0, 0, 0, 3, 156, 0, 100, 0]);
    expect(b.readUInt32BE(12)).toBe(3);
    expect([b.readInt32BE(20), b.readInt32BE(24), b.readInt32BE(28)]).toEqual([-1, 1, 2]);
  });

  it('sends strings with one count, length, bytes and padding; scalars bare', async () => {
    const b = await dods('station[1:2],scalar');
    expect(b.readUInt32BE(0)).toBe(2);
    // "FGH" (NULs trimmed) and "XY", each padded to 4 bytes
    expect([...b.subarray(4, 20)]).toEqual([0, 0, 0, 3, 70, 71, 72, 0, 0, 0, 0, 2, 88, 89, 0, 0]);
    expect(b.readInt32BE(20)).toBe(-7);
    expect(b.length).toBe(24);
  });

  it('sends a strided Grid: array then maps', async () => {
    const b = await dods('tas[1:2:5][2][0:3:3]');
    // array: 3 × 1 × 2 floats
    expect(b.readUInt32BE(0)).toBe(6);
    const tas = [0, 1, 2, 3, 4, 5].map((i) => b.readFloatBE(8 + 4 * i));
    const at = (t: number, y: number, x: number) => t * 12 + y * 4 + x + 0.5;
    expect(tas).toEqual([at(1, 2, 0), at(1, 2, 3), at(3, 2, 0), at(3, 2, 3), at(5, 2, 0), at(5, 2, 3)]);
    // time map: 1, 3, 5
    expect(b.readUInt32BE(32)).toBe(3);
    expect([0, 1, 2].map((i) => b.readDoubleBE(40 + 8 * i))).toEqual([1, 3, 5]);
    expect(b.length).toBe(estimateSize(applyConstraint(dap, 'tas[1:2:5][2][0:3:3]')));
  });

  it('stops reading when the consumer stops', async () => {
    const reads: number[] = [];
    const spy = {
      ...dataset,
      metadata: dataset.metadata,
      readChunks: (...args: Parameters<NetcdfDataset['readChunks']>) => {
        reads.push(1);
        return dataset.readChunks(...args);
      },
    } as NetcdfDataset;
    const it = encodeDods(spy, applyConstraint(dap, 'time,lat,lon'));
    // count, count, then the first data chunk of time
    for (let i = 0; i < 3; i++) await it.next();
    await it.return(undefined);
    expect(reads).toHaveLength(1);
  });
});

describe('XDR from stored bytes (NetCDF-3 raw chunks)', () => {
  /** The dataset with its reads counted; `raw: false` leaves out readRawChunks (the swapped path). */
  function counted(raw: boolean): { ds: NetcdfDataset; calls: { raw: number; swapped: number } } {
    const calls = { raw: 0, swapped: 0 };
    const ds: NetcdfDataset = {
      metadata: dataset.metadata,
      description: dataset.description,
      read: (...args) => dataset.read(...args),
      readChunks: (...args) => {
        calls.swapped++;
        return dataset.readChunks(...args);
      },
      close: () => Promise.resolve(),
    };
    if (raw && dataset.readRawChunks) {
      const readRaw = dataset.readRawChunks.bind(dataset);
      ds.readRawChunks = (...args) => {
        calls.raw++;
        return readRaw(...args);
      };
    }
    return { ds, calls };
  }
  async function collect(ds: NetcdfDataset, constraint: string, chunkBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of encodeDods(ds, applyConstraint(dap, constraint), { chunkBytes })) parts.push(b);
    return Buffer.concat(parts);
  }

  it.each([
    ['tas', 'float record variable, whole'],
    ['tas[1:2:5][2][0:3:3]', 'strided Grid with its double and float maps'],
    ['tas.tas[0:1:5][1:2][1:2]', 'record runs of two values'],
    ['flag', 'Byte array padded to 4'],
    ['flag[0:2:2]', 'strided Byte array'],
    ['scalar,lat,lon,time', 'Int32 scalar and 1-D maps'],
  ])('sends %s (%s) as the swapped path re-encodes it', async (constraint) => {
    for (const chunkBytes of [4, 8, 1 << 20]) {
      const raw = counted(true);
      const swapped = counted(false);
      const got = await collect(raw.ds, constraint, chunkBytes);
      const want = await collect(swapped.ds, constraint, chunkBytes);
      expect({ chunkBytes, equal: got.equals(want) }).toEqual({ chunkBytes, equal: true });
      expect(got.length).toBe(estimateSize(applyConstraint(dap, constraint)));
      expect(raw.calls.raw).toBeGreaterThan(0);
      expect(swapped.calls.raw).toBe(0);
    }
  });

  it('widens Int16 from the swapped path, and hands each chunk over as memory of its own', async () => {
    const raw = counted(true);
    const parts: Buffer[] = [];
    for await (const b of encodeDods(raw.ds, applyConstraint(dap, 'level,tas.tas'), { chunkBytes: 48 }))
      parts.push(b);
    expect(raw.calls).toEqual({ raw: 1, swapped: 1 });
    // Kept until the end (as a socket may keep them) and still the right values.
    const b = Buffer.concat(parts);
    // Dataset order: tas (counts, 72 floats), then level (counts, 4 widened shorts).
    expect(Array.from({ length: 72 }, (_, i) => b.readFloatBE(8 + 4 * i))).toEqual(
      Array.from({ length: 72 }, (_, i) => i + 0.5),
    );
    expect([0, 1, 2, 3].map((i) => b.readInt32BE(304 + 4 * i))).toEqual([-2, -1, 1, 2]);
    expect(b.length).toBe(320);
    const buffers = parts.filter((p) => p.length >= 48).map((p) => p.buffer);
    expect(new Set(buffers).size).toBe(buffers.length);
  });

  it('stops reading when the consumer stops', async () => {
    const reads: number[] = [];
    const source = counted(true).ds;
    const readRaw = source.readRawChunks as NonNullable<NetcdfDataset['readRawChunks']>;
    source.readRawChunks = (...args) => {
      const chunks = readRaw(...args);
      return {
        next: () => {
          reads.push(1);
          return chunks.next();
        },
        return: (value?: unknown) =>
          chunks.return ? chunks.return(value) : Promise.resolve({ done: true, value }),
        [Symbol.asyncIterator]() {
          return this;
        },
      } as ReturnType<typeof readRaw>;
    };
    const it = encodeDods(source, applyConstraint(dap, 'tas'), { chunkBytes: 48 });
    // count, count, then the first data chunk
    for (let i = 0; i < 3; i++) await it.next();
    await it.return(undefined);
    expect(reads).toHaveLength(1);
  });
});

describe('size limits', () => {
  it('estimates exactly what is sent (char strings: at most, as NULs are trimmed)', async () => {
    for (const c of ['time,tas', 'flag,level', 'tas.tas[0][0:1][0:3:3],tas.time', 'scalar']) {
      const b = await dods(c);
      expect([c, b.length]).toEqual([c, estimateSize(applyConstraint(dap, c))]);
    }
    expect((await dods('station')).length).toBeLessThanOrEqual(estimateSize(applyConstraint(dap, 'station')));
  });

  it('suggests a split along the first dimension whose pieces each fit', () => {
    const projected = applyConstraint(dap, 'tas');
    const limit = 200;
    const text = splitSuggestion(projected, limit);
    const pieces = [...text.matchAll(/tas\[(\d+):(\d+)\]/g)].map((m) => `tas[${m[1]}:${m[2]}]`);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) expect(estimateSize(applyConstraint(dap, p))).toBeLessThanOrEqual(limit);
    expect(() => checkResponseSize(projected, limit, 'THREDDS_BIN_LIMIT')).toThrow(
      /about \d+ bytes \(\d+ bytes\), over this server's THREDDS_BIN_LIMIT of 200 bytes.*tas\[0:\d+\]/,
    );
  });

  it('says what to constrain when one index is already too big', () => {
    expect(splitSuggestion(applyConstraint(dap, 'tas'), 30)).toMatch(/one time index of tas is already/);
  });
});

describe('ASCII', () => {
  it('prints rows of the last dimension with the leading indices', async () => {
    let text = '';
    for await (const s of encodeAscii(dataset, applyConstraint(dap, 'tas.tas[0:1][0][0:1],station,scalar')))
      text += s;
    expect(text).toBe(
      'tas.tas[2][1][2]\n[0][0], 0.5, 1.5\n[1][0], 12.5, 13.5\n\n' +
        'station[3]\n"ABCDE", "FGH", "XY"\n\nscalar\n-7\n\n',
    );
  });
});
