import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { testEnv } from '../harness/env';
import { api, bearer } from '../catalog/seed';
import { badFiles, copies, demoArchive, plainFile } from './archive';
import { startScan, waitScan } from './scans';

let running: RunningApp;
let dataRoot: string;
let demo: string[];

async function scan(body: Record<string, unknown>, headers = ADMIN, app = running): Promise<any> {
  const started = await startScan(app, body, headers);
  return started.status === 202 ? waitScan(app, started.body.id) : started;
}

const cmip5Tas = () => demo.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;

beforeAll(async () => {
  dataRoot = tempDir('climcat-archive-');
  demo = await demoArchive(dataRoot);
  running = await startApp({ env: { DATA_ROOT: dataRoot } });
});
afterAll(async () => {
  await running.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('directory scans', () => {
  it('registers every demo file into DRS datasets with access URLs', async () => {
    const result = await scan({ root: 'data' });
    expect(result).toMatchObject({
      state: 'completed',
      counts: { seen: demo.length, new: demo.length, failed: 0 },
    });
    const datasets = await api(running, 'GET', '/api/v1/datasets?limit=100&facets=project');
    expect(datasets.body.facets.project).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ value: 'CMIP5' }),
        expect.objectContaining({ value: 'CORDEX' }),
      ]),
    );
    const tas = cmip5Tas();
    const id = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
    const dataset = await api(running, 'GET', `/api/v1/datasets/${id}`);
    expect(dataset.status).toBe(200);
    expect(dataset.body).toMatchObject({
      fileCount: 1,
      size: statSync(join(dataRoot, tas)).size,
      kind: 'standard',
    });
    expect(dataset.body.timeCoverage.calendar).toBe('360_day');
    const files = await api(running, 'GET', `/api/v1/datasets/${id}/files`);
    expect(files.body.items[0].path).toBe(tas);
  });

  it('reads no file contents on a rescan of an unchanged tree', async () => {
    await scan({ root: 'data' });
    // Overwrite contents but keep size and mtime: a scan that read them would fail.
    const path = join(dataRoot, cmip5Tas());
    const { size, mtime, atime } = statSync(path);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(size, 0x41), 0, size, 0);
    closeSync(fd);
    utimesSync(path, atime, mtime);
    const result = await scan({ root: 'data' });
    expect(result.counts).toEqual({
      seen: demo.length,
      new: 0,
      changed: 0,
      unchanged: demo.length,
      removed: 0,
      failed: 0,
    });
  });

  it('re-reads a file whose mtime changed and reports why it fails', async () => {
    const path = join(dataRoot, cmip5Tas());
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    const result = await scan({ root: 'data' });
    expect(result.counts.failed).toBe(1);
    expect(result.errors[0]).toEqual({
      path: cmip5Tas(),
      reason: expect.stringMatching(/NetCDF|HDF5|signature|magic/i),
    });
  });

  it('marks vanished files removed and updates their dataset', async () => {
    const orog = demo.find((p) => p.includes('/orog/'))!;
    rmSync(join(dataRoot, orog));
    const result = await scan({ root: 'data' });
    expect(result.counts.removed).toBe(1);
    const id = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.fx.atmos.fx.r0i0p0.v20111128';
    const dataset = await api(running, 'GET', `/api/v1/datasets/${id}`);
    expect(dataset.body).toMatchObject({ fileCount: 0, size: 0, availability: 'offline' });
    expect((await api(running, 'GET', `/api/v1/datasets/${id}/files`)).body.total).toBe(0);
  });

  it('records bad files with exact reasons and keeps going', async () => {
    const source = demo.find((p) => p.includes('/pr/') && p.startsWith('cmip5/'))!;
    const bad = badFiles(dataRoot, 'incoming/bad', source);
    for (const n of [1, 2, 3]) await plainFile(dataRoot, `incoming/good/frames_${n}.nc`);
    const result = await scan({ root: 'data', prefix: 'incoming' });
    expect(result.state).toBe('completed');
    expect(result.counts).toMatchObject({ seen: 6, new: 3, failed: 3 });
    const reasons = Object.fromEntries(
      result.errors.map((e: { path: string; reason: string }) => [e.path, e.reason]),
    );
    expect(reasons[bad.empty]).toMatch(/empty/i);
    expect(reasons[bad.html]).toMatch(/html|not a netcdf/i);
    expect(reasons[bad.truncated]).toMatch(/truncat|end of file|past the end|short/i);
    const errors = await api(running, 'GET', '/ingest/v1/errors', { headers: ADMIN });
    expect(errors.body.items.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining([`data/${bad.html}`]),
    );
  });

  it('groups non-DRS files by directory into a derived dataset with the reason', async () => {
    const res = await api(running, 'GET', '/api/v1/datasets/other.incoming.good', { headers: ADMIN });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'derived', fileCount: 3 });
    expect(res.body.warnings[0]).toMatch(/grouped by directory "incoming\/good"/);
  });

  it('records path/attribute disagreements as warnings on the dataset', async () => {
    const source = demo.find((p) => p.includes('/pr/') && p.startsWith('cmip5/'))!;
    const rel =
      'cmip5/output1/IPSL/OTHER-MODEL/historical/day/atmos/day/r1i1p1/v20110406/pr/pr_day_OTHER-MODEL_historical_r1i1p1_20050101-20050131.nc';
    mkdirSync(dirname(join(dataRoot, rel)), { recursive: true });
    copyFileSync(join(dataRoot, source), join(dataRoot, rel));
    const result = await scan({ root: 'data', prefix: 'cmip5/output1/IPSL/OTHER-MODEL' });
    expect(result.counts).toMatchObject({ new: 1, failed: 0 });
    const dataset = await api(
      running,
      'GET',
      '/api/v1/datasets/cmip5.output1.IPSL.OTHER-MODEL.historical.day.atmos.day.r1i1p1.v20110406',
      {
        headers: ADMIN,
      },
    );
    expect(dataset.status).toBe(200);
    expect(dataset.body.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/path says model=OTHER-MODEL but attribute model_id=IPSL-CM5A-LR/),
      ]),
    );
  });

  it('scans only the given prefix', async () => {
    const result = await scan({ root: 'data', prefix: 'CORDEX' });
    expect(result.counts.seen).toBe(demo.filter((p) => p.startsWith('CORDEX/')).length);
    expect(result.counts.removed).toBe(0);
  });

  it('lists scans newest first and refuses to cancel a finished one', async () => {
    const list = await api(running, 'GET', '/ingest/v1/scans?limit=2', { headers: ADMIN });
    expect(list.body.items).toHaveLength(2);
    const cancel = await api(running, 'POST', `/ingest/v1/scans/${list.body.items[0].id}/cancel`, {
      headers: ADMIN,
    });
    expect(cancel.status).toBe(409);
  });

  it.each([
    ['an unknown root', { root: 'nope' }, 'root'],
    ['a prefix escaping the root', { root: 'data', prefix: '../etc' }, 'prefix'],
    ['an absolute prefix', { root: 'data', prefix: '/etc' }, 'prefix'],
    ['an unknown member', { root: 'data', recursive: true }, 'body.recursive'],
  ])('rejects %s with a 400', async (_label, body, field) => {
    const res = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('needs a curator to start scans and a key to read them', async () => {
    expect((await api(running, 'POST', '/ingest/v1/scans', { body: { root: 'data' } })).status).toBe(401);
    const reader = (
      await api(running, 'POST', '/api/v1/auth/keys', {
        headers: ADMIN,
        body: { name: 'r', roles: ['reader'], groups: [] },
      })
    ).body.key;
    expect(
      (await api(running, 'POST', '/ingest/v1/scans', { headers: bearer(reader), body: { root: 'data' } }))
        .status,
    ).toBe(403);
    expect((await api(running, 'GET', '/ingest/v1/scans/not-a-uuid', { headers: ADMIN })).status).toBe(400);
    expect(
      (await api(running, 'GET', '/ingest/v1/scans/5b3f2a4e-7c1d-4e8f-9a0b-1c2d3e4f5a6b', { headers: ADMIN }))
        .status,
    ).toBe(404);
  });
});

