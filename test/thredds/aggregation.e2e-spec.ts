/**
 * Whole-dataset aggregations at /thredds/dodsC/datasets/<dataset id>: every
 * file of a dataset joined along time, checked with xarray (against
 * open_mfdataset of the local files), netCDF4-python and ncdump.
 */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { writeNetcdf3 } from '@climcat/netcdf';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { PYTHON, requirePythonNetcdf, requireTool } from '../netcdf/tools';
import { basic } from './thredds-archive';

jest.setTimeout(120_000);

const exec = promisify(execFile);
const COMPARE = join(__dirname, 'agg_compare.py');

const NLAT = 3;
const NLON = 4;

interface FileSpec {
  /** File name; the directory is the dataset's. */
  name: string;
  units: string;
  times: number[];
  /** Offset of this file's tas values (so every record differs). */
  first: number;
  lat?: number[];
}

interface DatasetSpec {
  id: string;
  calendar: '360_day' | 'noleap';
  dir: string;
  files: FileSpec[];
  access?: { public: boolean; ownerGroup: string; accessGroups: string[] };
  /** Members stored as deflated NetCDF-4 (`nccopy -k nc4 -d 1` of the NetCDF-3 file). */
  netcdf4?: boolean;
}

const DIR = (model: string, inst: string, version: string) =>
  `cmip5/output1/${inst}/${model}/rcp45/mon/atmos/Amon/r1i1p1/${version}/tas`;

/** 360_day monthly: the middle file counts days from 2006-01-01, the others from 1859-12-01. */
const D360: DatasetSpec = {
  id: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
  calendar: '360_day',
  dir: DIR('HadGEM2-ES', 'MOHC', 'v20111128'),
  files: [
    {
      name: 'tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-200602.nc',
      units: 'days since 1859-12-1 00:00:00',
      times: [52575, 52605, 52635],
      first: 0,
    },
    {
      name: 'tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200603-200605.nc',
      units: 'days since 2006-01-01',
      times: [75, 105, 135],
      first: 100,
    },
    {
      name: 'tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200606-200608.nc',
      units: 'days since 1859-12-1 00:00:00',
      times: [52755, 52785, 52815],
      first: 200,
    },
  ],
};

/** noleap monthly, the files catalogued out of order; the last counts hours. */
const NOLEAP: DatasetSpec = {
  id: 'cmip5.output1.NCAR.CCSM4.rcp45.mon.atmos.Amon.r1i1p1.v20120101',
  calendar: 'noleap',
  dir: DIR('CCSM4', 'NCAR', 'v20120101'),
  files: [
    {
      name: 'tas_Amon_CCSM4_rcp45_r1i1p1_200607-200609.nc',
      units: 'days since 2006-01-01',
      times: [196, 227.5, 258],
      first: 300,
    },
    {
      name: 'tas_Amon_CCSM4_rcp45_r1i1p1_200601-200603.nc',
      units: 'days since 2006-01-01',
      times: [15.5, 45, 74.5],
      first: 0,
    },
    {
      name: 'tas_Amon_CCSM4_rcp45_r1i1p1_200604-200606.nc',
      units: 'hours since 2006-04-01',
      times: [360, 1092, 1824],
      first: 100,
    },
  ],
};

/** The middle file's latitudes differ: refused, naming it. */
const BAD: DatasetSpec = {
  id: 'cmip5.output1.CCCma.CanESM2.rcp45.mon.atmos.Amon.r1i1p1.v20120101',
  calendar: '360_day',
  dir: DIR('CanESM2', 'CCCma', 'v20120101'),
  files: [
    {
      name: 'tas_Amon_CanESM2_rcp45_r1i1p1_200601-200603.nc',
      units: 'days since 2006-01-01',
      times: [15, 45, 75],
      first: 0,
    },
    {
      name: 'tas_Amon_CanESM2_rcp45_r1i1p1_200604-200606.nc',
      units: 'days since 2006-01-01',
      times: [105, 135, 165],
      first: 0,
      lat: [-50, 0, 60],
    },
    {
      name: 'tas_Amon_CanESM2_rcp45_r1i1p1_200607-200609.nc',
      units: 'days since 2006-01-01',
      times: [195, 225, 255],
      first: 0,
    },
  ],
};

