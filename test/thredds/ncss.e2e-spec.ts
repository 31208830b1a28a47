/**
 * NetCDF Subset Service at /thredds/ncss/grid checked with real clients:
 * every answer is opened with ncdump and netCDF4-python and compared with
 * the exact slices of the local file (360_day, noleap and
 * proleptic_gregorian files, 0..360 and -180..180 grids, a rotated-pole
 * CORDEX grid), plus the bad-input problems.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeNetcdf3, type Netcdf3Schema } from '@climcat/netcdf';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api, bearer } from '../catalog/seed';
import {
  FIXTURES,
  oracle,
  requirePythonNetcdf,
  requireTool,
  type Oracle,
  type OracleVariable,
} from '../netcdf/tools';
import { scanData } from './thredds-archive';

jest.setTimeout(180_000);

const exec = promisify(execFile);

let running: RunningApp;
let root: string;
let work: string;
let readerKey: string;

const FILES = {
  day360: 'fixtures/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-200603.nc',
  noleap: 'fixtures/tas_noleap_0to360.nc',
  gregorian: 'fixtures/pr_proleptic_180.nc',
  cordex: 'fixtures/pr_EUR-44_rotated.nc',
  /** The same without its 2-D lat/lon (ncks -C -x). */
  cordexBare: 'fixtures/pr_EUR-44_rotated_no_latlon.nc',
  nc4: 'fixtures/tas_nc4_features.nc',
  big: 'big/tas_big.nc',
  // Not DRS (no CMIP5 attributes), so it has a dataset of its own: other.restricted.
  secret: 'restricted/tas_secret.nc',
};
const BIN_LIMIT = 200_000;
const BIG = { time: 600, lat: 10, lon: 10 };

const local = (rel: string) => join(root, rel);
const ncssUrl = (rel: string, query = '') =>
  `${running.url}/thredds/ncss/grid/data/${rel}${query ? `?${query}` : ''}`;