describe('beamline records', () => {
  it('registers a file pushed by root and path', async () => {
    const source = demo.find((p) => p.startsWith('CORDEX/'))!;
    const [path] = copies(dataRoot, source, 'beamline/run7', 1);
    const res = await api(running, 'POST', '/ingest/v1/records', {
      headers: ADMIN,
      body: { root: 'data', path },
    });
    expect(res.status).toBe(202);
    const job = await waitJob(res.body.jobId);
    expect(job).toMatchObject({ state: 'completed' });
    const files = await api(running, 'GET', `/api/v1/datasets/${job.returnValue.datasetId}/files`, {
      headers: ADMIN,
    });
    expect(files.body.items.map((f: { path: string }) => f.path)).toContain(path);
  });

  it('registers a ready metadata record without reading files', async () => {
    const body = {
      dataset: {
        id: 'beamline7.run42.v1',
        datasetId: 'beamline7.run42',
        version: '1',
        kind: 'derived',
        project: 'other',
        access: { public: false, ownerGroup: 'beamline7', accessGroups: [] },
        title: 'Run 42',
      },
      files: [
        { root: 'data', path: 'beamline/run42/a.nc', size: 10, mtime: '2026-01-01T00:00:00Z' },
        { root: 'data', path: 'beamline/run42/b.nc', size: 20, mtime: '2026-01-01T00:00:00Z' },
      ],
    };
    const res = await api(running, 'POST', '/ingest/v1/records', { headers: ADMIN, body });
    expect((await waitJob(res.body.jobId)).state).toBe('completed');
    const dataset = await api(running, 'GET', '/api/v1/datasets/beamline7.run42.v1', { headers: ADMIN });
    expect(dataset.body).toMatchObject({ fileCount: 2, size: 30, title: 'Run 42' });
    // Sending it again changes nothing.
    const again = await api(running, 'POST', '/ingest/v1/records', { headers: ADMIN, body });
    expect((await waitJob(again.body.jobId)).state).toBe('completed');
    expect(
      (await api(running, 'GET', '/api/v1/datasets/beamline7.run42.v1/files', { headers: ADMIN })).body.total,
    ).toBe(2);
  });

  it.each([
    ['neither form', {}, 'body'],
    [
      'both forms',
      {
        root: 'data',
        path: 'x.nc',
        files: [{ root: 'data', path: 'a.nc', size: 1, mtime: '2026-01-01T00:00:00Z' }],
      },
      'body',
    ],
    ['path without root', { path: 'x.nc' }, 'body.root'],
    ['an escaping path', { root: 'data', path: '../../etc/passwd' }, 'body.path'],
    [
      'a bad file entry',
      {
        dataset: {
          datasetId: 'x',
          version: '1',
          kind: 'derived',
          project: 'p',
          access: { public: true, ownerGroup: 'g', accessGroups: [] },
        },
        files: [{ root: 'data', path: 'a.nc', size: -1, mtime: 'yesterday' }],
      },
      'body.files.0.size',
    ],
  ])('rejects %s with a 400 naming the field', async (_label, body, field) => {
    const res = await api(running, 'POST', '/ingest/v1/records', { headers: ADMIN, body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('ends a record for a missing file as a failed job with the reason', async () => {
    const res = await api(running, 'POST', '/ingest/v1/records', {
      headers: ADMIN,
      body: { root: 'data', path: 'beamline/missing.nc' },
    });
    const job = await waitJob(res.body.jobId);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/does not exist/);
  });
});

async function waitJob(id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/jobs/records/${id}`, { headers: ADMIN });
    if (res.body.state === 'completed' || res.body.state === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`job did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('scans on the mongo adapter', () => {
  // A scan that removes 500k files sends their ids in calls of MONGODB_IDS_PER_CALL (10k); the
  // test server cannot hold that many files, so the limit is lowered to 2 for 7 removals.
  let mongoApp: RunningApp;
  let archive: string;

  beforeAll(async () => {
    archive = tempDir('climcat-archive-');
    mongoApp = await startApp({
      env: {
        DATA_ROOT: archive,
        MONGODB_URI: testEnv('TEST_MONGODB_URI'),
        MONGODB_DB: `scan_${process.pid}_${Date.now().toString(36)}`,
        MONGODB_IDS_PER_CALL: '2',
      },
    });
  });
  afterAll(async () => {
    await mongoApp.close();
    rmSync(archive, { recursive: true, force: true });
  });

  it('removes more vanished files than one call takes and refreshes their dataset', async () => {
    // Its own demo archive: the suite above corrupts a file of the shared one on purpose.
    const own = await demoArchive(archive);
    const source = own.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;
    const frames = copies(archive, source, 'beamline/run9', 7);
    const first = await scan({ root: 'data' }, ADMIN, mongoApp);
    expect(first).toMatchObject({
      state: 'completed',
      counts: { seen: own.length + 7, new: own.length + 7, failed: 0 },
    });
    const listed = await api(mongoApp, 'GET', '/api/v1/datasets?limit=100', { headers: ADMIN });
    const owner = listed.body.items.find((d: { fileCount: number }) => d.fileCount === 7);
    expect(owner).toBeDefined();

    rmSync(join(archive, 'beamline'), { recursive: true, force: true });
    const second = await scan({ root: 'data' }, ADMIN, mongoApp);
    expect(second).toMatchObject({
      state: 'completed',
      counts: { seen: own.length, unchanged: own.length, removed: 7 },
    });
    const after = await api(mongoApp, 'GET', `/api/v1/datasets/${owner.id}`, { headers: ADMIN });
    expect(after.body).toMatchObject({ fileCount: 0, size: 0 });
    const files = await api(mongoApp, 'GET', `/api/v1/datasets/${owner.id}/files`, { headers: ADMIN });
    expect(files.body.total).toBe(0);
    expect(frames).toHaveLength(7);
  });
});
