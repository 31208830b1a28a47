import { PassThrough } from 'node:stream';
import { writeNetcdf3, type Netcdf3Schema } from '../cdf3/writer';
import { applyConstraint, dapDataset, renderDds } from '../dap2';
import { MemoryByteSource } from '../io/byte-source';
import { attrString, toNumbers, type NcArray } from '../model';
import { openNetcdf } from '../open';
import {
  AggregatedDataset,
  AggregationError,
  planAggregation,
  WARNINGS_ATTRIBUTE,
  type AggregationMember,
} from './aggregated-dataset';

const NLAT = 2;
const NLON = 3;

interface FileSpec {
  name: string;
  units: string;
  times: number[];
  /** Value of tas[t][0][0] for the first record; the rest follow. */
  first: number;
  lat?: number[];
  timeType?: 'double' | 'int';
}

async function write(spec: FileSpec): Promise<Uint8Array> {
  const schema: Netcdf3Schema = {
    dimensions: [
      { name: 'time', length: 0, unlimited: true },
      { name: 'lat', length: NLAT },
      { name: 'lon', length: NLON },
      { name: 'bnds', length: 2 },
    ],
    variables: [
      {
        name: 'time',
        type: spec.timeType ?? 'double',
        dimensions: ['time'],
        attributes: [
          { name: 'units', value: spec.units },
          { name: 'calendar', value: '360_day' },
          { name: 'bounds', value: 'time_bnds' },
        ],
      },
      { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
      { name: 'lat', type: 'double', dimensions: ['lat'] },
      { name: 'lon', type: 'double', dimensions: ['lon'] },
      { name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'] },
    ],
    globalAttributes: [{ name: 'title', value: spec.name }],
    numRecords: spec.times.length,
  };
  const n = spec.times.length;
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on('data', (c: Buffer) => parts.push(c));
  await writeNetcdf3(sink, schema, {
    time: spec.timeType === 'int' ? Int32Array.from(spec.times) : Float64Array.from(spec.times),
    time_bnds: Float64Array.from(spec.times.flatMap((t) => [t - 15, t + 15])),
    lat: Float64Array.from(spec.lat ?? [-45, 45]),
    lon: Float64Array.from([0, 120, 240]),
    tas: Float32Array.from({ length: n * NLAT * NLON }, (_, i) => spec.first + i),
  });
  return new Uint8Array(Buffer.concat(parts));
}

/** Members over in-memory files, counting how often each is opened. */
async function members(
  specs: FileSpec[],
): Promise<{ list: AggregationMember[]; opens: Map<string, number> }> {
  const opens = new Map<string, number>();
  const list: AggregationMember[] = [];
  for (const spec of specs) {
    const bytes = await write(spec);
    list.push({
      name: spec.name,
      open: async () => {
        opens.set(spec.name, (opens.get(spec.name) ?? 0) + 1);
        const dataset = await openNetcdf(new MemoryByteSource(bytes));
        return { dataset, close: () => dataset.close() };
      },
    });
  }
  return { list, opens };
}

// Monthly 360_day files: 2005-12..2006-02, 2006-03..2006-05 (other units), 2006-06..2006-08.
const A: FileSpec = { name: 'a.nc', units: 'days since 2005-12-01', times: [15, 45, 75], first: 0 };
const B: FileSpec = { name: 'b.nc', units: 'days since 2006-01-01', times: [75, 105, 135], first: 18 };
const C: FileSpec = { name: 'c.nc', units: 'days since 2005-12-01', times: [195, 225, 255], first: 36 };
const expectedTimes = [15, 45, 75, 105, 135, 165, 195, 225, 255];

describe('AggregatedDataset', () => {
  it('orders files by time, joins the record dimension and re-bases times to the earliest units', async () => {
    const { list } = await members([C, A, B]);
    const plan = await planAggregation(list);
    expect(plan.members.map((m) => [m.name, m.offset, m.length, m.units])).toEqual([
      ['a.nc', 0, 3, undefined],
      ['b.nc', 3, 3, 'days since 2006-01-01'],
      ['c.nc', 6, 3, undefined],
    ]);
    const ds = new AggregatedDataset(plan, (i) => (list[[1, 2, 0][i] as number] as AggregationMember).open());
    expect(ds.metadata.dimensions.find((d) => d.name === 'time')?.length).toBe(9);
    expect(ds.metadata.recordCount).toBe(9);
    expect(ds.metadata.variables.find((v) => v.name === 'tas')?.shape).toEqual([9, NLAT, NLON]);
    expect(attrString(ds.metadata.globalAttributes, 'title')).toBe('a.nc');
    expect(toNumbers((await ds.read('time')) as NcArray)).toEqual(expectedTimes);
    // Bounds are re-based on read, like the times.
    expect(toNumbers((await ds.read('time_bnds', [3, 0], [1, 2])) as NcArray)).toEqual([90, 120]);
    expect(toNumbers((await ds.read('lat')) as NcArray)).toEqual([-45, 45]);
    // A strided hyperslab across the a/b/c boundaries: records 1, 3, 5, 7 at [1][2].
    const tas = toNumbers((await ds.read('tas', [1, 1, 2], [4, 1, 1], [2, 1, 1])) as NcArray);
    expect(tas).toEqual([6 + 5, 18 + 5, 18 + 12 + 5, 36 + 6 + 5]);
  });

  it('reads only the files a hyperslab touches', async () => {
    const { list, opens } = await members([A, B, C]);
    const plan = await planAggregation(list);
    opens.clear();
    const ds = new AggregatedDataset(plan, (i) => (list[i] as AggregationMember).open());
    const tas = toNumbers((await ds.read('tas', [2, 0, 0], [2, NLAT, NLON])) as NcArray);
    expect(tas.slice(0, 6)).toEqual([12, 13, 14, 15, 16, 17]);
    expect(tas.slice(6)).toEqual([18, 19, 20, 21, 22, 23]);
    expect(Object.fromEntries(opens)).toEqual({ 'a.nc': 1, 'b.nc': 1 });
    opens.clear();
    await ds.read('time');
    expect(opens.size).toBe(0);
  });

  it('works under the DAP2 layer unchanged', async () => {
    const { list } = await members([A, B, C]);
    const ds = new AggregatedDataset(await planAggregation(list), (i) =>
      (list[i] as AggregationMember).open(),
    );
    const dap = dapDataset(ds.metadata, 'agg');
    expect(renderDds(dap, applyConstraint(dap, 'tas[0:8][0][0]'))).toContain(
      'Float32 tas[time = 9][lat = 1][lon = 1];',
    );
  });

  it('converts integer times of one file to the double type of the aggregation', async () => {
    const { list } = await members([
      A,
      { ...B, timeType: 'int', units: 'days since 2005-12-01', times: [105, 135, 165] },
      C,
    ]);
    const plan = await planAggregation(list);
    expect(plan.metadata.variables.find((v) => v.name === 'time')?.type).toBe('double');
    const ds = new AggregatedDataset(plan, (i) => (list[i] as AggregationMember).open());
    expect(toNumbers((await ds.read('time')) as NcArray)).toEqual(expectedTimes);
  });

  it('reports gaps and overlaps in a global attribute', async () => {
    const { list } = await members([
      A,
      { ...C, times: [225, 255, 285] },
      { ...B, name: 'b2.nc', units: A.units, times: [60, 90, 120] },
    ]);
    const plan = await planAggregation(list);
    expect(plan.warnings).toEqual([
      'overlap: b2.nc starts at 2006-02-01T00:00:00, before a.nc ends at 2006-02-16T00:00:00',
      'gap: b2.nc ends at 2006-04-01T00:00:00, c.nc starts at 2006-07-16T00:00:00',
    ]);
    expect(attrString(plan.metadata.globalAttributes, WARNINGS_ATTRIBUTE)).toContain('gap: b2.nc');
    // Structured for the catalog: the later file of each pair.
    expect(plan.issues.map((w) => [w.code, w.file])).toEqual([
      ['time-overlap', 'b2.nc'],
      ['time-gap', 'c.nc'],
    ]);
  });

  it('refuses a file whose coordinates, dimensions or variables disagree, naming it', async () => {
    const bad = await members([A, { ...B, units: A.units, times: [105, 135, 165], lat: [-40, 45] }, C]);
    await expect(planAggregation(bad.list)).rejects.toThrow(
      new AggregationError('b.nc', 'coordinate lat differs at index 0: -40, but -45 in a.nc'),
    );
    const spec = { ...C, name: 'ctime.nc' };
    const { list } = await members([A, spec]);
    const other = await members([{ ...A, name: 'noleap.nc', times: [400] }]);
    const calendarFile: AggregationMember = {
      name: 'noleap.nc',
      open: async () => {
        const opened = await (other.list[0] as AggregationMember).open();
        const time = opened.dataset.metadata.variables.find((v) => v.name === 'time')!;
        time.attributes = time.attributes.map((a) => (a.name === 'calendar' ? { ...a, value: 'noleap' } : a));
        return opened;
      },
    };
    await expect(planAggregation([...list, calendarFile])).rejects.toThrow(
      'noleap.nc: calendar is noleap, but 360_day in a.nc',
    );
  });
});
