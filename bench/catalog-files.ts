/**
 * The file records the catalog benchmark seeds (FILES_PER per dataset), shared with the rescan
 * benchmark, which lays out matching files on disk.
 */
import type { FileRecord } from '@climcat/core';

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
