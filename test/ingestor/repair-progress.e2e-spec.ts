/**
 * Dataset totals that drifted from their file records (what a crash between
 * a file write and its dataset's recomputation leaves) are found and fixed by
 * POST /ingest/v1/repair and by every rescan; scan counts are visible while
 * a scan runs (issue 9, classes 8 and 10).
 */
import { STORE, type Store } from '@climcat/core';
import { rmSync } from 'node:fs';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api, bearer } from '../catalog/seed';
import { copies, plainFile } from './archive';
import { scanToEnd, stallListing, startScan, waitScan } from './scans';

let running: RunningApp;
let dataRoot: string;
let store: Store;

const A = 'other.drift.a';
const B = 'other.drift.b';

const scan = (): Promise<any> => scanToEnd(running, { root: 'data' });

/** What a crash after the file rows and before the recomputation leaves behind. */
async function drift(id: string): Promise<void> {
  const record = (await store.datasets.get(id))!;
  await store.datasets.replace({ ...record, fileCount: 0, size: 0 }, record.revision);
}

const repair = (body?: unknown, headers = ADMIN) =>
  api(running, 'POST', '/ingest/v1/repair', { headers, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  dataRoot = tempDir('climcat-archive-');
  await plainFile(dataRoot, 'drift/a/frame_source.nc');
  copies(dataRoot, 'drift/a/frame_source.nc', 'drift/a', 2);
  copies(dataRoot, 'drift/a/frame_source.nc', 'drift/b', 2);
  running = await startApp({ env: { DATA_ROOT: dataRoot } });
  store = running.app.get<Store>(STORE);
  expect(await scan()).toMatchObject({ state: 'completed', counts: { new: 5 }, repaired: 0 });
});
afterAll(async () => {
  await running.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('POST /ingest/v1/repair', () => {
  it('needs a curator', async () => {
    expect((await api(running, 'POST', '/ingest/v1/repair', {})).status).toBe(401);
    const reader = (
      await api(running, 'POST', '/api/v1/auth/keys', {
        headers: ADMIN,
        body: { name: 'r', roles: ['reader'], groups: [] },
      })
    ).body.key;
    const refused = await repair({}, bearer(reader));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('reports drift on a dry run without fixing it, then fixes exactly that', async () => {
    const size = (await store.datasets.get(A))!.size;
    await drift(A);
    const dry = await repair({ dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      checked: 2,
      dryRun: true,
      fixed: [{ datasetId: A, from: { fileCount: 0, size: 0 }, to: { fileCount: 3, size } }],
    });
    expect((await api(running, 'GET', `/api/v1/datasets/${A}`)).body).toMatchObject({ fileCount: 0 });

    // Limited to a root and prefix: only the datasets with files there are checked.
    const scoped = await repair({ root: 'data', prefix: 'drift/a' });
    expect(scoped.body).toEqual({
      checked: 1,
      dryRun: false,
      fixed: [{ datasetId: A, from: { fileCount: 0, size: 0 }, to: { fileCount: 3, size } }],
    });
    expect((await api(running, 'GET', `/api/v1/datasets/${A}`)).body).toMatchObject({ fileCount: 3, size });
    const history = await api(running, 'GET', `/api/v1/datasets/${A}/history`, { headers: ADMIN });
    expect(history.body.items[0]).toMatchObject({
      action: 'ingest',
      note: expect.stringContaining('repair'),
    });

    // Without a body: every dataset, nothing left.
    expect((await repair()).body).toEqual({ checked: 2, dryRun: false, fixed: [] });
  });

  it.each([
    [{ root: 'nope' }, 'root'],
    [{ dryRun: 'yes' }, 'dryRun'],
    [{ prefix: '../etc' }, 'prefix'],
  ])('answers 400 for %j', async (body, field) => {
    const res = await repair(body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(JSON.stringify(res.body)).toContain(field);
  });
});

describe('rescans', () => {
  it('recompute the totals of datasets whose files are all unchanged, and say how many', async () => {
    await drift(B);
    const result = await scan();
    expect(result).toMatchObject({ state: 'completed', counts: { seen: 5, unchanged: 5 }, repaired: 1 });
    expect((await api(running, 'GET', `/api/v1/datasets/${B}`)).body).toMatchObject({ fileCount: 2 });
    expect(await scan()).toMatchObject({ repaired: 0 });
  });
});

describe('scan progress', () => {
  it('shows counts while the scan runs, even when the listing stalls', async () => {
    // The listing stops after three files until the test has seen the counts.
    const stall = stallListing(running, 3);
    try {
      const started = await startScan(running, { root: 'data' });
      const seen = await waitScan(running, started.body.id, {
        timeoutMs: 20_000,
        until: (s) => s.counts.seen > 0,
      });
      expect(seen).toMatchObject({ state: 'running', counts: { seen: 3 } });
      expect(seen.rate).toBeGreaterThan(0);
      stall.release();
      const done = await waitScan(running, started.body.id);
      expect(done).toMatchObject({ state: 'completed', counts: { seen: 5 } });
    } finally {
      stall.restore();
    }
  });
});
