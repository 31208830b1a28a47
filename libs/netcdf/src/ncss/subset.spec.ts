import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { FileByteSource } from '../io/file-byte-source';
import { MemoryByteSource } from '../io/byte-source';
import { openNetcdf } from '../open';
import {
  encodeValues,
  planNetcdf3,
  writeNetcdf3,
  type Netcdf3Data,
  type Netcdf3Schema,
} from '../cdf3/writer';
import type { NetcdfDataset } from '../dataset';
import { toNumbers, type NcArray } from '../model';
import { parseNcssQuery } from './params';
import { planSubset, readPlanned, writeSubset } from './subset';

const text = (name: string, value: string) => ({ name, type: 'char' as const, value });

async function toBytes(schema: Netcdf3Schema, data: Netcdf3Data): Promise<Uint8Array> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeNetcdf3(sink, schema, data);
  return new Uint8Array(Buffer.concat(chunks));
}

/** 0..360 grid of 8 longitudes × 4 latitudes, `nt` days in noleap, time unlimited. */
async function grid(nt: number): Promise<NetcdfDataset> {
  const lon = Float64Array.from({ length: 8 }, (_, i) => i * 45);
  const lat = Float64Array.from([-67.5, -22.5, 22.5, 67.5]);
  const bytes = await toBytes(
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: 4 },
        { name: 'lon', length: 8 },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: [text('units', 'days since 2001-01-01'), text('calendar', 'noleap')],
        },
        { name: 'lat', type: 'double', dimensions: ['lat'], attributes: [text('units', 'degrees_north')] },
        { name: 'lon', type: 'double', dimensions: ['lon'], attributes: [text('units', 'degrees_east')] },
        { name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [text('units', 'K')] },
      ],
      globalAttributes: [text('history', 'made by a spec')],
      numRecords: nt,
    },
    {
      time: Float64Array.from({ length: nt }, (_, i) => i + 0.5),
      lat,
      lon,
      tas: Float32Array.from({ length: nt * 32 }, (_, i) => i),
    },
  );
  return openNetcdf(new MemoryByteSource(bytes));
}

/** The same file without readRawChunks: every value decoded and encoded again. */
function decodingOnly(ds: NetcdfDataset): NetcdfDataset {
  return {
    metadata: ds.metadata,
    description: ds.description,
    readChunks: ds.readChunks.bind(ds),
    read: ds.read.bind(ds),
    close: () => ds.close(),
  };
}

/** The whole NCSS answer of `plan` from `source`, as bytes. */
async function answer(source: NetcdfDataset, plan: Awaited<ReturnType<typeof planSubset>>): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeSubset(source, plan, sink);
  return Buffer.concat(chunks);
}