let downloads = 0;
/** Fetches an NCSS answer into the work directory; checks Content-Length against the body. */
async function fetchNc(rel: string, query: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(ncssUrl(rel, query), { headers });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${body.toString('utf8')}`);
  expect(res.headers.get('content-type')).toBe('application/x-netcdf');
  expect(Number(res.headers.get('content-length'))).toBe(body.length);
  const out = join(work, `answer-${++downloads}.nc`);
  writeFileSync(out, body);
  const dumped = await exec(requireTool('ncdump'), ['-h', out]);
  expect(dumped.stderr).toBe('');
  return out;
}

const variable = (o: Oracle, name: string): OracleVariable => {
  const v = o.variables.find((x) => x.name === name);
  if (!v) throw new Error(`${name} missing; have ${o.variables.map((x) => x.name).join(', ')}`);
  return v;
};

/** Values of a flattened local variable at the cartesian product of index lists (row-major). */
function pick(v: OracleVariable, indices: (number[] | undefined)[]): unknown[] {
  const shape = v.shape;
  const lists = shape.map((n, d) => indices[d] ?? Array.from({ length: n }, (_, i) => i));
  const values = v.values as unknown[];
  const out: unknown[] = [];
  const walk = (d: number, offset: number) => {
    if (d === shape.length) {
      out.push(values[offset]);
      return;
    }
    for (const i of lists[d] as number[]) walk(d + 1, offset * (shape[d] as number) + i);
  };
  walk(0, 0);
  return out;
}

const range = (a: number, b: number, step = 1) =>
  Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

async function problem(rel: string, query: string, headers: Record<string, string> = {}) {
  const res = await fetch(ncssUrl(rel, query), { headers });
  expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  return { status: res.status, body: (await res.json()) as { detail: string; errors?: { field: string }[] } };
}

const text = (name: string, value: string) => ({ name, type: 'char' as const, value });

/** A global grid in `calendar`: lon centres from `lon0` every `dlon`, lat every `dlat`, with bounds. */
async function writeGrid(
  rel: string,
  o: {
    calendar: string;
    units: string;
    times: number[];
    lon0: number;
    nlon: number;
    nlat: number;
    unlimited: boolean;
    plev?: number[];
    name: string;
  },
): Promise<void> {
  mkdirSync(join(local(rel), '..'), { recursive: true });
  const dlon = 360 / o.nlon;
  const dlat = 180 / o.nlat;
  const lon = Float64Array.from({ length: o.nlon }, (_, i) => o.lon0 + i * dlon);
  const lat = Float64Array.from({ length: o.nlat }, (_, i) => -90 + dlat / 2 + i * dlat);
  const nt = o.times.length;
  const nz = o.plev?.length ?? 0;
  const fieldDims = o.plev ? ['time', 'plev', 'lat', 'lon'] : ['time', 'lat', 'lon'];
  const n = nt * Math.max(1, nz) * o.nlat * o.nlon;
  const schema: Netcdf3Schema = {
    dimensions: [
      { name: 'time', length: nt, unlimited: o.unlimited },
      ...(o.plev ? [{ name: 'plev', length: nz }] : []),
      { name: 'lat', length: o.nlat },
      { name: 'lon', length: o.nlon },
      { name: 'bnds', length: 2 },
    ],
    variables: [
      {
        name: 'time',
        type: 'double',
        dimensions: ['time'],
        attributes: [
          text('units', o.units),
          text('calendar', o.calendar),
          text('standard_name', 'time'),
          text('axis', 'T'),
          text('bounds', 'time_bnds'),
        ],
      },
      { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
      ...(o.plev
        ? [
            {
              name: 'plev',
              type: 'double' as const,
              dimensions: ['plev'],
              attributes: [
                text('units', 'Pa'),
                text('axis', 'Z'),
                text('positive', 'down'),
                text('standard_name', 'air_pressure'),
              ],
            },
          ]
        : []),
      {
        name: 'lat',
        type: 'double',
        dimensions: ['lat'],
        attributes: [
          text('units', 'degrees_north'),
          text('standard_name', 'latitude'),
          text('bounds', 'lat_bnds'),
        ],
      },
      { name: 'lat_bnds', type: 'double', dimensions: ['lat', 'bnds'] },
      {
        name: 'lon',
        type: 'double',
        dimensions: ['lon'],
        attributes: [
          text('units', 'degrees_east'),
          text('standard_name', 'longitude'),
          text('bounds', 'lon_bnds'),
        ],
      },
      { name: 'lon_bnds', type: 'double', dimensions: ['lon', 'bnds'] },
      {
        name: o.name,
        type: 'float',
        dimensions: fieldDims,
        attributes: [
          text('units', 'K'),
          text('cell_methods', 'time: mean'),
          { name: '_FillValue', type: 'float', value: Float32Array.of(1e20) },
        ],
      },
    ],
    globalAttributes: [
      text('Conventions', 'CF-1.6'),
      text('history', 'created by the ncss suite'),
      text('title', rel),
    ],
    numRecords: o.unlimited ? nt : undefined,
  };
  await writeNetcdf3(local(rel), schema, {
    time: Float64Array.from(o.times),
    time_bnds: Float64Array.from(o.times.flatMap((t) => [t - 0.5, t + 0.5])),
    ...(o.plev ? { plev: Float64Array.from(o.plev) } : {}),
    lat,
    lat_bnds: Float64Array.from([...lat].flatMap((c) => [c - dlat / 2, c + dlat / 2])),
    lon,
    lon_bnds: Float64Array.from([...lon].flatMap((c) => [c - dlon / 2, c + dlon / 2])),
    [o.name]: Float32Array.from({ length: n }, (_, i) => i * 0.5),
  });
}

beforeAll(async () => {
  requireTool('ncdump');
  await requirePythonNetcdf();
  root = tempDir('climcat-ncss-archive-');
  work = tempDir('climcat-ncss-work-');
  mkdirSync(join(root, 'fixtures'), { recursive: true });
  mkdirSync(join(root, 'restricted'), { recursive: true });
  await exec(requireTool('ncgen'), [
    '-k',
    'classic',
    '-o',
    local(FILES.day360),
    join(FIXTURES, 'cmip5_tas_amon.cdl'),
  ]);
  await exec(requireTool('ncgen'), [
    '-k',
    'classic',
    '-o',
    local(FILES.cordex),
    join(FIXTURES, 'cordex_rotated.cdl'),
  ]);
  await exec(requireTool('ncgen'), ['-k', 'nc4', '-o', local(FILES.nc4), join(FIXTURES, 'nc4_features.cdl')]);
  await exec(requireTool('ncks'), [
    '-O',
    '-C',
    '-x',
    '-v',
    'lat,lon',
    local(FILES.cordex),
    local(FILES.cordexBare),
  ]);
  await exec(requireTool('ncgen'), ['-k', 'classic', '-o', local(FILES.secret), join(FIXTURES, 'types.cdl')]);
  // noleap, 0..360, monthly means (mid-month days since 2000-01-01), time unlimited.
  const cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
  await writeGrid(FILES.noleap, {
    calendar: 'noleap',
    units: 'days since 2000-01-01 00:00:00',
    times: range(0, 23).map((m) => 365 * Math.floor(m / 12) + (cum[m % 12] as number) + 14.5),
    lon0: 0,
    nlon: 24,
    nlat: 12,
    unlimited: true,
    name: 'tas',
  });
  // proleptic_gregorian, -180..180, daily at noon (hours since 1990-01-01), fixed time, with levels.
  await writeGrid(FILES.gregorian, {
    calendar: 'proleptic_gregorian',
    units: 'hours since 1990-01-01 00:00:00',
    times: range(0, 59).map((d) => d * 24 + 12),
    lon0: -175,
    nlon: 36,
    nlat: 18,
    unlimited: false,
    plev: [100000, 85000, 50000],
    name: 'ta',
  });
  await writeGrid(FILES.big, {
    calendar: '360_day',
    units: 'days since 2000-01-01',
    times: range(0, BIG.time - 1).map((m) => m * 30 + 15),
    lon0: 0,
    nlon: BIG.lon,
    nlat: BIG.lat,
    unlimited: true,
    name: 'tas',
  });
  running = await startApp({ env: { DATA_ROOT: root, THREDDS_BIN_LIMIT: String(BIN_LIMIT) } });
  await scanData(running);
  const patched = await api(running, 'PATCH', '/api/v1/datasets/other.restricted', {
    headers: ADMIN,
    body: { access: { public: false, ownerGroup: 'secret-team', accessGroups: [] } },
  });
  expect(patched.status).toBe(200);
  const key = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'ncss', roles: ['reader'], groups: ['other-team'] },
  });
  readerKey = key.body.key as string;
});

afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe("grid subsets equal the local file's slices (ncdump + netCDF4-python)", () => {
  it('360_day: box across 0 on a 0..360 grid, time range with a 30 February, bounds shifted with their cells', async () => {
    const out = await fetchNc(
      FILES.day360,
      'var=tas&north=10&south=-70&west=-50&east=100&time_start=2006-01-01&time_end=2006-02-30',
    );
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.day360))]);
    // lat cells [-90,-30] and [-30,30]; lon cells 225..315 (as -135..-45), -45..45, 45..135; times 2 and 3 of 4.
    const t = [1, 2];
    const y = [0, 1];
    const x = [3, 0, 1];
    expect(variable(mine, 'tas').shape).toEqual([2, 2, 3]);
    expect(variable(mine, 'tas').values).toEqual(pick(variable(theirs, 'tas'), [t, y, x]));
    expect(variable(mine, 'time').values).toEqual(pick(variable(theirs, 'time'), [t]));
    expect(variable(mine, 'time_bnds').values).toEqual(pick(variable(theirs, 'time_bnds'), [t]));
    expect(variable(mine, 'lat_bnds').values).toEqual(pick(variable(theirs, 'lat_bnds'), [y]));
    expect(variable(mine, 'lon').values).toEqual([-90, 0, 90]);
    expect(variable(mine, 'lon_bnds').values).toEqual([-135, -45, -45, 45, 45, 135]);
    expect(variable(mine, 'height').values).toEqual([2]);
    const tas = variable(mine, 'tas').attributes;
    expect(tas).toEqual(variable(theirs, 'tas').attributes);
    expect(variable(mine, 'time').attributes).toEqual(variable(theirs, 'time').attributes);
    expect(mine.dimensions).toContainEqual(['time', 2, true]);
    const history = String(mine.global.history);
    expect(history).toContain('climcat NetCDF Subset Service: /thredds/ncss/grid/data/');
    expect(history).toContain('time_end=2006-02-30');
    expect(mine.global.project_id).toBe('CMIP5');
  });

  it('noleap: box -20..20 across the seam of a 0..360 grid, time_start + time_duration, timeStride', async () => {
    const out = await fetchNc(
      FILES.noleap,
      'var=tas&north=30&south=0&west=-20&east=20&time_start=2000-02-01&time_duration=P6M&timeStride=2',
    );
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.noleap))]);
    // Months Feb..Jul 2000 (mid-month): indices 1..6, every 2nd: 1, 3, 5. lat cells 0..15, 15..30: 6, 7.
    const t = [1, 3, 5];
    const y = [6, 7];
    const x = [23, 0, 1];
    expect(variable(mine, 'tas').values).toEqual(pick(variable(theirs, 'tas'), [t, y, x]));
    expect(variable(mine, 'time_bnds').values).toEqual(pick(variable(theirs, 'time_bnds'), [t]));
    expect(variable(mine, 'lon').values).toEqual([-15, 0, 15]);
    expect(variable(mine, 'lon_bnds').values).toEqual([-22.5, -7.5, -7.5, 7.5, 7.5, 22.5]);
    expect(variable(mine, 'time').attributes.calendar).toBe('noleap');
  });

  it('noleap: horizStride on the whole grid, time=all', async () => {
    const out = await fetchNc(FILES.noleap, 'var=tas&horizStride=3&time=all');
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.noleap))]);
    const y = range(0, 11, 3);
    const x = range(0, 23, 3);
    expect(variable(mine, 'tas').shape).toEqual([24, 4, 8]);
    expect(variable(mine, 'tas').values).toEqual(pick(variable(theirs, 'tas'), [undefined, y, x]));
    expect(variable(mine, 'lat_bnds').values).toEqual(pick(variable(theirs, 'lat_bnds'), [y]));
    expect(variable(mine, 'lon').values).toEqual(pick(variable(theirs, 'lon'), [x]));
  });

  it('proleptic_gregorian: box 170..190 across the antimeridian of a -180..180 grid, time_end + time_duration, vertCoord', async () => {
    const out = await fetchNc(
      FILES.gregorian,
      'var=ta&north=-80&south=-90&west=170&east=190&time_end=1990-02-28T12:00:00&time_duration=P10D&vertCoord=50000',
    );
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.gregorian))]);
    // 1990-02-18T12 .. 1990-02-28T12: days 48..58; level 50000 Pa is index 2; lat cells -90..-80: 0; lon 175 and -175 (as 185).
    const t = range(48, 58);
    expect(variable(mine, 'ta').shape).toEqual([11, 1, 1, 2]);
    expect(variable(mine, 'ta').values).toEqual(pick(variable(theirs, 'ta'), [t, [2], [0], [35, 0]]));
    expect(variable(mine, 'plev').values).toEqual([50000]);
    expect(variable(mine, 'lon').values).toEqual([175, 185]);
    expect(variable(mine, 'time').values).toEqual(pick(variable(theirs, 'time'), [t]));
    expect(mine.dimensions).toContainEqual(['time', 11, false]);
  });

  it('proleptic_gregorian: time= picks the nearest time', async () => {
    const out = await fetchNc(
      FILES.gregorian,
      'var=ta&time=1990-01-10T13:00:00&north=10&south=-10&west=0&east=10',
    );
    const mine = await oracle(out);
    expect(variable(mine, 'time').values).toEqual([9 * 24 + 12]);
    expect(variable(mine, 'lat').values).toEqual([-5, 5]);
    expect(variable(mine, 'lon').values).toEqual([5]);
  });

  it('rotated pole: the rlat/rlon index box whose cells meet the box, with rotated_pole and 2-D lat/lon (valid CF)', async () => {
    const box = { north: 40, south: 30, west: 0, east: 15 };
    const out = await fetchNc(
      FILES.cordex,
      `var=pr&north=${box.north}&south=${box.south}&west=${box.west}&east=${box.east}`,
    );
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.cordex))]);
    const rlat = variable(mine, 'rlat').values as number[];
    const rlon = variable(mine, 'rlon').values as number[];
    const allRlat = variable(theirs, 'rlat').values as number[];
    const allRlon = variable(theirs, 'rlon').values as number[];
    const y = rlat.map((v) => allRlat.indexOf(v));
    const x = rlon.map((v) => allRlon.indexOf(v));
    expect(y.length).toBeLessThan(allRlat.length);
    expect(variable(mine, 'pr').values).toEqual(pick(variable(theirs, 'pr'), [undefined, y, x]));
    expect(variable(mine, 'lat').values).toEqual(pick(variable(theirs, 'lat'), [y, x]));
    expect(variable(mine, 'lon').values).toEqual(pick(variable(theirs, 'lon'), [y, x]));
    expect(variable(mine, 'rotated_pole').attributes).toEqual(variable(theirs, 'rotated_pole').attributes);
    expect(variable(mine, 'pr').attributes.grid_mapping).toBe('rotated_pole');
    expect(variable(mine, 'pr').attributes.coordinates).toBe('lon lat');
    // Every cell centred in the box is inside the answer.
    const lat = variable(theirs, 'lat').values as number[];
    const lon = variable(theirs, 'lon').values as number[];
    lat.forEach((la, k) => {
      const lo = lon[k] as number;
      if (la >= box.south && la <= box.north && lo >= box.west && lo <= box.east) {
        expect(y).toContain(Math.floor(k / allRlon.length));
        expect(x).toContain(k % allRlon.length);
      }
    });
    // The 2-D lat/lon of the answer reach beyond the box on every side: it is covered.
    const la2 = variable(mine, 'lat').values as number[];
    const lo2 = variable(mine, 'lon').values as number[];
    // Cells reach about half the spacing of the centres (here up to ~6°) beyond them.
    const nx = x.length;
    const half =
      Math.max(...lo2.map((v, k) => (k % nx === 0 ? 0 : Math.abs(v - (lo2[k - 1] as number))))) / 2;
    expect(Math.min(...la2)).toBeLessThanOrEqual(box.south + half);
    expect(Math.max(...la2)).toBeGreaterThanOrEqual(box.north - half);
    expect(Math.min(...lo2) - half).toBeLessThanOrEqual(box.west);
    expect(Math.max(...lo2) + half).toBeGreaterThanOrEqual(box.east);
    // CF: xarray decodes it with the rotated grid mapping and 2-D coordinates.
    const py = await exec('/usr/bin/python3', [
      '-c',
      'import sys, xarray as xr; d = xr.open_dataset(sys.argv[1]); print(sorted(d.pr.coords), d.pr.attrs["grid_mapping"])',
      out,
    ]);
    expect(py.stdout.trim()).toBe("['lat', 'lon', 'rlat', 'rlon', 'time'] rotated_pole");
  });

  it('rotated pole without 2-D lat/lon: the box works on lat/lon computed from the pole; addLatLon writes them', async () => {
    const query = 'var=pr&north=40&south=30&west=0&east=15';
    const [withLatLon, bare] = await Promise.all([
      fetchNc(FILES.cordex, query).then(oracle),
      fetchNc(FILES.cordexBare, `${query}&addLatLon=true`).then(oracle),
    ]);
    for (const name of ['rlat', 'rlon', 'pr', 'time_bnds'])
      expect([name, variable(bare, name).values]).toEqual([name, variable(withLatLon, name).values]);
    for (const name of ['lat', 'lon']) {
      const computed = variable(bare, name).values as number[];
      const stored = variable(withLatLon, name).values as number[];
      expect(computed).toHaveLength(stored.length);
      computed.forEach((v, k) => expect(Math.abs(v - (stored[k] as number))).toBeLessThan(1e-4));
      expect(variable(bare, name).dimensions).toEqual(['rlat', 'rlon']);
    }
    expect(variable(bare, 'pr').attributes.coordinates).toBe('lon lat');
    expect(variable(bare, 'lat').attributes.units).toBe('degrees_north');
    const plain = await oracle(await fetchNc(FILES.cordexBare, query));
    expect(plain.variables.map((v) => v.name)).not.toContain('lat');
  });

  it('NetCDF-4 (deflated, noleap) source: var=all gives every grid as NetCDF-3', async () => {
    const out = await fetchNc(
      FILES.nc4,
      'var=all&north=15&south=5&west=105&east=125&time_start=2006-01-02&time_end=2006-01-04',
    );
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.nc4))]);
    expect(mine.data_model).toBe('NETCDF3_CLASSIC');
    expect(variable(mine, 'tas').values).toEqual(pick(variable(theirs, 'tas'), [[1, 2], [0], [1, 2]]));
    expect(variable(mine, 'big_endian').values).toEqual(pick(variable(theirs, 'big_endian'), [[0], [1, 2]]));
    expect(variable(mine, 'time_bnds').values).toEqual(pick(variable(theirs, 'time_bnds'), [[1, 2]]));
    expect(mine.variables.map((v) => v.name).sort()).toEqual([
      'big_endian',
      'lat',
      'lon',
      'tas',
      'time',
      'time_bnds',
    ]);
    expect(variable(mine, 'tas').attributes).toEqual(variable(theirs, 'tas').attributes);
  });

  it('a large answer is streamed with its exact Content-Length; the 413 names the size and how to split', async () => {
    const res = await problem(FILES.big, 'var=tas');
    expect(res.status).toBe(413);
    expect(res.body.detail).toMatch(/would be .* \(\d+ bytes\), over this server's THREDDS_BIN_LIMIT/);
    const piece =
      /split it along time into (\d+) requests of at most (\d+) times .*?: (time_start=[^,&]+&time_end=[^,;]+)/.exec(
        res.body.detail,
      );
    expect(piece).not.toBeNull();
    const out = await fetchNc(FILES.big, `var=tas&${piece?.[3] ?? ''}`);
    const mine = await oracle(out);
    expect(variable(mine, 'tas').shape[0]).toBe(Number(piece?.[2]));
  });
});

describe('grid as point', () => {
  it('CSV: the nearest cell, reported, with ISO times in the file calendar', async () => {
    const res = await fetch(ncssUrl(FILES.day360, 'var=tas&latitude=1&longitude=95&accept=csv'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await res.text()).toBe(
      'time,latitude[unit="degrees_north"],longitude[unit="degrees_east"],tas[unit="K"]\n' +
        '2005-12-16T00:00:00Z,0,90,300.5\n2006-01-16T00:00:00Z,0,90,299.9\n' +
        '2006-02-16T00:00:00Z,0,90,298.8\n2006-03-16T00:00:00Z,0,90,297.7\n',
    );
  });

  it('XML, and NetCDF as a 1x1 grid time series; longitude modulo 360', async () => {
    const xml = await (
      await fetch(ncssUrl(FILES.day360, 'var=tas&latitude=-50&longitude=-85&accept=xml&time=2006-01-16'))
    ).text();
    expect(xml).toContain('<data name="date">2006-01-16T00:00:00Z</data>');
    expect(xml).toContain('<data name="lon" units="degrees_east">270</data>');
    expect(xml).toContain('<data name="tas" units="K">253.1</data>');
    const out = await fetchNc(FILES.day360, 'var=tas&latitude=-50&longitude=275');
    const [mine, theirs] = await Promise.all([oracle(out), oracle(local(FILES.day360))]);
    expect(variable(mine, 'tas').values).toEqual(pick(variable(theirs, 'tas'), [undefined, [0], [3]]));
  });
});

describe('dataset.xml and datasetBoundaries', () => {
  it('describes axes, gridSet, LatLonBox and TimeSpan', async () => {
    const res = await fetch(`${ncssUrl(FILES.day360)}/dataset.xml`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain('<gridSet name="time lat lon">');
    expect(xml).toMatch(
      /<grid name="tas" desc="Near-Surface Air Temperature" shape="time lat lon" type="float">/,
    );
    expect(xml).toContain('<axis name="time" shape="4" type="double" axisType="Time">');
    expect(xml).toContain(
      '<LatLonBox>\n    <west>-180</west>\n    <east>180</east>\n    <south>-90</south>\n    <north>90</north>',
    );
    expect(xml).toContain(
      '<TimeSpan>\n    <begin>2005-12-16T00:00:00Z</begin>\n    <end>2006-03-16T00:00:00Z</end>',
    );
    writeFileSync(join(work, 'dataset.xml'), xml);
    const ok = await exec('/usr/bin/python3', [
      '-c',
      'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag, len(r.findall("gridSet/grid")))',
      join(work, 'dataset.xml'),
    ]);
    expect(ok.stdout.trim()).toBe('gridDataset 1');
  });

  it('rotated grids have a projectionBox; boundaries as WKT and GeoJSON', async () => {
    const xml = await (await fetch(`${ncssUrl(FILES.cordex)}/dataset.xml`)).text();
    expect(xml).toContain('<projectionBox>');
    expect(xml).toContain('<coordTransRef name="rotated_pole"/>');
    const wkt = await (await fetch(`${ncssUrl(FILES.noleap)}/datasetBoundaries.wkt`)).text();
    expect(wkt).toBe('POLYGON((-180 -90, 180 -90, 180 90, -180 90, -180 -90))');
    const json = (await (await fetch(`${ncssUrl(FILES.cordex)}/datasetBoundaries?accept=json`)).json()) as {
      type: string;
      coordinates: number[][][];
    };
    expect(json.type).toBe('Polygon');
    expect(json.coordinates[0]).toHaveLength(5);
    const form = await fetch(`${ncssUrl(FILES.cordex)}/dataset.html`);
    expect(await form.text()).toContain('name="var" value="pr"');
  });
});

describe('bad input is a 4xx problem naming the parameter and the valid range', () => {
  it.each([
    ['north < south', 'var=tas&north=-10&south=10&west=0&east=10', 'query.north', /less than south/],
    [
      'box outside a rotated grid',
      'var=pr&north=-10&south=-20&west=0&east=10',
      'query.north',
      /does not intersect the grid \(west/,
    ],
    ['unknown var', 'var=nope', 'query.var', /no variable "nope".*grids are pr/],
    ['not a grid', 'var=time_bnds', 'query.var', /not a grid/],
    ['unknown accept', 'var=pr&accept=grib', 'query.accept', /not one of netcdf/],
    [
      'netcdf4 refused, saying so',
      'var=pr&accept=netcdf4',
      'query.accept',
      /netcdf4 output is not supported by this server: .*size is only known once it is written whole.*use accept=netcdf \(NetCDF-3/,
    ],
    ['horizStride 0', 'var=pr&horizStride=0', 'query.horizStride', />= 1/],
    ['timeStride negative', 'var=pr&timeStride=-2', 'query.timeStride', />= 1/],
    ['only one time parameter', 'var=pr&time_start=2006-01-01', 'query.time_start', /two of/],
    [
      'three inconsistent time parameters',
      'var=pr&time_start=2006-01-01&time_end=2006-01-03&time_duration=P5D',
      'query.time_duration',
      /not time_end/,
    ],
    [
      'reversed range',
      'var=pr&time_start=2006-01-03&time_end=2006-01-01',
      'query.time_end',
      /before time_start/,
    ],
    [
      'range outside the data',
      'var=pr&time_start=2010-01-01&time_end=2010-02-01',
      'query.time_start',
      /time coverage is 2006-01-01T12:00:00 to 2006-01-03T12:00:00 \(standard calendar, 3 times\)/,
    ],
    ['time outside the data', 'var=pr&time=1990-01-01', 'query.time', /outside the time coverage/],
    ['not a date', 'var=pr&time_start=yesterday&time_end=today', 'query.time_start', /not a YYYY-MM-DD/],
    ['csv without a point', 'var=pr&accept=csv', 'query.accept', /point request/],
    ['unknown parameter', 'var=pr&bbox=1,2,3,4', 'query.bbox', /not an NCSS grid parameter/],
    ['vertCoord without levels', 'var=pr&vertCoord=500', 'query.vertCoord', /no vertical axis/],
  ])('%s', async (_label, query, field, message) => {
    const res = await problem(FILES.cordex, query);
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.field)).toContain(field);
    expect(res.body.detail).toMatch(message);
  });

  it('29 February does not exist in noleap; 30 February does in 360_day', async () => {
    const res = await problem(FILES.noleap, 'var=tas&time_start=2000-02-29&time_end=2000-03-31');
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/noleap calendar/);
    await fetchNc(FILES.day360, 'var=tas&time_start=2006-02-30&time_end=2006-03-30');
  });

  it('a path that does not exist or is not readable: 401 anonymous, 404 with a key', async () => {
    expect((await problem('fixtures/missing.nc', 'var=tas')).status).toBe(401);
    expect((await problem(FILES.secret, 'var=tas')).status).toBe(401);
    expect((await problem(FILES.secret, 'var=tas', bearer(readerKey))).status).toBe(404);
    expect((await problem('fixtures/missing.nc', 'var=tas', bearer(readerKey))).status).toBe(404);
    expect((await fetch(`${ncssUrl(FILES.secret)}/dataset.xml`)).status).toBe(401);
  });
});
