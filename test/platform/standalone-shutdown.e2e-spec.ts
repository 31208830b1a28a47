/**
 * Closing the application stops the HDF5 worker threads that NetCDF-4
 * ingestion started, so a closed app leaves nothing running.
 */
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hdf5Worker } from '@climcat/netcdf';
import { ADMIN, startApp, tempDir } from '../harness/app';
import { api } from '../catalog/seed';
import { which } from '../harness/servers';
import { demoArchive } from '../ingestor/archive';

function requireNccopy(): string {
  const path = which('nccopy');
  if (!path) throw new Error('nccopy not found on PATH: install it with "apt-get install netcdf-bin"');
  return path;
}

describe('application shutdown', () => {
  it('terminates the HDF5 worker thread after NetCDF-4 files were ingested', async () => {
    const nccopy = requireNccopy();
    const dataRoot = tempDir('climcat-nc4-');
    const files = await demoArchive(dataRoot);
    // Every demo file as NetCDF-4 (HDF5), same DRS path.
    for (const rel of files) {
      const path = join(dataRoot, rel);
      execFileSync(nccopy, ['-k', 'nc4', path, `${path}.nc4`]);
      renameSync(`${path}.nc4`, path);
    }
    const running = await startApp({ env: { DATA_ROOT: dataRoot } });
    try {
      const started = await api(running, 'POST', '/ingest/v1/scans', {
        headers: ADMIN,
        body: { root: 'data' },
      });
      expect(started.status).toBe(202);
      let state: { state: string; counts: Record<string, number> };
      const deadline = Date.now() + 30_000;
      do {
        await new Promise((r) => setTimeout(r, 50));
        state = (await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN })).body;
        if (Date.now() > deadline) throw new Error(`scan did not finish: ${JSON.stringify(state)}`);
      } while (!['completed', 'failed', 'cancelled'].includes(state.state));
      expect(state).toMatchObject({ state: 'completed', counts: { new: files.length, failed: 0 } });
      const datasets = await api(running, 'GET', '/api/v1/datasets?limit=50', { headers: ADMIN });
      expect(datasets.body.total).toBe(files.length);
      expect(hdf5Worker().liveWorkers).toBe(1);
    } finally {
      await running.close();
      rmSync(dataRoot, { recursive: true, force: true });
    }
    expect(hdf5Worker().liveWorkers).toBe(0);
  }, 60_000);
});
