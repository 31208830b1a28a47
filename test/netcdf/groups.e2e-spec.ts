/**
 * NetCDF-4 files with nested groups (netCDF-C's enhanced model), made by
 * ncgen: every group's dimensions, variables, attributes and values agree
 * with netCDF4-python, named by full path as NCO and nc_inq_varid do
 * ("forecast/tas"), and hyperslabs of group variables equal Python's slices.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Hdf5Worker,
  NetcdfFormatError,
  openNetcdf,
  type NcAttribute,
  type NcData,
  type NetcdfDataset,
} from '@climcat/netcdf';
import {
  FIXTURES,
  makeTempDir,
  ncgen,
  normalizeNumber,
  oracle,
  oracleHyperslab,
  requirePythonNetcdf,
  requireTool,
  run,
  type Oracle,
  type OracleValue,
} from './tools';

function valuesOf(data: NcData): (number | string)[] {
  if (Array.isArray(data)) return data;
  return Array.from(data as ArrayLike<number | bigint>, normalizeNumber);
}

/** Our attribute in the oracle's spelling (one string, or a list of strings/numbers). */
function attributeValue(a: NcAttribute): OracleValue {
  if (typeof a.value === 'string') return a.value;
  if (Array.isArray(a.value)) return a.value.length === 1 ? (a.value[0] as string) : a.value;
  return valuesOf(a.value);
}

function attributes(list: readonly NcAttribute[]): Record<string, OracleValue> {
  return Object.fromEntries(list.map((a) => [a.name, attributeValue(a)]));
}

function oracleValues(v: OracleValue): (number | string)[] {
  return Array.isArray(v) ? v : [v];
}

describe('NetCDF-4 groups (groups.cdl)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let path: string;
  let ds: NetcdfDataset;
  let ref: Oracle;
  beforeAll(async () => {
    requireTool('ncgen');
    requireTool('ncdump');
    await requirePythonNetcdf();
    tmp = await makeTempDir('climcat-groups-');
    path = await ncgen('groups.cdl', 'nc4', tmp.dir);
    ds = await openNetcdf(path);
    ref = await oracle(path);
  });
  afterAll(async () => {
    await ds?.close();
    await tmp?.cleanup();
  });

  it('sees the groups netCDF4-python sees, with their attributes', () => {
    expect(ref.groups.map((g) => g.name)).toEqual(['forecast', 'forecast/step', 'empty']);
    expect((ds.metadata.groups ?? []).map((g) => g.name)).toEqual(ref.groups.map((g) => g.name));
    for (const g of ref.groups) {
      const ours = ds.metadata.groups?.find((x) => x.name === g.name);
      expect(attributes(ours?.attributes ?? [])).toEqual(g.attributes);
    }
    expect(attributes(ds.metadata.globalAttributes)).toEqual(ref.global);
  });

  it('lists every group dimension with its full name and length', () => {
    const expected = [...ref.dimensions, ...ref.groups.flatMap((g) => g.dimensions)];
    expect(ds.metadata.dimensions.map((d) => [d.name, d.length, d.unlimited])).toEqual(expected);
    expect(ds.metadata.dimensions.map((d) => d.name)).toEqual([
      'time',
      'lat',
      'forecast/member',
      'forecast/lead',
      'forecast/step/lat',
    ]);
  });

  it('lists every variable with its full name, type, dimensions, attributes and values', async () => {
    const expected = [...ref.variables, ...ref.groups.flatMap((g) => g.variables)];
    expect(ds.metadata.variables.map((v) => v.name)).toEqual(expected.map((v) => v.name));
    for (const rv of expected) {
      const v = ds.metadata.variables.find((x) => x.name === rv.name);
      expect({ name: v?.name, type: v?.type, dimensions: v?.dimensions, shape: v?.shape }).toEqual({
        name: rv.name,
        type: rv.type,
        dimensions: rv.dimensions,
        shape: rv.shape,
      });
      expect(attributes(v?.attributes ?? [])).toEqual(rv.attributes);
      expect(valuesOf(await ds.read(rv.name))).toEqual(oracleValues(rv.values));
    }
    // A root dimension and a group dimension; a shadowing one in the nested group.
    expect(ds.metadata.variables.find((v) => v.name === 'forecast/tas')?.dimensions).toEqual([
      'forecast/member',
      'lat',
    ]);
    expect(ds.metadata.variables.find((v) => v.name === 'forecast/step/counts')?.dimensions).toEqual([
      'time',
      'forecast/step/lat',
      'forecast/lead',
    ]);
  });

  it('declares what ncdump -h declares in each group', async () => {
    const header = await run(requireTool('ncdump'), ['-h', path]);
    const short = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
    for (const v of ds.metadata.variables) {
      const dims = v.dimensions.length > 0 ? `(${v.dimensions.map(short).join(', ')})` : '';
      expect(header).toContain(`\t${v.type} ${short(v.name)}${dims} ;\n`);
    }
    for (const g of ds.metadata.groups ?? []) expect(header).toContain(`group: ${short(g.name)} {`);
  });

  it('keeps CF roles of the root and classifies group coordinates', () => {
    const role = (name: string): string | undefined =>
      ds.metadata.variables.find((v) => v.name === name)?.role;
    expect([role('time'), role('lat'), role('tas')]).toEqual(['coordinate', 'coordinate', 'data']);
    expect([role('forecast/member'), role('forecast/step/lat'), role('forecast/tas')]).toEqual([
      'coordinate',
      'coordinate',
      'data',
    ]);
  });

  it.each<[string, number[], number[], number[]]>([
    ['forecast/tas', [1, 0], [3, 2], [1, 1]],
    ['forecast/tas', [0, 1], [2, 1], [2, 1]],
    ['forecast/anomaly', [1, 0, 1], [2, 2, 1], [1, 2, 1]],
    ['forecast/step/counts', [0, 1, 0], [2, 2, 2], [2, 1, 2]],
  ])(
    'reads the hyperslab %s start %j count %j stride %j as netCDF4-python does',
    async (name, start, count, stride) => {
      const expected = oracleValues(await oracleHyperslab(path, name, start, count, stride));
      expect(valuesOf(await ds.read(name, start, count, stride))).toEqual(expected);
      const streamed: (number | string)[] = [];
      for await (const chunk of ds.readChunks(name, start, count, stride, { chunkBytes: 4 }))
        streamed.push(...valuesOf(chunk.data));
      expect(streamed).toEqual(expected);
    },
  );

  it('has no groups field for a root-only NetCDF-4 file', async () => {
    const flat = await openNetcdf(await ncgen('nc4_features.cdl', 'nc4', tmp.dir));
    try {
      expect(flat.metadata.groups).toBeUndefined();
      expect(flat.metadata.variables.every((v) => !v.name.includes('/'))).toBe(true);
    } finally {
      await flat.close();
    }
  });
});

