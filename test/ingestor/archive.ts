/** Archive trees for ingest tests, made with the project's own NetCDF writer. */
import { writeNetcdf3 } from '@climcat/netcdf';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
// The ingest suites scan the very files standalone writes on first start.
import { writeDemoArchive } from '../../apps/standalone/src/demo-archive';

/** The demo CMIP5/CORDEX files (paths relative to root). */
export async function demoArchive(root: string): Promise<string[]> {
  const written = await writeDemoArchive(root);
  return written.map((p) => (p.startsWith(root) ? p.slice(root.length + 1) : p));
}

/** `count` copies of one valid file under `dir` (relative), e.g. a beamline run. */
export function copies(root: string, source: string, dir: string, count: number): string[] {
  const out: string[] = [];
  mkdirSync(join(root, dir), { recursive: true });
  for (let i = 0; i < count; i++) {
    const rel = `${dir}/frame_${String(i).padStart(5, '0')}.nc`;
    copyFileSync(join(root, source), join(root, rel));
    out.push(rel);
  }
  return out;
}

/** Files no NetCDF reader should accept. */
export function badFiles(
  root: string,
  dir: string,
  validSource: string,
): { empty: string; html: string; truncated: string } {
  mkdirSync(join(root, dir), { recursive: true });
  const files = {
    empty: `${dir}/empty.nc`,
    html: `${dir}/saved-page.nc`,
    truncated: `${dir}/truncated.nc`,
  };
  writeFileSync(join(root, files.empty), '');
  writeFileSync(join(root, files.html), '<!DOCTYPE html><html><body>Login required</body></html>');
  const valid = readFileSync(join(root, validSource));
  mkdirSync(dirname(join(root, files.truncated)), { recursive: true });
  writeFileSync(join(root, files.truncated), valid.subarray(0, 40));
  return files;
}

/** A small CF file with no DRS attributes (a beamline-style measurement). */
export async function plainFile(root: string, rel: string): Promise<string> {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  await writeNetcdf3(
    join(root, rel),
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'x', length: 4 },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: [
            { name: 'units', type: 'char', value: 'seconds since 2026-11-21 00:00:00' },
            { name: 'calendar', type: 'char', value: 'standard' },
          ],
        },
        {
          name: 'intensity',
          type: 'float',
          dimensions: ['time', 'x'],
          attributes: [{ name: 'units', type: 'char', value: 'counts' }],
        },
      ],
      globalAttributes: [{ name: 'title', type: 'char', value: 'detector frames' }],
      numRecords: 2,
    },
    { time: new Float64Array([0, 60]), intensity: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) },
  );
  return rel;
}
