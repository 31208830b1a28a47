/** A small CMIP5 / CORDEX / derived catalog with files, seeded through the API and the store. */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { ADMIN, bearer, type RunningApp } from '../harness/app';

export interface Seeded {
  readerKey: string;
  otherKey: string;
  curatorKey: string;
}

export async function api(
  running: RunningApp,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${running.url}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (CSV, empty)
  }
  return { status: res.status, body, headers: res.headers };
}

async function key(running: RunningApp, roles: string[], groups: string[]): Promise<string> {
  const res = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'test', roles, groups },
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(res.body)}`);
  return res.body.key as string;
}

const cmip5 = (
  model: string,
  experiment: string,
  variable: string,
  version: string,
  extra: Record<string, unknown> = {},
) => ({
  datasetId: `cmip5.output1.${model === 'EC-EARTH' ? 'ICHEC' : 'MOHC'}.${model}.${experiment}.mon.atmos.Amon.r1i1p1`,
  version,
  kind: 'standard',
  project: 'CMIP5',
  facets: {
    product: 'output1',
    institute: model === 'EC-EARTH' ? 'ICHEC' : 'MOHC',
    model,
    experiment,
    time_frequency: 'mon',
    realm: 'atmos',
    cmor_table: 'Amon',
    ensemble: 'r1i1p1',
    variable: [variable],
  },
  variables: [
    {
      name: variable,
      standardName: variable === 'tas' ? 'air_temperature' : 'precipitation_flux',
      units: 'K',
    },
  ],
  timeCoverage:
    experiment === 'historical'
      ? { start: '1850-01-16T00:00:00', end: '2005-12-16T00:00:00', calendar: '360_day', frequency: 'mon' }
      : { start: '2006-01-16T00:00:00', end: '2099-12-16T00:00:00', calendar: '360_day', frequency: 'mon' },
  bbox: [-180, -90, 180, 90],
  access: { public: true, ownerGroup: 'esgf', accessGroups: [] },
  title: `${model} ${experiment} ${variable} monthly`,
  ...extra,
});

export const DATASETS = [
  cmip5('HadGEM2-ES', 'rcp45', 'tas', '20111128'),
  cmip5('HadGEM2-ES', 'rcp85', 'tas', '20111128'),
  cmip5('HadGEM2-ES', 'historical', 'pr', '20110916'),
  cmip5('EC-EARTH', 'rcp45', 'tas', '20120101'),
  cmip5('EC-EARTH', 'rcp85', 'pr', '20120101', {
    access: { public: false, ownerGroup: 'ichec', accessGroups: ['eucp'] },
    title: 'EC-EARTH embargoed run',
  }),
  {
    datasetId: 'cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas',
    version: '20131026',
    kind: 'standard',
    project: 'CORDEX',
    facets: {
      product: 'output',
      domain: 'EUR-44',
      institute: 'SMHI',
      driving_model: 'MPI-M-MPI-ESM-LR',
      experiment: 'rcp85',
      ensemble: 'r1i1p1',
      rcm_name: 'SMHI-RCA4',
      rcm_version: 'v1',
      time_frequency: 'mon',
      variable: ['tas'],
    },
    variables: [{ name: 'tas', standardName: 'air_temperature', units: 'K' }],
    timeCoverage: {
      start: '2006-01-16T12:00:00',
      end: '2100-12-16T12:00:00',
      calendar: 'standard',
      frequency: 'mon',
    },
    bbox: [-44.6, 21.9, 65.2, 72.6],
    gridType: 'rotated_latitude_longitude',
    access: { public: true, ownerGroup: 'esgf', accessGroups: [] },
    title: 'Euro-CORDEX RCA4 driven by MPI-ESM-LR, rcp85 tas',
  },
  {
    id: 'pacific-sst-anomaly.v1',
    datasetId: 'derived.pacific-sst-anomaly',
    version: '1',
    kind: 'derived',
    project: 'other',
    facets: { variable: ['tos'] },
    variables: [{ name: 'tos', units: 'K' }],
    timeCoverage: { start: '1980-01-01T00:00:00', end: '1999-12-30T00:00:00', calendar: 'noleap' },
    bbox: [150, -10, -120, 10],
    access: { public: false, ownerGroup: 'eucp', accessGroups: [] },
    title: 'Pacific SST anomaly across the dateline',
    keywords: ['ENSO', 'anomaly'],
    provenance: {
      derivedFrom: ['cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.v20110916'],
      software: 'xarray',
      softwareVersion: '2023.1',
      script: 'https://git.example.org/eucp/notebooks/anomaly.ipynb',
      author: 'alice',
    },
  },
];

export async function seedCatalog(running: RunningApp): Promise<Seeded> {
  for (const body of DATASETS) {
    const res = await api(running, 'POST', '/api/v1/datasets', { headers: ADMIN, body });
    if (res.status !== 201) throw new Error(`seed failed: ${JSON.stringify(res.body)}`);
  }
  const store = running.app.get<Store>(STORE);
  const now = new Date().toISOString();
  for (const d of DATASETS) {
    const id = (d as { id?: string }).id ?? `${d.datasetId}.v${d.version}`;
    const variable = d.facets.variable[0]!;
    const dir = d.datasetId.replace(/\./g, '/');
    const years =
      d.project === 'CORDEX'
        ? ['200601-201012', '201101-201512']
        : ['200601-203012', '203101-205512', '205601-209912'];
    for (const range of years) {
      const file: FileRecord = {
        id: `${id}/${range}`,
        datasetId: id,
        location: { root: 'data', path: `${dir}/v${d.version}/${variable}_${range}.nc` },
        size: 1_000_000,
        mtime: now,
        format: 'NETCDF3_CLASSIC',
        timeCoverage: {
          start: `${range.slice(0, 4)}-${range.slice(4, 6)}-16T00:00:00`,
          end: `${range.slice(7, 11)}-${range.slice(11, 13)}-16T00:00:00`,
          calendar: '360_day',
        },
        variables: [variable],
        status: 'present',
        createdAt: now,
        updatedAt: now,
      };
      await store.files.upsert(file);
    }
    const agg = await store.files.aggregate(id);
    const record = await store.datasets.get(id);
    if (record)
      await store.datasets.replace({ ...record, size: agg.size, fileCount: agg.fileCount }, record.revision);
  }
  return {
    readerKey: await key(running, ['reader'], ['eucp']),
    otherKey: await key(running, ['reader'], ['nobody']),
    curatorKey: await key(running, ['curator'], []),
  };
}

export { bearer };
