/**
 * A rescan checks the totals of the datasets whose files were all unchanged a
 * thousand datasets at a time while the listing goes on, not all of them at
 * the end (1M datasets at CMIP6 scale took two minutes after the listing, and
 * their ids all stayed in memory); a dataset the same scan writes to is not a
 * repair, on mongo either, where its refresh is pending until settled.
 */
import { STORE, type Store } from '@climcat/core';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, tempDir, type RunningApp } from '../harness/app';
import { testEnv } from '../harness/env';
import { api } from '../catalog/seed';
import { plainFile } from './archive';
import { scanToEnd, stallListing, startScan, waitScan } from './scans';

jest.setTimeout(180_000);

/** More than one check's worth (1,000 datasets). */
const DATASETS = 1005;
const dir = (d: number) => `bulk/d${String(d).padStart(4, '0')}`;
const id = (d: number) => `other.bulk.d${String(d).padStart(4, '0')}`;

function suite(adapter: string, env: () => Record<string, string>) {
  describe(`rescan totals check (${adapter})`, () => {
    let running: RunningApp;
    let dataRoot: string;
    let store: Store;

    const rescan = () => scanToEnd(running, { root: 'data' }, 120_000);

    beforeAll(async () => {
      dataRoot = tempDir('climcat-rescan-');
      await plainFile(dataRoot, 'source.nc');
      for (let d = 0; d < DATASETS; d++) {
        mkdirSync(join(dataRoot, dir(d)), { recursive: true });
        copyFileSync(join(dataRoot, 'source.nc'), join(dataRoot, dir(d), 'frame_0.nc'));
      }
      rmSync(join(dataRoot, 'source.nc'));
      running = await startApp({ env: { DATA_ROOT: dataRoot, ...env() } });
      store = running.app.get<Store>(STORE);
      expect(await rescan()).toMatchObject({
        state: 'completed',
        counts: { new: DATASETS, failed: 0 },
        repaired: 0,
      });
    });
    afterAll(async () => {
      await running?.close();
      rmSync(dataRoot, { recursive: true, force: true });
    });

    it('fixes drift among the first thousand datasets before the listing ends, and counts only real drift', async () => {
      // What a crash between a file write and its dataset's recomputation leaves behind...
      const drifted = (await store.datasets.get(id(5)))!;
      await store.datasets.replace({ ...drifted, fileCount: 0, size: 0 }, drifted.revision);
      // ...and a dataset this scan writes a new file to and then skips a file of: the one whose
      // unchanged file starts the check ('-' sorts before '_'), while its new file is written.
      copyFileSync(join(dataRoot, dir(999), 'frame_0.nc'), join(dataRoot, dir(999), 'frame-new.nc'));

      // The listing stops once the first thousand unchanged datasets have been seen (1,002
      // files: d0999 has two) until the test has looked at the catalog.
      const stall = stallListing(running, 1002);
      try {
        const started = await startScan(running, { root: 'data' });
        expect(started.status).toBe(202);
        const scanId = started.body.id;
        const seen = await waitScan(running, scanId, {
          timeoutMs: 60_000,
          until: (s) => s.counts.seen >= 1002,
        });
        expect(seen).toMatchObject({ state: 'running', counts: { seen: 1002 } });
        const midway = (await api(running, 'GET', `/api/v1/datasets/${id(5)}`)).body;
        expect({ fileCount: midway.fileCount, size: midway.size }).toEqual({
          fileCount: 1,
          size: (await store.files.aggregate(id(5))).size,
        });
        stall.release();
        expect(await waitScan(running, scanId, { timeoutMs: 120_000 })).toMatchObject({
          state: 'completed',
          counts: { seen: DATASETS + 1, unchanged: DATASETS, new: 1, failed: 0 },
          repaired: 1,
        });
      } finally {
        stall.restore();
      }
      expect((await api(running, 'GET', `/api/v1/datasets/${id(999)}`)).body).toMatchObject({ fileCount: 2 });
      expect(await rescan()).toMatchObject({ state: 'completed', repaired: 0 });
    });
  });
}

suite('sqlite', () => ({}));
suite('mongo', () => ({
  MONGODB_URI: testEnv('TEST_MONGODB_URI'),
  MONGODB_DB: `rescan_${process.pid}_${Date.now()}`,
}));
