/**
 * The synthetic catalog of the catalog benchmarks: datasets of CMIP5 and CORDEX shape
 * (70% / 30%), 80% public, drawn from a seeded generator so every run and every store
 * adapter gets the same catalog.
 */
import type { DatasetRecord, FileRecord } from '@climcat/core';
import type { Type } from '@nestjs/common';
import { createApp, loadConfig, type ClimcatApp } from '@climcat/platform';
import { CatalogModule } from '../apps/catalog/src/catalog.module';

export const MODELS: [string, string][] = [];
const INSTITUTES = [
  'MOHC',
  'ICHEC',
  'IPSL',
  'MPI-M',
  'CNRM-CERFACS',
  'NCAR',
  'NOAA-GFDL',
  'CCCma',
  'MIROC',
  'BCC',
  'CSIRO-BOM',
  'NCC',
  'INM',
  'MRI',
];
for (const inst of INSTITUTES)
  for (const suffix of ['', '-LR', '-MR'])
    MODELS.push([inst, `${inst.split('-')[0]}${suffix ? suffix : '-ESM'}`]);
export const EXPERIMENTS = [
  'historical',
  'rcp26',
  'rcp45',
  'rcp60',
  'rcp85',
  'piControl',
  'amip',
  'abrupt4xCO2',
  '1pctCO2',
  'decadal1960',
  'decadal1980',
  'historicalNat',
];
const TABLES: [string, string, string][] = [
  ['mon', 'atmos', 'Amon'],
  ['day', 'atmos', 'day'],
  ['3hr', 'atmos', '3hr'],
  ['6hr', 'atmos', '6hrPlev'],
  ['mon', 'ocean', 'Omon'],
  ['mon', 'land', 'Lmon'],
  ['fx', 'atmos', 'fx'],
];
export const VARIABLES = [
  'tas',
  'pr',
  'psl',
  'uas',
  'vas',
  'huss',
  'tasmax',
  'tasmin',
  'rsds',
  'rlds',
  'clt',
  'hurs',
  'sfcWind',
  'evspsbl',
  'mrso',
  'tos',
  'zg',
  'ta',
  'ua',
  'va',
];
const DOMAINS = ['EUR-11', 'EUR-44', 'EUR-44i', 'AFR-44', 'NAM-44', 'EAS-44'];
const RCMS = [
  'SMHI-RCA4',
  'CLMcom-CCLM4-8-17',
  'KNMI-RACMO22E',
  'DMI-HIRHAM5',
  'IPSL-INERIS-WRF331F',
  'MPI-CSC-REMO2009',
];

