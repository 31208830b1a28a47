/**
 * Files made by ncgen (netCDF-C) in every format are read by the library
 * and must agree with netCDF4-python and ncdump: dimensions, types,
 * attributes, every value, hyperslabs and decoded times.
 */
import {
  CfTime,
  attrString,
  extractCf,
  openNetcdf,
  type NcAttribute,
  type NcData,
  type NetcdfDataset,
} from '@climcat/netcdf';
import {
  makeTempDir,
  ncgen,
  normalizeNumber,
  oracle,
  requirePythonNetcdf,
  requireTool,
  run,
  type NcgenKind,
  type OracleValue,
} from './tools';

const FORMAT_NAMES: Record<string, string> = {
  NETCDF3_CLASSIC: 'classic',
  NETCDF3_64BIT_OFFSET: '64bit-offset',
  NETCDF3_64BIT_DATA: 'cdf5',
  NETCDF4: 'netcdf4',
  NETCDF4_CLASSIC: 'netcdf4-classic',
};

const NCDUMP_KINDS: Record<string, string> = {
  classic: 'classic',
  '64bit-offset': '64-bit offset',
  cdf5: 'cdf5',
  netcdf4: 'netCDF-4',
  'netcdf4-classic': 'netCDF-4 classic model',
};

function valuesOf(data: NcData): (number | string)[] {
  if (Array.isArray(data)) return data;
  return Array.from(data as ArrayLike<number | bigint>, normalizeNumber);
}

function attributeValue(a: NcAttribute): OracleValue {
  if (typeof a.value === 'string') return a.value;
  if (Array.isArray(a.value)) return a.value.length === 1 ? (a.value[0] as string) : a.value.join('');
  return valuesOf(a.value);
}

function oracleValues(v: OracleValue): (number | string)[] {
  return Array.isArray(v) ? v : [v];
}

function oracleAttribute(v: OracleValue): OracleValue {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') && v.length > 1 ? v.join('') : v;
}

const CASES: [string, NcgenKind[]][] = [
  ['cmip5_tas_amon.cdl', ['classic', '64-bit-offset', 'cdf5', 'nc4', 'nc7']],
  ['cordex_rotated.cdl', ['classic', '64-bit-offset', 'nc4']],
  ['types.cdl', ['classic', '64-bit-offset', 'cdf5', 'nc4', 'nc7']],
  ['lone_byte_record.cdl', ['classic', '64-bit-offset', 'cdf5']],
  ['nc4_features.cdl', ['nc4']],
];

describe.each(CASES)('%s', (fixture, kinds) => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    requireTool('ncgen');
    requireTool('ncdump');
    await requirePythonNetcdf();
    tmp = await makeTempDir('climcat-read-');
  });
  afterAll(() => tmp?.cleanup());

  describe.each(kinds)('as %s', (kind) => {
    let path: string;
    let ds: NetcdfDataset;
    beforeAll(async () => {
      path = await ncgen(fixture, kind, tmp.dir);
      ds = await openNetcdf(path);
    });
    afterAll(() => ds?.close());

    it('has the dimensions, variables, attributes and values netCDF4-python sees', async () => {
      const ref = await oracle(path);
      const meta = ds.metadata;
      expect(meta.format).toBe(FORMAT_NAMES[ref.data_model]);
      expect(meta.dimensions.map((d) => [d.name, d.length, d.unlimited])).toEqual(ref.dimensions);
      expect(Object.fromEntries(meta.globalAttributes.map((a) => [a.name, attributeValue(a)]))).toEqual(
        Object.fromEntries(Object.entries(ref.global).map(([k, v]) => [k, oracleAttribute(v)])),
      );
      expect(meta.variables.map((v) => v.name)).toEqual(ref.variables.map((v) => v.name));
      for (const rv of ref.variables) {
        const v = meta.variables.find((x) => x.name === rv.name);
        expect({ name: v?.name, type: v?.type, dimensions: v?.dimensions, shape: v?.shape }).toEqual({
          name: rv.name,
          type: rv.type,
          dimensions: rv.dimensions,
          shape: rv.shape,
        });
        expect(Object.fromEntries((v?.attributes ?? []).map((a) => [a.name, attributeValue(a)]))).toEqual(
          Object.fromEntries(Object.entries(rv.attributes).map(([k, x]) => [k, oracleAttribute(x)])),
        );
        const data = await ds.read(rv.name);
        // NetCDF-4 data comes from the HDF5 worker thread (another realm): check the tag, not instanceof.
        if (rv.type === 'float') expect(Object.prototype.toString.call(data)).toBe('[object Float32Array]');
        expect(valuesOf(data)).toEqual(oracleValues(rv.values));
      }
    });

    it('reports the format and declarations ncdump -h reports', async () => {
      const kindName = (await run(requireTool('ncdump'), ['-k', path])).trim();
      expect(kindName).toBe(NCDUMP_KINDS[ds.metadata.format]);
      const header = await run(requireTool('ncdump'), ['-h', path]);
      for (const d of ds.metadata.dimensions) {
        const line = d.unlimited
          ? `${d.name} = UNLIMITED ; // (${d.length} currently)`
          : `${d.name} = ${d.length} ;`;
        expect(header).toContain(`\t${line}\n`);
      }
      for (const v of ds.metadata.variables) {
        const dims = v.dimensions.length > 0 ? `(${v.dimensions.join(', ')})` : '';
        expect(header).toContain(`\t${v.type} ${v.name}${dims} ;\n`);
      }
    });

    it('reads hyperslabs equal to the same elements of the full variable', async () => {
      for (const v of ds.metadata.variables) {
        if (v.shape.length === 0 || v.shape.some((n) => n === 0)) continue;
        const full = valuesOf(await ds.read(v.name));
        const start = v.shape.map((n) => Math.min(1, n - 1));
        const stride = v.shape.map((n) => (n > 2 ? 2 : 1));
        const count = v.shape.map(
          (n, i) => Math.floor((n - 1 - (start[i] as number)) / (stride[i] as number)) + 1,
        );
        const expected: (number | string)[] = [];
        const strides = v.shape.map((_, i) => v.shape.slice(i + 1).reduce((a, b) => a * b, 1));
        const walk = (d: number, base: number): void => {
          if (d === v.shape.length) {
            expected.push(full[base] as number | string);
            return;
          }
          for (let k = 0; k < (count[d] as number); k++)
            walk(d + 1, base + ((start[d] as number) + k * (stride[d] as number)) * (strides[d] as number));
        };
        walk(0, 0);
        expect(valuesOf(await ds.read(v.name, start, count, stride))).toEqual(expected);
        const streamed: (number | string)[] = [];
        for await (const chunk of ds.readChunks(v.name, start, count, stride, { chunkBytes: 8 }))
          streamed.push(...valuesOf(chunk.data));
        expect(streamed).toEqual(expected);
      }
    });

    it('decodes times as ncdump -t does', async () => {
      const tv = ds.metadata.variables.find((v) => /since/.test(attrString(v.attributes, 'units') ?? ''));
      if (!tv) return;
      const out = await run(requireTool('ncdump'), ['-t', '-v', tv.name, path]);
      const section = out.slice(out.indexOf(`${tv.name} =`, out.indexOf('data:')));
      const dumped = [...section.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
      const time = CfTime.parse(attrString(tv.attributes, 'units'), attrString(tv.attributes, 'calendar'));
      const ours = valuesOf(await ds.read(tv.name))
        .map(Number)
        .filter((x) => Math.abs(x) < 1e15)
        .map((x) => time.decodeIso(x));
      // ncdump prints "2005-12-16 12" for 2005-12-16T12:00:00: compare on its precision.
      expect(ours.map((iso, i) => iso.replace('T', ' ').slice(0, (dumped[i] ?? '').length))).toEqual(
        dumped.slice(0, ours.length),
      );
    });
  });
});

