/**
 * Hook for first-start demo data. The NetCDF library (libs/netcdf) provides
 * the writer; until it lands this only creates the archive directory.
 */
import { mkdir } from 'node:fs/promises';

export async function writeDemoData(dataRoot: string): Promise<string[]> {
  await mkdir(dataRoot, { recursive: true });
  return [];
}