const SECRET: DatasetSpec = {
  id: 'cmip5.output1.ICHEC.EC-EARTH.rcp45.mon.atmos.Amon.r1i1p1.v20120101',
  calendar: '360_day',
  dir: DIR('EC-EARTH', 'ICHEC', 'v20120101'),
  files: [
    {
      name: 'tas_Amon_EC-EARTH_rcp45_r1i1p1_200601-200603.nc',
      units: 'days since 2006-01-01',
      times: [15, 45, 75],
      first: 0,
    },
  ],
  access: { public: false, ownerGroup: 'ichec', accessGroups: ['eucp'] },
};

/** The 360_day series again, every member a deflated NetCDF-4 file. */
const NC4: DatasetSpec = {
  ...D360,
  id: 'cmip5.output1.MPI-M.MPI-ESM-LR.rcp45.mon.atmos.Amon.r1i1p1.v20120315',
  dir: DIR('MPI-ESM-LR', 'MPI-M', 'v20120315'),
  files: D360.files.map((f) => ({ ...f, name: f.name.replace('HadGEM2-ES', 'MPI-ESM-LR') })),
  netcdf4: true,
};

let running: RunningApp;
let root: string;
let work: string;
let readerKey: string;
let otherKey: string;

const local = (d: DatasetSpec, f: FileSpec) => join(root, d.dir, f.name);
const aggUrl = (d: DatasetSpec, suffix = '') => `${running.url}/thredds/dodsC/datasets/${d.id}${suffix}`;
/** Local files in time order (what open_mfdataset is given). */
const ordered = (d: DatasetSpec) =>
  [...d.files].sort((a, b) => a.name.localeCompare(b.name)).map((f) => local(d, f));

async function writeFile(d: DatasetSpec, f: FileSpec): Promise<void> {
  const final = local(d, f);
  const path = d.netcdf4 ? `${final}.nc3` : final;
  mkdirSync(dirname(path), { recursive: true });
  const n = f.times.length;
  await writeNetcdf3(
    path,
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: NLAT },
        { name: 'lon', length: NLON },
        { name: 'bnds', length: 2 },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: [
            { name: 'bounds', value: 'time_bnds' },
            { name: 'units', value: f.units },
            { name: 'calendar', value: d.calendar },
            { name: 'axis', value: 'T' },
            { name: 'standard_name', value: 'time' },
          ],
        },
        { name: 'time_bnds', type: 'double', dimensions: ['time', 'bnds'] },
        {
          name: 'lat',
          type: 'double',
          dimensions: ['lat'],
          attributes: [
            { name: 'units', value: 'degrees_north' },
            { name: 'standard_name', value: 'latitude' },
          ],
        },
        {
          name: 'lon',
          type: 'double',
          dimensions: ['lon'],
          attributes: [
            { name: 'units', value: 'degrees_east' },
            { name: 'standard_name', value: 'longitude' },
          ],
        },
        {
          name: 'tas',
          type: 'float',
          dimensions: ['time', 'lat', 'lon'],
          attributes: [
            { name: 'standard_name', value: 'air_temperature' },
            { name: 'units', value: 'K' },
            { name: '_FillValue', type: 'float', value: Float32Array.of(1e20) },
          ],
        },
      ],
      globalAttributes: [
        { name: 'project_id', value: 'CMIP5' },
        { name: 'frequency', value: 'mon' },
        { name: 'Conventions', value: 'CF-1.4' },
      ],
      numRecords: n,
    },
    {
      time: Float64Array.from(f.times),
      // Half a step either side, in the file's own units.
      time_bnds: Float64Array.from(
        f.times.flatMap((t) => {
          const half = ((f.times[1] ?? t + 30) - (f.times[0] ?? t)) / 2;
          return [t - half, t + half];
        }),
      ),
      lat: Float64Array.from(f.lat ?? [-60, 0, 60]),
      lon: Float64Array.from([0, 90, 180, 270]),
      // One fill value per file, to check masking across the join.
      tas: Float32Array.from({ length: n * NLAT * NLON }, (_, i) => (i === 5 ? 1e20 : 250 + f.first + i / 4)),
    },
  );
  if (d.netcdf4) {
    await exec(requireTool('nccopy'), ['-k', 'nc4', '-d', '1', path, final]);
    rmSync(path);
  }
}

