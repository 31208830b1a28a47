/**
 * A small archive for the /thredds suites: real NetCDF-3 and NetCDF-4 files
 * (ncgen), a public and a restricted dataset with their file records, an
 * uncatalogued file and a catalogued symlink that leaves the root, plus API
 * keys of a reader in the restricted dataset's group and of another group.
 */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ADMIN, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { ncgen } from '../netcdf/tools';

export const PUBLIC_ID = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
export const SECRET_ID = 'cmip5.output1.ICHEC.EC-EARTH.rcp85.mon.atmos.Amon.r1i1p1.v20120101';

const PUBLIC_DIR = 'cmip5/output1/MOHC/HadGEM2-ES/rcp45/mon/atmos/Amon/r1i1p1/v20111128/tas';
const SECRET_DIR = 'cmip5/output1/ICHEC/EC-EARTH/rcp85/mon/atmos/Amon/r1i1p1/v20120101/pr';

/** Paths relative to the `data` root. */
export const PATHS = {
  nc3: `${PUBLIC_DIR}/tas_Amon_HadGEM2-ES_rcp45_r1i1p1_200512-200603.nc`,
  nc4: `${PUBLIC_DIR}/tas_day_nc4-features.nc`,
  bytes: `${PUBLIC_DIR}/random-bytes.nc`,
  secret: `${SECRET_DIR}/pr_Amon_EC-EARTH_rcp85_r1i1p1_200601-200612.nc`,
  uncatalogued: `${SECRET_DIR}/not-in-the-catalog.nc`,
  escape: `${PUBLIC_DIR}/escape.nc`,
};

export interface ThreddsArchive {
  /** Keys: a reader in the restricted dataset's group, and one of another group. */
  readerKey: string;
  otherKey: string;
  /** The file the symlink points to, outside every root. */
  outside: string;
}

/** Writes the files under `root` (the `data` root); call before the app starts or after. */
export async function writeArchive(root: string, outsideDir: string): Promise<string> {
  const make = async (fixture: string, kind: 'classic' | 'nc4', rel: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    const out = await ncgen(fixture, kind, dirname(join(root, rel)));
    renameSync(out, join(root, rel));
  };
  await make('cmip5_tas_amon.cdl', 'classic', PATHS.nc3);
  await make('nc4_features.cdl', 'nc4', PATHS.nc4);
  await make('cmip5_tas_amon.cdl', 'classic', PATHS.secret);
  await make('cmip5_tas_amon.cdl', 'classic', PATHS.uncatalogued);
  writeFileSync(join(root, PATHS.bytes), randomBytes(300_000));
  const outside = join(outsideDir, 'secret-outside.nc');
  writeFileSync(outside, 'bytes outside every root');
  symlinkSync(outside, join(root, PATHS.escape));
  return outside;
}

/** Datasets through the API, file records through the store (sizes and mtimes of the files). */
export async function catalogArchive(
  running: RunningApp,
  root: string,
): Promise<Omit<ThreddsArchive, 'outside'>> {
  const datasets = [
    {
      datasetId: PUBLIC_ID.replace(/\.v\d+$/, ''),
      version: '20111128',
      access: { public: true, ownerGroup: 'esgf', accessGroups: [] },
      facets: { institute: 'MOHC', model: 'HadGEM2-ES', experiment: 'rcp45', variable: ['tas'] },
    },
    {
      datasetId: SECRET_ID.replace(/\.v\d+$/, ''),
      version: '20120101',
      access: { public: false, ownerGroup: 'ichec', accessGroups: ['eucp'] },
      facets: { institute: 'ICHEC', model: 'EC-EARTH', experiment: 'rcp85', variable: ['pr'] },
    },
  ];
  for (const d of datasets) {
    const res = await api(running, 'POST', '/api/v1/datasets', {
      headers: ADMIN,
      body: {
        ...d,
        kind: 'standard',
        project: 'CMIP5',
        variables: [
          {
            name: d.facets.variable[0],
            standardName: 'air_temperature',
            longName: 'Near-Surface Air Temperature',
            units: 'K',
          },
        ],
        timeCoverage: { start: '2005-12-16T00:00:00', end: '2006-03-16T00:00:00', calendar: '360_day' },
        bbox: [-180, -90, 180, 90],
        title: `${d.facets.model} ${d.facets.variable[0]}`,
      },
    });
    if (res.status !== 201) throw new Error(`dataset creation failed: ${JSON.stringify(res.body)}`);
  }
  const store = running.app.get<Store>(STORE);
  const now = new Date().toISOString();
  const records: [string, string][] = [
    [PUBLIC_ID, PATHS.nc3],
    [PUBLIC_ID, PATHS.nc4],
    [PUBLIC_ID, PATHS.bytes],
    [PUBLIC_ID, PATHS.escape],
    [SECRET_ID, PATHS.secret],
  ];
  for (const [datasetId, path] of records) {
    const st = statSync(join(root, path));
    const file: FileRecord = {
      id: `${datasetId}/${path.split('/').pop()!}`,
      datasetId,
      location: { root: 'data', path },
      size: st.size,
      mtime: st.mtime.toISOString(),
      format: path === PATHS.nc4 ? 'NETCDF4' : 'NETCDF3_CLASSIC',
      timeCoverage: { start: '2005-12-16T00:00:00', end: '2006-03-16T00:00:00', calendar: '360_day' },
      variables: [datasetId === PUBLIC_ID ? 'tas' : 'pr'],
      status: 'present',
      createdAt: now,
      updatedAt: now,
    };
    await store.files.upsert(file);
  }
  const key = async (groups: string[]) => {
    const res = await api(running, 'POST', '/api/v1/auth/keys', {
      headers: ADMIN,
      body: { name: 'thredds-test', roles: ['reader'], groups },
    });
    if (res.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(res.body)}`);
    return res.body.key as string;
  };
  return { readerKey: await key(['eucp']), otherKey: await key(['nobody']) };
}

/** `Authorization: Basic` with the API key as password (any user name). */
export function basic(key: string, user = 'climcat'): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}` };
}

/** Scans the `data` root and waits until the scan completed with no failed file. */
export async function scanData(running: RunningApp): Promise<void> {
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (res.body.state === 'completed') {
      expect(res.body.counts.failed).toBe(0);
      return;
    }
    if (['failed', 'cancelled'].includes(res.body.state)) throw new Error(JSON.stringify(res.body));
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('scan did not finish');
}