describe('CF summaries of ncgen files', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    requireTool('ncgen');
    tmp = await makeTempDir('climcat-cf-');
  });
  afterAll(() => tmp?.cleanup());

  it('CMIP5 360_day: coverage from bounds, global box', async () => {
    const ds = await openNetcdf(await ncgen('cmip5_tas_amon.cdl', 'classic', tmp.dir));
    const s = await extractCf(ds);
    await ds.close();
    expect(s.time).toMatchObject({
      start: '2005-12-01T00:00:00',
      end: '2006-04-01T00:00:00',
      calendar: '360_day',
    });
    expect(s.bbox).toEqual([-180, -90, 180, 90]);
    expect(s.dataVariables).toEqual(['tas']);
  });

  it.each<NcgenKind>(['classic', 'nc4'])('CORDEX rotated pole (%s): box from 2-D lat/lon', async (kind) => {
    const ds = await openNetcdf(await ncgen('cordex_rotated.cdl', kind, tmp.dir));
    const s = await extractCf(ds);
    await ds.close();
    expect(s.time).toMatchObject({
      start: '2006-01-01T00:00:00',
      end: '2006-01-04T00:00:00',
      calendar: 'standard',
    });
    expect(s.bbox).toEqual([-30.16991, 21.98783, 50.6977, 59.98818]);
    expect(s.gridMapping?.name).toBe('rotated_latitude_longitude');
    expect(s.variables.find((v) => v.name === 'rotated_pole')?.role).toBe('grid_mapping');
    expect(s.variables.find((v) => v.name === 'lat')?.role).toBe('auxiliary');
  });

  it('NetCDF-4 deflated noleap file', async () => {
    const ds = await openNetcdf(await ncgen('nc4_features.cdl', 'nc4', tmp.dir));
    const s = await extractCf(ds);
    await ds.close();
    expect(s.format).toBe('netcdf4');
    expect(s.time).toMatchObject({
      start: '2006-01-01T00:00:00',
      end: '2006-01-06T00:00:00',
      calendar: 'noleap',
    });
    expect(s.bbox).toEqual([100, 10, 120, 20]);
  });

  it.each([
    ['bad_calendar.cdl', 'UNKNOWN_CALENDAR'],
    ['bad_units.cdl', 'BAD_UNITS'],
  ])('%s gives a CfError %s naming the variable', async (fixture, code) => {
    const ds = await openNetcdf(await ncgen(fixture, 'classic', tmp.dir));
    await expect(extractCf(ds)).rejects.toMatchObject({ code, variable: 'time' });
    await ds.close();
  });
});