async function catalog(d: DatasetSpec): Promise<void> {
  const res = await api(running, 'POST', '/api/v1/datasets', {
    headers: ADMIN,
    body: {
      datasetId: d.id.replace(/\.v\d+$/, ''),
      version: d.id.split('.v').pop(),
      kind: 'standard',
      project: 'CMIP5',
      access: d.access ?? { public: true, ownerGroup: 'esgf', accessGroups: [] },
      facets: { model: d.id.split('.')[3], experiment: 'rcp45', variable: ['tas'] },
      variables: [
        {
          name: 'tas',
          standardName: 'air_temperature',
          longName: 'Near-Surface Air Temperature',
          units: 'K',
        },
      ],
      timeCoverage: { start: '2006-01-16T00:00:00', end: '2006-09-16T00:00:00', calendar: d.calendar },
      bbox: [-180, -90, 180, 90],
      title: d.id,
    },
  });
  if (res.status !== 201) throw new Error(`dataset creation failed: ${JSON.stringify(res.body)}`);
  const store = running.app.get<Store>(STORE);
  for (const f of d.files) await upsert(store, d, f);
}

async function upsert(store: Store, d: DatasetSpec, f: FileSpec): Promise<void> {
  const st = statSync(local(d, f));
  const now = new Date().toISOString();
  const file: FileRecord = {
    id: `${d.id}/${f.name}`,
    datasetId: d.id,
    location: { root: 'data', path: `${d.dir}/${f.name}` },
    size: st.size,
    mtime: st.mtime.toISOString(),
    format: d.netcdf4 ? 'NETCDF4' : 'NETCDF3_CLASSIC',
    timeCoverage: null,
    variables: ['tas'],
    status: 'present',
    createdAt: now,
    updatedAt: now,
  };
  await store.files.upsert(file);
}

async function compare(d: DatasetSpec, slice: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec(PYTHON, [COMPARE, aggUrl(d), slice, ...ordered(d)], {
    cwd: work,
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function ncdump(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(requireTool('ncdump'), args, { cwd: work, encoding: 'utf8' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? 'failed' };
  }
}

async function key(groups: string[]): Promise<string> {
  const res = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'agg', roles: ['reader'], groups },
  });
  return res.body.key as string;
}

beforeAll(async () => {
  requireTool('ncdump');
  await requirePythonNetcdf();
  root = tempDir('climcat-agg-archive-');
  work = tempDir('climcat-agg-work-');
  for (const d of [D360, NOLEAP, BAD, SECRET, NC4]) for (const f of d.files) await writeFile(d, f);
  running = await startApp({ env: { DATA_ROOT: root } });
  for (const d of [D360, NOLEAP, BAD, SECRET, NC4]) await catalog(d);
  readerKey = await key(['eucp']);
  otherKey = await key(['nobody']);
});

afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('xarray.open_dataset(aggregation) equals xarray.open_mfdataset(local files)', () => {
  it.each([
    ['360_day, one file with other time units', D360, '2:5'],
    ['noleap, catalogued out of order, one file counting hours', NOLEAP, '1:8'],
    ['360_day, members deflated NetCDF-4 files', NC4, '2:5'],
  ])('%s: values, decoded times, attributes; a slice across files', async (_label, d, slice) => {
    const r = await compare(d, slice);
    expect(r.difference).toBeUndefined();
    expect(r.equal).toBe(true);
    expect(r.length).toBe(9);
    expect(r.attrs_differ).toEqual([]);
    expect(r.globals_differ).toEqual([]);
    // Bounds are decoded to cftime dates like the times (xarray follows time:bounds).
    expect(r.dtypes).toEqual({ tas: ['float32', 'float32'], time_bnds: ['object', 'object'] });
    const [mine, theirs] = r.times as [string[], string[]];
    expect(mine).toEqual(theirs);
    expect(r.slice_equal).toBe(true);
    expect(r.slice_shape).toEqual([Number(slice.split(':')[1]) - Number(slice.split(':')[0]), NLAT, NLON]);
    expect(r.warnings ?? null).toBeNull();
  });

  it('the 360_day series runs 2005-12-16 .. 2006-08-16 monthly', async () => {
    const r = await compare(D360, '0:9');
    expect((r.times as string[][])[0]).toEqual([
      '2005-12-16 00:00:00',
      '2006-01-16 00:00:00',
      '2006-02-16 00:00:00',
      '2006-03-16 00:00:00',
      '2006-04-16 00:00:00',
      '2006-05-16 00:00:00',
      '2006-06-16 00:00:00',
      '2006-07-16 00:00:00',
      '2006-08-16 00:00:00',
    ]);
  });
});

describe('ncdump of an aggregation', () => {
  it('-h shows the joined time length and the first file units; times are re-based', async () => {
    const head = await ncdump(['-h', aggUrl(D360)]);
    expect(head.stderr).toBe('');
    expect(head.stdout).toMatch(/time = UNLIMITED ; \/\/ \(9 currently\)/);
    expect(head.stdout).toContain('time:units = "days since 1859-12-1 00:00:00" ;');
    const values = await ncdump(['-v', 'time', aggUrl(D360)]);
    expect(values.stdout.replace(/\s+/g, ' ')).toContain(
      'time = 52575, 52605, 52635, 52665, 52695, 52725, 52755, 52785, 52815 ;',
    );
  });

  it('a constrained .dods crossing a file boundary reads with ncdump', async () => {
    const url = `${aggUrl(D360)}?tas[2:1:3][0:1:0][0:1:1]`;
    const out = await ncdump([url]);
    expect(out.stderr).toBe('');
    // Record 2 is file 1's last, record 3 file 2's first (offset 100).
    expect(out.stdout.replace(/\s+/g, ' ')).toContain('tas = 256, 256.25, 350, 350.25 ;');
  });
});

