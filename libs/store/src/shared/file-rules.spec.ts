import type { FileRecord } from '@climcat/core';
import { fileUpsertPlan, pathPrefixRange } from './file-rules';

const stored: FileRecord = {
  id: 'f-1',
  datasetId: 'ds-1',
  location: { root: 'data', path: 'a/b.nc' },
  size: 10,
  mtime: '2024-01-01T00:00:00Z',
  format: 'netcdf4',
  timeCoverage: null,
  variables: [],
  status: 'present',
  createdAt: '2024-01-01T00:00:00Z',
  updatedAt: '2024-01-01T00:00:00Z',
};

describe('fileUpsertPlan', () => {
  it('inserts an unknown location as new and present', () => {
    expect(fileUpsertPlan(null, { ...stored, status: 'removed' })).toEqual({
      outcome: 'new',
      write: 'insert',
      record: stored,
    });
  });

  it('writes nothing when only untracked fields differ', () => {
    expect(fileUpsertPlan(stored, { ...stored, format: 'netcdf3', updatedAt: 'later' })).toMatchObject({
      outcome: 'unchanged',
      write: 'none',
    });
  });

  it('updates a changed file, keeping the stored id and createdAt', () => {
    const plan = fileUpsertPlan(stored, { ...stored, id: 'f-2', size: 11, createdAt: 'later' });
    expect(plan).toEqual({ outcome: 'changed', write: 'update', record: { ...stored, size: 11 } });
  });

  it('reports a removed file registered again as new', () => {
    const plan = fileUpsertPlan({ ...stored, status: 'removed' }, stored);
    expect(plan).toEqual({ outcome: 'new', write: 'update', record: stored });
  });
});

describe('pathPrefixRange', () => {
  it('selects everything for an empty or slash-only prefix', () => {
    expect(pathPrefixRange('')).toBeNull();
    expect(pathPrefixRange('/')).toBeNull();
  });

  it('selects the directory and the file of that name, ignoring surrounding slashes', () => {
    expect(pathPrefixRange('/a/b/')).toEqual({ exact: 'a/b', from: 'a/b/', to: 'a/b0' });
  });

  it('excludes siblings that only share the string prefix', () => {
    const range = pathPrefixRange('a/b')!;
    const under = (path: string) => path === range.exact || (path >= range.from && path < range.to);
    expect(['a/b', 'a/b/x.nc', 'a/b/c/d.nc'].every(under)).toBe(true);
    expect(['a/bc/x.nc', 'a/b.nc', 'a/b-old/x.nc', 'a/a'].some(under)).toBe(false);
  });
});
