import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { writeNetcdf3, type Netcdf3Data, type Netcdf3Schema } from '../cdf3/writer';
import { Netcdf3File } from '../cdf3/reader';
import { writeDemoArchive } from '../demo/demo-archive';
import { resolveDrs } from '../drs/drs';
import { CfError } from '../errors';
import { MemoryByteSource } from '../io/byte-source';
import { readCfSummary } from '../open';
import { extractCf } from './metadata';
import { unpackValues } from './unpack';

async function open(schema: Netcdf3Schema, data: Netcdf3Data): Promise<Netcdf3File> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  return Netcdf3File.open(new MemoryByteSource(new Uint8Array(Buffer.concat(chunks))));
}

describe('demo archive', () => {
  let root: string;
  let files: string[];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'climcat-demo-'));
    files = await writeDemoArchive(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('writes a few small files under DRS paths that parse cleanly', async () => {
    expect(files).toHaveLength(5);
    for (const f of files) {
      const s = await readCfSummary(f);
      const drs = resolveDrs(relative(root, f), s.globalAttributes, { variable: s.dataVariables[0] });
      expect(drs.problems).toEqual([]);
      expect(drs.disagreements).toEqual([]);
      expect(drs.instanceId).toBeDefined();
    }
  });

  it('decodes the 360_day CMIP5 file: coverage from bounds, global box, roles', async () => {
    const s = await readCfSummary(files[0] as string);
    expect(s.time).toMatchObject({
      variable: 'time',
      start: '2005-12-01T00:00:00',
      end: '2006-12-01T00:00:00',
      calendar: '360_day',
      fromBounds: true,
      length: 12,
    });
    expect(s.bbox).toEqual([-180, -90, 180, 90]);
    expect(s.dataVariables).toEqual(['tas']);
    expect(Object.fromEntries(s.variables.map((v) => [v.name, v.role]))).toEqual({
      time: 'coordinate',
      time_bnds: 'bounds',
      lat: 'coordinate',
      lat_bnds: 'bounds',
      lon: 'coordinate',
      lon_bnds: 'bounds',
      height: 'auxiliary',
      tas: 'data',
    });
    expect(s.variables.find((v) => v.name === 'tas')).toMatchObject({
      standardName: 'air_temperature',
      units: 'K',
      cellMethods: 'time: mean',
      fillValue: 1.0000000200408773e20,
      missingValue: [1.0000000200408773e20],
      coordinates: ['height'],
    });
  });

  it('decodes the rotated-pole CORDEX file in the 360_day calendar with a European box', async () => {
    const s = await readCfSummary(files[4] as string);
    expect(s.time).toMatchObject({
      start: '2006-02-01T00:00:00',
      end: '2006-03-01T00:00:00',
      calendar: '360_day',
    });
    expect(s.gridMapping).toEqual({
      variable: 'rotated_pole',
      name: 'rotated_latitude_longitude',
      gridNorthPoleLatitude: 39.25,
      gridNorthPoleLongitude: -162,
    });
    const [w, south, e, n] = s.bbox as number[];
    expect(w).toBeLessThan(-30);
    expect(e).toBeGreaterThan(40);
    expect(south).toBeGreaterThan(15);
    expect(n).toBeLessThan(75);
    expect(s.variables.find((v) => v.name === 'lat')?.role).toBe('auxiliary');
    expect(s.variables.find((v) => v.name === 'pr')?.gridMapping).toBe('rotated_pole');
  });
});

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