describe('planSubset + writeSubset', () => {
  it('knows the exact size before writing, and writes the planned cells', async () => {
    const ds = await grid(10);
    const q = parseNcssQuery(
      'var=tas&north=30&south=0&west=-50&east=50&time_start=2001-01-03&time_end=2001-01-06&timeStride=2',
    );
    const plan = await planSubset(ds, q, { request: '/thredds/ncss/grid/x?var=tas' });
    // lon cells (-22.5..22.5 around 0, 22.5..67.5 around 45, 292.5..337.5 around 315 as -45): 7, 0, 1; lat 22.5: 2.
    expect(plan.dimensions.get('lon')?.indices).toEqual([7, 0, 1]);
    expect(plan.dimensions.get('lat')?.indices).toEqual([2]);
    expect(plan.times).toEqual([2, 4]);
    expect(toNumbers(await readPlanned(ds, plan, 'lon'))).toEqual([-45, 0, 45]);
    expect(toNumbers(await readPlanned(ds, plan, 'tas'))).toEqual([
      2 * 32 + 2 * 8 + 7,
      2 * 32 + 16,
      2 * 32 + 17,
      4 * 32 + 2 * 8 + 7,
      4 * 32 + 16,
      4 * 32 + 17,
    ]);
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await writeSubset(ds, plan, sink);
    const out = new Uint8Array(Buffer.concat(chunks));
    expect(out.length).toBe(plan.fileBytes);
    expect(plan.format).toBe('classic');
    const back = await openNetcdf(new MemoryByteSource(out));
    expect(back.metadata.recordCount).toBe(2);
    expect(toNumbers((await back.read('lon')) as NcArray)).toEqual([-45, 0, 45]);
    const history = back.metadata.globalAttributes.find((a) => a.name === 'history')?.value as string;
    expect(history).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ climcat NetCDF Subset Service: \/thredds\/ncss\/grid\/x\?var=tas\nmade by a spec$/,
    );
  });

  it('copies stored bytes (NetCDF-3 input) to the same answer, byte for byte, as decoding and encoding', async () => {
    const ds = await grid(40);
    const decoding = decodingOnly(ds);
    for (const query of [
      'var=tas',
      'var=tas&north=30&south=-30&west=40&east=100',
      // Across the 0/360 seam: two runs of longitudes (and shifted lon values, decoded).
      'var=tas&north=70&south=-70&west=-50&east=50',
      'var=tas&horizStride=2&timeStride=3&time_start=2001-01-05&time_end=2001-02-05',
      'var=tas&latitude=20&longitude=100',
    ]) {
      const plan = await planSubset(ds, parseNcssQuery(query), { request: 'r' });
      const raw = await answer(ds, plan);
      expect(raw.length).toBe(plan.fileBytes);
      expect(raw.equals(await answer(decoding, plan))).toBe(true);
    }
  });

  it('copies a local file (read-worker jobs) byte for byte as decoding: interleaved record variables, edges, strides', async () => {
    // 96 × 144 floats a record for tas and pr, between time and time_bnds: each answer's record
    // batches span many 1 MiB read buffers, and a buffer ends inside a record.
    const [NT, NY, NX] = [60, 96, 144];
    const dir = mkdtempSync(join(tmpdir(), 'climcat-ncss-file-'));
    const path = join(dir, 'two.nc');
    const dims = ['time', 'lat', 'lon'];
    await writeNetcdf3(
      path,
      {
        dimensions: [
          { name: 'time', length: 0, unlimited: true },
          { name: 'bnds', length: 2 },
          { name: 'lat', length: NY },
          { name: 'lon', length: NX },
        ],
        variables: [
          {
            name: 'time',
            type: 'double',
            dimensions: ['time'],
            attributes: [
              text('units', 'days since 2001-01-01'),
              text('calendar', 'noleap'),
              text('bounds', 'time_bnds'),
            ],
          },
          { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
          { name: 'lat', type: 'double', dimensions: ['lat'], attributes: [text('units', 'degrees_north')] },
          { name: 'lon', type: 'double', dimensions: ['lon'], attributes: [text('units', 'degrees_east')] },
          { name: 'tas', type: 'float', dimensions: dims, attributes: [text('units', 'K')] },
          { name: 'pr', type: 'float', dimensions: dims, attributes: [text('units', 'kg m-2 s-1')] },
        ],
        numRecords: NT,
      },
      {
        time: Float64Array.from({ length: NT }, (_, i) => i + 0.5),
        time_bnds: Float64Array.from({ length: 2 * NT }, (_, i) => (i >> 1) + (i & 1)),
        lat: Float64Array.from({ length: NY }, (_, j) => -90 + (j + 0.5) * (180 / NY)),
        lon: Float64Array.from({ length: NX }, (_, i) => (i + 0.5) * (360 / NX)),
        tas: Float32Array.from({ length: NT * NY * NX }, (_, i) => i * 0.5),
        pr: Float32Array.from({ length: NT * NY * NX }, (_, i) => -i),
      },
    );
    try {
      const ds = await openNetcdf(await FileByteSource.open(path));
      const decoding = decodingOnly(ds);
      for (const query of [
        'var=tas,pr',
        // The grid's north-east corner (last rows and columns).
        'var=tas,pr&north=90&south=30&west=200&east=360',
        // The south-west corner, strided in space and time.
        'var=pr&north=-20&south=-90&west=0&east=100&horizStride=3&timeStride=2',
        'var=tas&north=10&south=-10&west=100&east=101',
        'var=tas,pr&latitude=89&longitude=359',
      ]) {
        const plan = await planSubset(ds, parseNcssQuery(query), { request: 'r' });
        const raw = await answer(ds, plan);
        expect({ query, bytes: raw.length }).toEqual({ query, bytes: plan.fileBytes });
        expect({ query, equal: raw.equals(await answer(decoding, plan)) }).toEqual({ query, equal: true });
      }
      await ds.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an answer over the limit with a split along time that fits', async () => {
    const ds = await grid(100);
    const q = parseNcssQuery('var=tas');
    await expect(
      planSubset(ds, q, { request: 'r', limit: { bytes: 4000, name: 'THREDDS_BIN_LIMIT' } }),
    ).rejects.toThrow(
      /over this server's THREDDS_BIN_LIMIT .*split it along time into 4 requests of at most 25 times \(each at most 3.97 kB\): time_start=2001-01-01T12:00:00&time_end=2001-01-25T12:00:00, time_start=2001-01-26T12:00:00/,
    );
  });

  it('fails (does not hang) when the target is destroyed mid-answer', async () => {
    const ds = await grid(3000);
    const plan = await planSubset(ds, parseNcssQuery('var=tas'), { request: 'r' });
    const sink = new PassThrough({ highWaterMark: 1024 });
    sink.once('data', () => sink.destroy());
    sink.resume();
    await expect(writeSubset(ds, plan, sink)).rejects.toThrow(/closed before the subset was written/);
  });

  it('does not fail a target that closes after the whole answer was written (a consumer still buffering it)', async () => {
    const ds = await grid(40);
    const plan = await planSubset(ds, parseNcssQuery('var=tas'), { request: 'r' });
    // As in the server: the stream is piped on (an error listener attached) and read as fast as written,
    // so its 'close' (a nextTick after 'finish') comes before the writer's promise settles.
    const sink = new PassThrough();
    const errors: Error[] = [];
    sink.on('error', (e: Error) => errors.push(e));
    let bytes = 0;
    sink.on('data', (c: Buffer) => (bytes += c.length));
    await writeSubset(ds, plan, sink);
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([]);
    expect(bytes).toBe(plan.fileBytes);
  });

  it('plans 64-bit offset once the answer passes 2 GiB (a sparse 2.2 GB source), classic below', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'climcat-ncss-2gib-'));
    const path = join(dir, 'big.nc');
    try {
      // time is a fixed dimension so the coordinates sit before the data; tas and pr are holes.
      // Two variables of 1.1 GB each (one of 2.2 GB would do as well: see cdf3.spec.ts).
      const nt = 5_000;
      const schema: Netcdf3Schema = {
        format: '64bit-offset',
        dimensions: [
          { name: 'time', length: nt },
          { name: 'lat', length: 192 },
          { name: 'lon', length: 288 },
        ],
        variables: [
          {
            name: 'time',
            type: 'double',
            dimensions: ['time'],
            attributes: [text('units', 'days since 2001-01-01'), text('calendar', '360_day')],
          },
          { name: 'lat', type: 'double', dimensions: ['lat'], attributes: [text('units', 'degrees_north')] },
          { name: 'lon', type: 'double', dimensions: ['lon'], attributes: [text('units', 'degrees_east')] },
          {
            name: 'tas',
            type: 'float',
            dimensions: ['time', 'lat', 'lon'],
            attributes: [text('units', 'K')],
          },
          { name: 'pr', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [] },
        ],
        globalAttributes: [],
      };
      const { header, layout } = planNetcdf3(schema);
      const values: Record<string, Float64Array> = {
        time: Float64Array.from({ length: nt }, (_, i) => i + 0.5),
        lat: Float64Array.from({ length: 192 }, (_, j) => -90 + (j + 0.5) * 0.9375),
        lon: Float64Array.from({ length: 288 }, (_, i) => i * 1.25),
      };
      const fd = openSync(path, 'w');
      writeSync(fd, header, 0, header.length, 0);
      for (const [name, v] of Object.entries(values)) {
        const bytes = encodeValues('double', v);
        writeSync(fd, bytes, 0, bytes.length, layout.variables.find((x) => x.name === name)!.begin);
      }
      ftruncateSync(fd, layout.fileBytes);
      closeSync(fd);
      const ds = await openNetcdf(await FileByteSource.open(path));
      const big = await planSubset(ds, parseNcssQuery('var=tas,pr'), { request: 'r' });
      expect(big.fileBytes).toBeGreaterThan(2 ** 31);
      expect(big.format).toBe('64bit-offset');
      // 4500 of the 5000 times: ~1.99 GB, still classic.
      const small = await planSubset(
        ds,
        parseNcssQuery('var=tas,pr&time_start=2001-01-01&time_end=2013-06-30'),
        {
          request: 'r',
        },
      );
      expect(small.fileBytes).toBeLessThan(2 ** 31);
      expect(small.format).toBe('classic');
      // The planned answer's header as written: ncdump -k reads its format from it.
      const sink = new PassThrough();
      const first = new Promise<Buffer>((resolve) => sink.once('data', resolve));
      const writing = writeSubset(ds, big, sink).catch(() => undefined);
      const head = await first;
      sink.destroy();
      await writing;
      expect(head.subarray(0, 4)).toEqual(Buffer.from('CDF\x02', 'latin1'));
      const headFile = join(dir, 'head.nc');
      writeFileSync(headFile, head);
      expect(execFileSync('ncdump', ['-k', headFile], { encoding: 'utf8' }).trim()).toBe('64-bit offset');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
