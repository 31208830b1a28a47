/** Record builders for the store contract suite: small, valid, and explicit about what a test varies. */
import type {
  AccessFilter,
  ApiKeyRecord,
  AuditEntry,
  DatasetQuery,
  DatasetRecord,
  FileRecord,
  ScanRecord,
} from '@climcat/core';

export type NewDataset = Omit<DatasetRecord, 'revision'>;

export const EVERYTHING: AccessFilter = { everything: true, groups: [] };

export function dataset(id: string, overrides: Partial<NewDataset> = {}): NewDataset {
  return {
    id,
    datasetId: id,
    version: '20111128',
    kind: 'standard',
    project: 'CMIP5',
    facets: { project: 'CMIP5', model: 'HadGEM2-ES', experiment: 'rcp45', variable: ['tas'] },
    variables: [{ name: 'tas', standardName: 'air_temperature', units: 'K' }],
    timeCoverage: { start: '2006-01-16T00:00:00', end: '2099-12-16T00:00:00', calendar: '360_day' },
    bbox: [0, -90, 360, 90],
    size: 1000,
    fileCount: 1,
    access: { public: true, ownerGroup: 'cmip5', accessGroups: [] },
    status: 'latest',
    availability: 'online',
    title: `dataset ${id}`,
    description: '',
    keywords: [],
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
    ...overrides,
  };
}

/** A dataset using every optional field, to pin exact round-trips. */
export function fullDataset(id: string): NewDataset {
  return dataset(id, {
    datasetId: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1',
    facets: {
      project: 'CMIP5',
      product: 'output1',
      institute: 'MOHC',
      model: 'HadGEM2-ES',
      experiment: 'rcp45',
      time_frequency: 'mon',
      realm: 'atmos',
      cmor_table: 'Amon',
      ensemble: 'r1i1p1',
      variable: ['tas', 'pr'],
      cf_standard_name: ['air_temperature', 'precipitation_flux'],
      version: 'v20111128',
    },
    variables: [
      { name: 'tas', standardName: 'air_temperature', longName: 'Near-Surface Air Temperature', units: 'K' },
      { name: 'pr' },
    ],
    timeCoverage: {
      start: '2005-12-01T00:00:00',
      end: '2030-11-30T00:00:00',
      calendar: '360_day',
      frequency: 'mon',
    },
    bbox: [-180, -90, 180, 90],
    gridType: 'gaussian',
    size: 126_000_000_000_000,
    fileCount: 3,
    access: { public: false, ownerGroup: 'mohc', accessGroups: ['eucp', 'cordex'] },
    status: 'superseded',
    statusReason: 'replaced by v20120101',
    availability: 'partial',
    title: 'HadGEM2-ES rcp45 monthly',
    description: 'Monthly means',
    keywords: ['climate', 'scenario'],
    license: 'CC-BY-4.0',
    citation: 'Met Office Hadley Centre (2011)',
    contacts: [{ name: 'Data Manager', email: 'dm@example.org', role: 'curator' }, { name: 'Bare' }],
    provenance: {
      derivedFrom: ['parent-1'],
      software: 'cdo',
      softwareVersion: '2.0.5',
      script: 'cdo monmean',
      parameters: { window: 30, nested: { empty: {} }, list: [1, 'a', null] },
      author: 'someone',
    },
    warnings: [],
  });
}

export function file(id: string, path: string, overrides: Partial<FileRecord> = {}): FileRecord {
  return {
    id,
    datasetId: 'ds-1',
    location: { root: 'data', path },
    size: 100,
    mtime: '2024-01-01T00:00:00Z',
    format: 'netcdf4',
    timeCoverage: null,
    variables: ['tas'],
    status: 'present',
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
    ...overrides,
  };
}

export function auditEntry(id: string, at: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id,
    entityType: 'dataset',
    entityId: 'ds-1',
    action: 'update',
    actor: 'curator-1',
    at,
    changes: [{ path: '/title', from: 'old', to: 'new' }],
    ...overrides,
  };
}

export function apiKey(id: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id,
    name: `key ${id}`,
    hash: `hash-${id}`,
    prefix: `ck_${id}`,
    roles: ['reader'],
    groups: ['eucp'],
    createdAt: '2024-01-01T00:00:00Z',
    createdBy: 'admin',
    ...overrides,
  };
}

export function scan(id: string, overrides: Partial<ScanRecord> = {}): ScanRecord {
  return {
    id,
    root: 'data',
    prefix: '',
    state: 'queued',
    counts: { seen: 0, new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 },
    bytes: 0,
    errors: [],
    requestedBy: 'admin',
    createdAt: '2024-01-01T00:00:00Z',
    ...overrides,
  };
}

export function query(overrides: Partial<DatasetQuery> = {}): DatasetQuery {
  return { access: EVERYTHING, limit: 100, ...overrides };
}
