/** First-start demo data: a few small CMIP5 / CORDEX NetCDF files in DRS layout. */
import { writeDemoArchive } from './demo-archive';
import { mkdir } from 'node:fs/promises';

export async function writeDemoData(dataRoot: string): Promise<string[]> {
  await mkdir(dataRoot, { recursive: true });
  return writeDemoArchive(dataRoot);
}