describe('NCSS on an aggregation', () => {
  it.each([
    ['NetCDF-3', D360],
    ['NetCDF-4', NC4],
  ])('a time range across a file boundary equals the local files, sliced (%s members)', async (_kind, d) => {
    const url = `${running.url}/thredds/ncss/grid/datasets/${d.id}?var=tas&time_start=2006-02-01&time_end=2006-04-30&accept=netcdf`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const out = join(work, 'ncss-agg.nc');
    writeFileSync(out, Buffer.from(await res.arrayBuffer()));
    const script = [
      'import json, sys, numpy as np, xarray as xr',
      'sub = xr.open_dataset(sys.argv[1], use_cftime=True)',
      'parts = [xr.open_dataset(p, use_cftime=True) for p in sys.argv[2:]]',
      'mf = xr.combine_nested(parts, concat_dim="time", data_vars="minimal", coords="minimal", compat="override", combine_attrs="override")',
      'want = mf.tas.sel(time=slice(sub.time.values[0], sub.time.values[-1]))',
      'print(json.dumps({"times": [str(t) for t in sub.time.values], "equal": bool(np.array_equal(sub.tas.values, want.values, equal_nan=True))}))',
    ].join('\n');
    const { stdout } = await exec(PYTHON, ['-c', script, out, ...ordered(d)], { cwd: work });
    expect(JSON.parse(stdout)).toEqual({
      times: ['2006-02-16 00:00:00', '2006-03-16 00:00:00', '2006-04-16 00:00:00'],
      equal: true,
    });
  });

  it('dataset.xml describes the joined time axis', async () => {
    const res = await fetch(`${running.url}/thredds/ncss/grid/datasets/${D360.id}/dataset.xml`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain('2005-12-16T00:00:00');
    expect(xml).toContain('2006-08-16T00:00:00');
  });
});

describe('where the aggregation is advertised', () => {
  it('dataset JSON carries urls.opendap / urls.ncss, and urls.opendap opens the whole series', async () => {
    const res = await api(running, 'GET', `/api/v1/datasets/${D360.id}`, { headers: ADMIN });
    expect(res.status).toBe(200);
    const urls = res.body.urls as { opendap: string; ncss: string };
    expect(urls.opendap).toMatch(new RegExp(`/thredds/dodsC/datasets/${D360.id.replace(/\./g, '\\.')}$`));
    expect(urls.ncss).toMatch(new RegExp(`/thredds/ncss/grid/datasets/${D360.id.replace(/\./g, '\\.')}$`));
    const path = new URL(urls.opendap).pathname;
    const head = await ncdump(['-h', `${running.url}${path}`]);
    expect(head.stdout).toMatch(/time = UNLIMITED ; \/\/ \(9 currently\)/);
  });

  it('the ESGF Dataset search result lists the OPeNDAP aggregation in url', async () => {
    const res = await api(
      running,
      'GET',
      `/esg-search/search?type=Dataset&model=HadGEM2-ES&format=application%2Fsolr%2Bjson`,
    );
    expect(res.status).toBe(200);
    const doc = (res.body.response.docs as { url: string[] }[])[0]!;
    expect(doc.url.find((u) => u.endsWith('|OPENDAP'))).toMatch(
      new RegExp(
        `/thredds/dodsC/datasets/${D360.id.replace(/\./g, '\\.')}\\.html\\|application/opendap-html\\|OPENDAP$`,
      ),
    );
  });

  it("the ESGF Aggregation record (esgf-pyclient's aggregation_context) opens the whole series", async () => {
    const res = await api(
      running,
      'GET',
      `/esg-search/search?format=application%2Fsolr%2Bjson&limit=50&distrib=false&offset=0&type=Aggregation&dataset_id=${encodeURIComponent(`${D360.id}|node`)}`,
      { headers: ADMIN },
    );
    expect(res.status).toBe(200);
    const docs = res.body.response.docs as { type: string; url: string[] }[];
    expect(docs.map((d) => d.type)).toEqual(['Aggregation']);
    // AggregationResult.opendap_url: the OPENDAP triple's URL without `.html`.
    const opendap = docs[0]!.url
      .find((u) => u.endsWith('|OPENDAP'))!
      .split('|')[0]!
      .replace(/\.html$/, '');
    const head = await ncdump(['-h', `${running.url}${new URL(opendap).pathname}`]);
    expect(head.stdout).toMatch(/time = UNLIMITED ; \/\/ \(9 currently\)/);
  });
});

describe('THREDDS dataset catalog', () => {
  it('lists the aggregation (OPeNDAP, NCSS) beside the files; restricted like the rest', async () => {
    const res = await fetch(`${running.url}/thredds/catalog/datasets/${D360.id}/catalog.xml`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain(`<access serviceName="odap" urlPath="datasets/${D360.id}" />`);
    expect(xml).toContain(`<access serviceName="ncss" urlPath="datasets/${D360.id}" />`);
    for (const f of D360.files) expect(xml).toContain(`urlPath="data/${D360.dir}/${f.name}"`);
    // Well-formed, with one dataset for the aggregation and one per file inside the catalog's dataset.
    const saved = join(work, 'dataset-catalog.xml');
    writeFileSync(saved, xml);
    const { stdout } = await exec(PYTHON, [
      '-c',
      'import sys, xml.dom.minidom as m; print(len(m.parse(sys.argv[1]).getElementsByTagName("dataset")))',
      saved,
    ]);
    expect(stdout.trim()).toBe(String(1 + 1 + D360.files.length));
    const anon = await fetch(`${running.url}/thredds/catalog/datasets/${SECRET.id}/catalog.xml`);
    expect(anon.status).toBe(401);
    const other = await fetch(`${running.url}/thredds/catalog/datasets/${SECRET.id}/catalog.xml`, {
      headers: basic(otherKey),
    });
    expect(other.status).toBe(404);
  });
});

describe('intake-esm export with aggregation=dataset', () => {
  it('one row per dataset, its path the aggregation; no join_existing', async () => {
    const res = await api(running, 'GET', '/api/v1/exports/intake-esm?model=HadGEM2-ES&aggregation=dataset', {
      headers: ADMIN,
    });
    expect(res.status).toBe(200);
    const rows = res.body.catalog_dict as Record<string, string>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.path).toMatch(new RegExp(`/thredds/dodsC/datasets/${D360.id.replace(/\./g, '\\.')}$`));
    expect(rows[0]!.time_range).toBe('20060116-20060916');
    expect(JSON.stringify(res.body.aggregation_control)).not.toContain('join_existing');
    const dds = await fetch(`${running.url}${new URL(String(rows[0]!.path)).pathname}.dds`);
    expect(await dds.text()).toContain('Float32 tas[time = 9][lat = 3][lon = 4];');
    const csv = await api(
      running,
      'GET',
      '/api/v1/exports/intake-esm.csv?model=HadGEM2-ES&aggregation=dataset',
      {
        headers: ADMIN,
      },
    );
    expect(String(csv.body).trim().split('\n')).toHaveLength(2);
    const bad = await api(running, 'GET', '/api/v1/exports/intake-esm?aggregation=dataset&format=netcdf', {
      headers: ADMIN,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('query.format');
  });
});

describe('problems', () => {
  it('a dataset with a disagreeing file is refused, naming the file and the difference', async () => {
    const bad = `data/${BAD.dir}/${BAD.files[1]!.name}`;
    const res = await fetch(aggUrl(BAD, '.dds'));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/^Error \{/);
    expect(text).toContain(bad);
    expect(text).toContain('coordinate lat differs at index 0: -50, but -60');
    const dods = await fetch(aggUrl(BAD, '.dods'));
    expect(dods.status).toBe(400);
    expect(await dods.text()).toContain(bad);
  });

  it('restricted: 401 anonymous with a Basic challenge, 404 for others, 200 for its group', async () => {
    const anon = await fetch(aggUrl(SECRET, '.dds'));
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="climcat"');
    expect((await fetch(aggUrl(SECRET, '.dds'), { headers: basic(otherKey) })).status).toBe(404);
    const ok = await fetch(aggUrl(SECRET, '.dds'), { headers: basic(readerKey) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Float32 tas[time = 3][lat = 3][lon = 4];');
  });

  it('an unknown dataset id: 401 anonymous, 404 authenticated', async () => {
    const url = `${running.url}/thredds/dodsC/datasets/cmip5.output1.NOPE.x.rcp45.mon.atmos.Amon.r1i1p1.v1.das`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: basic(otherKey) })).status).toBe(404);
  });

  it('a changed file invalidates the cached DDS', async () => {
    const before = await (await fetch(aggUrl(D360, '.dds'))).text();
    expect(before).toContain('[time = 9]');
    // The last file gains a record: same path, new size and mtime.
    const grown: FileSpec = { ...D360.files[2]!, times: [52755, 52785, 52815, 52845] };
    await writeFile(D360, grown);
    utimesSync(local(D360, grown), new Date(), new Date(Date.now() + 5000));
    await upsert(running.app.get<Store>(STORE), D360, grown);
    try {
      expect(await (await fetch(aggUrl(D360, '.dds'))).text()).toContain('[time = 10]');
    } finally {
      await writeFile(D360, D360.files[2]!);
      await upsert(running.app.get<Store>(STORE), D360, D360.files[2]!);
    }
  });
});