describe('groups in plain and hostile HDF5 files', () => {
  const hdf5 = new Hdf5Worker({ timeoutMs: 20_000, maxOldGenerationSizeMb: 256 });
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    requireTool('ncgen');
    tmp = await makeTempDir('climcat-groups-bad-');
  });
  afterAll(async () => {
    await hdf5.shutdown();
    await tmp?.cleanup();
  });

  /** A netCDF-4 file (made by ncgen) with `levels` nested groups and a variable in the innermost. */
  async function nested(levels: number): Promise<string> {
    const names = Array.from({ length: levels }, (_, i) => `g${i}`);
    const cdl =
      'netcdf nested {\ndimensions:\n\tn = 2 ;\n' +
      names.map((g) => `group: ${g} {\n`).join('') +
      'variables:\n\tint v(n) ;\ndata:\n v = 7, 8 ;\n' +
      names.map(() => '}\n').join('') +
      '}\n';
    const cdlPath = join(tmp.dir, `nested${levels}.cdl`);
    const out = join(tmp.dir, `nested${levels}.nc`);
    await writeFile(cdlPath, cdl);
    await run(requireTool('ncgen'), ['-k', 'nc4', '-o', out, cdlPath]);
    return out;
  }

  it('resolves DIMENSION_LIST scales across groups in HDF5 without netCDF-C attributes', async () => {
    const path = join(FIXTURES, 'hdf5_scales_groups.h5');
    const ref = await oracle(path);
    const ds = await openNetcdf(path, { worker: hdf5 });
    try {
      expect(ds.metadata.dimensions.map((d) => [d.name, d.length, d.unlimited])).toEqual([
        ...ref.dimensions,
        ...ref.groups.flatMap((g) => g.dimensions),
      ]);
      const expected = [...ref.variables, ...ref.groups.flatMap((g) => g.variables)];
      expect(ds.metadata.variables.map((v) => [v.name, v.dimensions, v.shape])).toEqual(
        expected.map((v) => [v.name, v.dimensions, v.shape]),
      );
      for (const rv of expected) expect(valuesOf(await ds.read(rv.name))).toEqual(oracleValues(rv.values));
      expect(ds.metadata.groups?.map((g) => [g.name, attributes(g.attributes)])).toEqual(
        ref.groups.map((g) => [g.name, g.attributes]),
      );
    } finally {
      await ds.close();
    }
  });

  it('reads 32 nested groups and refuses 33 with a typed error', async () => {
    const ok = await openNetcdf(await nested(32), { worker: hdf5 });
    try {
      const inner = `${Array.from({ length: 32 }, (_, i) => `g${i}`).join('/')}/v`;
      expect(ok.metadata.variables.map((v) => [v.name, v.dimensions])).toEqual([[inner, ['n']]]);
      expect(valuesOf(await ok.read(inner))).toEqual([7, 8]);
    } finally {
      await ok.close();
    }
    const path = await nested(33);
    const e = await openNetcdf(path, { worker: hdf5 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NetcdfFormatError);
    expect(e).toMatchObject({ code: 'UNSUPPORTED', path });
    expect((e as Error).message).toMatch(/deeper than 32/);
  });

  it('stops on groups hard-linked into themselves (netCDF-C walks them forever)', async () => {
    const path = join(FIXTURES, 'hdf5_cyclic_groups.h5');
    const e = await openNetcdf(path, { worker: hdf5 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NetcdfFormatError);
    expect(e).toMatchObject({ path });
    expect(['UNSUPPORTED', 'ABSURD_SIZE']).toContain((e as NetcdfFormatError).code);
    // The worker is still usable afterwards.
    const ds = await openNetcdf(join(FIXTURES, 'hdf5_scales_groups.h5'), { worker: hdf5 });
    await ds.close();
  });
});