export function datasetAt(i: number, rand: () => number, filesPer: number): Omit<DatasetRecord, 'revision'> {
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)]!;
  const [institute, model] = pick(MODELS);
  const experiment = pick(EXPERIMENTS);
  const variable = pick(VARIABLES);
  const ensemble = `r${1 + Math.floor(rand() * 10)}i1p1`;
  const version = `2012${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
  const now = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  const isPublic = rand() < 0.8;
  const start = experiment === 'historical' ? 1850 : 2006;
  const access = {
    public: isPublic,
    ownerGroup: isPublic ? 'esgf' : pick(['eucp', 'smhi', 'knmi', 'dmi']),
    accessGroups: isPublic ? [] : [pick(['eucp', 'cordex'])],
  };
  if (i % 10 < 3) {
    const domain = pick(DOMAINS);
    const rcm = pick(RCMS);
    const frequency = pick(['mon', 'day', '3hr']);
    const datasetId = `cordex.output.${domain}.${rcm.split('-')[0]}.${institute}-${model}.${experiment}.${ensemble}.${rcm}.v1.${frequency}.${variable}.i${i}`;
    return {
      id: `${datasetId}.v${version}`,
      datasetId,
      version,
      kind: 'standard',
      project: 'CORDEX',
      facets: {
        project: 'CORDEX',
        product: 'output',
        domain,
        institute: rcm.split('-')[0]!,
        driving_model: `${institute}-${model}`,
        experiment,
        ensemble,
        rcm_name: rcm,
        rcm_version: 'v1',
        time_frequency: frequency,
        variable: [variable],
        version,
      },
      variables: [{ name: variable, units: 'K' }],
      timeCoverage: {
        start: `${start}-01-01T12:00:00`,
        end: `${start + 94}-12-30T12:00:00`,
        calendar: pick(['standard', '360_day', 'noleap']),
        frequency,
      },
      bbox: domain.startsWith('EUR') ? [-44.6, 21.9, 65.2, 72.6] : [-25, -46, 60, 42],
      gridType: 'rotated_latitude_longitude',
      size: filesPer * 250_000_000,
      fileCount: filesPer,
      access,
      status: 'latest',
      availability: 'online',
      title: `${rcm} driven by ${model} ${experiment} ${variable} ${frequency} over ${domain}`,
      description: '',
      keywords: ['CORDEX', domain],
      createdAt: now,
      updatedAt: now,
    };
  }
  const [frequency, realm, table] = pick(TABLES);
  const datasetId = `cmip5.output1.${institute}.${model}.${experiment}.${frequency}.${realm}.${table}.${ensemble}.i${i}`;
  return {
    id: `${datasetId}.v${version}`,
    datasetId,
    version,
    kind: i % 50 === 0 ? 'derived' : 'standard',
    project: 'CMIP5',
    facets: {
      project: 'CMIP5',
      product: 'output1',
      institute,
      model,
      experiment,
      time_frequency: frequency,
      realm,
      cmor_table: table,
      ensemble,
      variable: [variable],
      version,
    },
    variables: [
      { name: variable, standardName: variable === 'tas' ? 'air_temperature' : undefined, units: 'K' },
    ].map((v) => (v.standardName ? v : { name: v.name, units: v.units })),
    timeCoverage: {
      start: `${start}-01-16T00:00:00`,
      end: `${start + 150}-12-16T00:00:00`,
      calendar: pick(['360_day', 'noleap', 'standard', 'proleptic_gregorian']),
      frequency,
    },
    bbox: [-180, -90, 180, 90],
    size: filesPer * 400_000_000,
    fileCount: filesPer,
    access,
    status: rand() < 0.9 ? 'latest' : 'superseded',
    availability: rand() < 0.85 ? 'online' : 'offline',
    title: `${model} ${experiment} ${variable} ${table} ${ensemble}`,
    description: 'CMIP5 model output',
    keywords: ['CMIP5'],
    createdAt: now,
    updatedAt: now,
  };
}

/** File `f` of dataset number `i` (id `datasetId`), as seeded; `mtime` is the seeding time. */
export function seededFile(datasetId: string, i: number, f: number, mtime: string): FileRecord {
  return {
    id: `${i}-${f}`,
    datasetId,
    location: {
      root: 'data',
      path: `${datasetId.replace(/\./g, '/')}/f_${2006 + f * 10}01-${2015 + f * 10}12.nc`,
    },
    size: 400_000_000,
    mtime,
    format: 'NETCDF4',
    timeCoverage: {
      start: `${2006 + f * 10}-01-16T00:00:00`,
      end: `${2015 + f * 10}-12-16T00:00:00`,
      calendar: '360_day',
    },
    variables: ['tas'],
    status: 'present',
    createdAt: mtime,
    updatedAt: mtime,
  };
}

/** The benchmarks' query mix: URLs of the i-th facet search, free-text search and get-by-id of `ids`. */
export function catalogQueries(ids: readonly string[]): {
  facet: (i: number) => string;
  text: (i: number) => string;
  byId: (i: number) => string;
} {
  const facetsParam = 'facets=model,institute,time_frequency,realm,cmor_table,ensemble,experiment,variable';
  return {
    facet: (i) =>
      `/api/v1/datasets?project=CMIP5&experiment=${EXPERIMENTS[i % EXPERIMENTS.length]}&variable=${VARIABLES[i % VARIABLES.length]}&${facetsParam}&limit=20`,
    text: (i) =>
      `/api/v1/datasets?q=${encodeURIComponent(`${MODELS[i % MODELS.length]![1]} ${VARIABLES[i % VARIABLES.length]}`)}&limit=20`,
    byId: (i) => `/api/v1/datasets/${encodeURIComponent(ids[(i * 7919) % ids.length]!)}`,
  };
}

/** The benchmarks' admin key (ADMIN_API_KEY of the catalog they start). */
export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789';

/**
 * The catalog app on a loopback port with `env` (plus the bench admin key), and a GET that
 * fails on anything but 200; `admin` is the admin's Authorization header.
 */
export async function serveCatalog(
  env: Record<string, string>,
  features: Type[] = [CatalogModule],
): Promise<{
  app: ClimcatApp;
  base: string;
  admin: Record<string, string>;
  get: (path: string, headers?: Record<string, string>) => Promise<string>;
}> {
  const config = loadConfig('catalog', { ADMIN_API_KEY: BENCH_ADMIN_KEY, ...env });
  const app = await createApp(config, features);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { headers });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.text();
  };
  return { app, base, admin: { Authorization: `Bearer ${BENCH_ADMIN_KEY}` }, get };
}
