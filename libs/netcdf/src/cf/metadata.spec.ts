import { PassThrough } from 'node:stream';
import { writeNetcdf3, type Netcdf3Data, type Netcdf3Schema } from '../cdf3/writer';
import { Netcdf3File } from '../cdf3/reader';
import { CfError } from '../errors';
import { MemoryByteSource } from '../io/byte-source';
import { extractCf } from './metadata';
import { unpackValues } from './unpack';

async function open(schema: Netcdf3Schema, data: Netcdf3Data): Promise<Netcdf3File> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  return Netcdf3File.open(new MemoryByteSource(new Uint8Array(Buffer.concat(chunks))));
}

describe('extractCf', () => {
  const base = (units: string, calendar: string): { schema: Netcdf3Schema; data: Netcdf3Data } => ({
    schema: {
      dimensions: [
        { name: 'time', length: 2 },
        { name: 'lon', length: 3 },
        { name: 'lat', length: 2 },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: [
            { name: 'units', value: units },
            { name: 'calendar', value: calendar },
          ],
        },
        {
          name: 'lon',
          type: 'float',
          dimensions: ['lon'],
          attributes: [{ name: 'units', value: 'degrees_east' }],
        },
        {
          name: 'lat',
          type: 'float',
          dimensions: ['lat'],
          attributes: [{ name: 'units', value: 'degrees_north' }],
        },
        {
          name: 'v',
          type: 'short',
          dimensions: ['time', 'lat', 'lon'],
          attributes: [
            { name: 'scale_factor', type: 'float', value: [0.5] },
            { name: 'add_offset', type: 'float', value: [100] },
            { name: '_FillValue', type: 'short', value: [-999] },
          ],
        },
      ],
    },
    data: { time: [0, 1], lon: [170, 180, 190], lat: [-5, 5], v: [1, 2, 3, -999, 5, 6, 7, 8, 9, 10, 11, 12] },
  });

  it('gives west > east for a grid across the antimeridian', async () => {
    const { schema, data } = base('days since 2000-01-01', 'noleap');
    const s = await extractCf(await open(schema, data));
    expect(s.bbox).toEqual([170, -5, -170, 5]);
    expect(s.time).toMatchObject({
      start: '2000-01-01T00:00:00',
      end: '2000-01-02T00:00:00',
      fromBounds: false,
    });
  });

  it('throws CfError for an unknown calendar, or records it when lenient', async () => {
    const { schema, data } = base('days since 2000-01-01', 'mayan');
    const ds = await open(schema, data);
    await expect(extractCf(ds)).rejects.toThrow(CfError);
    const lenient = await extractCf(ds, { strict: false });
    expect(lenient.time).toBeUndefined();
    expect(lenient.problems[0]).toMatchObject({ code: 'UNKNOWN_CALENDAR', variable: 'time' });
    expect(lenient.bbox).toEqual([170, -5, -170, 5]);
  });

  it('throws CfError naming the variable for unparseable units', async () => {
    const { schema, data } = base('days since the big bang', 'standard');
    await expect(extractCf(await open(schema, data))).rejects.toMatchObject({
      code: 'BAD_UNITS',
      variable: 'time',
    });
  });

  it('unpacks scale_factor/add_offset and masks fill values', async () => {
    const { schema, data } = base('days since 2000-01-01', 'standard');
    const ds = await open(schema, data);
    const v = ds.metadata.variables.find((x) => x.name === 'v');
    const out = unpackValues(v as NonNullable<typeof v>, await ds.read('v', [0, 0, 0], [1, 2, 2]));
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([100.5, 101, NaN, 102.5]);
  });
});
