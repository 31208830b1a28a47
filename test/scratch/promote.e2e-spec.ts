/**
 * POST /scratch/v1/me/promote on the real app: scratch files become a derived
 * dataset (provenance checked, CF metadata read, files moved under a DRS-like
 * path, registered, released from the quota, visible in search, lineage and
 * /thredds/dodsC), as a job with progress; a failure halfway puts everything
 * back; bad input names the field. Files are written by ncgen (classic and
 * NetCDF-4) and read back with ncdump over OPeNDAP.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { ThreddsProxyModule } from '../../apps/thredds-proxy/src/thredds-proxy.module';
import { createStore } from '@climcat/store';
import { ADMIN, datasetBody, startApp, tempDir, type RunningApp } from '../harness/app';
import { s3TestClient, testEnv } from '../harness/env';
import { copyS3Verified } from '../../apps/scratch-quota/src/promote/s3-move';
import { PromotionService } from '../../apps/scratch-quota/src/promote/promotion.service';
import type { PromotionRecord, Store } from '@climcat/core';
import type { Client } from 'minio';
import { call, expectFieldProblem, keyFor, type Answer } from './http';
import { requireTool } from '../netcdf/tools';
import { dataset as storedDataset } from '../store/store-fixtures';

jest.setTimeout(120_000);

const exec = promisify(execFile);

const SOURCE = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
const SECRET = 'promote-secret-source.v1';

/** A 360_day monthly tas file: `months` records from day `firstDay`, longitudes `lons`. */
function cdl(firstDay: number, lons: number[], kind: string): string {
  const times = [0, 1].map((m) => firstDay + 30 * m + 15);
  const bounds = [0, 1].flatMap((m) => [firstDay + 30 * m, firstDay + 30 * (m + 1)]);
  const values = Array.from({ length: 2 * 2 * lons.length }, (_, i) => 270 + i + firstDay / 10);
  return `netcdf promoted_${kind} {
dimensions:
\ttime = UNLIMITED ;
\tbnds = 2 ;
\tlat = 2 ;
\tlon = ${lons.length} ;
variables:
\tdouble time(time) ;
\t\ttime:standard_name = "time" ;
\t\ttime:units = "days since 2006-01-01 00:00:00" ;
\t\ttime:calendar = "360_day" ;
\t\ttime:bounds = "time_bnds" ;
\tdouble time_bnds(time, bnds) ;
\tdouble lat(lat) ;
\t\tlat:standard_name = "latitude" ;
\t\tlat:units = "degrees_north" ;
\tdouble lon(lon) ;
\t\tlon:standard_name = "longitude" ;
\t\tlon:units = "degrees_east" ;
\tfloat tas(time, lat, lon) ;
\t\ttas:standard_name = "air_temperature" ;
\t\ttas:long_name = "Near-Surface Air Temperature" ;
\t\ttas:units = "K" ;
// global attributes:
\t\t:Conventions = "CF-1.6" ;
data:
 time = ${times.join(', ')} ;
 time_bnds = ${bounds.join(', ')} ;
 lat = 40, 50 ;
 lon = ${lons.join(', ')} ;
 tas = ${values.join(', ')} ;
}
`;
}

/** Writes a NetCDF file with ncgen (`classic` or `nc4`). */
async function ncgen(path: string, text: string, kind: 'classic' | 'nc4'): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const cdlPath = `${path}.cdl`;
  writeFileSync(cdlPath, text);
  await exec(requireTool('ncgen'), ['-k', kind, '-o', path, cdlPath]);
  rmSync(cdlPath);
}

/** Two files in a user's scratch: Jan-Feb 2006 (classic) and Mar-Apr 2006 (NetCDF-4), adjacent boxes. */
async function writePair(dir: string, first: string, second: string): Promise<void> {
  await ncgen(join(dir, first), cdl(0, [0, 10, 20], 'a'), 'classic');
  await ncgen(join(dir, second), cdl(60, [10, 20, 30], 'b'), 'nc4');
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function start(env: Record<string, string> = {}, stateDir?: string): Promise<RunningApp> {
  return startApp({
    features: [CatalogModule, ThreddsProxyModule, ScratchQuotaModule],
    env,
    ...(stateDir ? { stateDir } : {}),
  });
}

async function seedSources(app: RunningApp): Promise<void> {
  for (const body of [
    datasetBody({ facets: { ...(datasetBody().facets as object), time_frequency: 'mon' } }),
    datasetBody({
      id: SECRET,
      datasetId: 'promote-secret-source',
      version: '1',
      access: { public: false, ownerGroup: 'secret-group', accessGroups: [] },
    }),
  ]) {
    const res = await call(app, 'POST', '/api/v1/datasets', ADMIN, body);
    expect(res.status).toBe(201);
  }
}

/** Polls a promotion job until it is done or failed. */
async function settled(app: RunningApp, headers: Record<string, string>, href: string): Promise<Answer> {
  for (;;) {
    const res = await call(app, 'GET', href, headers);
    expect(res.status).toBe(200);
    if (res.body.state === 'done' || res.body.state === 'failed') return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const PROVENANCE = {
  description: 'Monthly tas of HadGEM2-ES rcp45, regridded to a small box with cdo remapbil',
  sources: [SOURCE],
  software: { name: 'cdo', version: '2.1.1' },
};

describe('promotion to a derived dataset', () => {
  let app: RunningApp;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let home: string;

  beforeAll(async () => {
    requireTool('ncgen');
    requireTool('ncdump');
    app = await start();
    await seedSources(app);
    alice = await keyFor(app, 'alice', ['eucp']);
    bob = await keyFor(app, 'bob', ['eucp']);
    home = join(app.config.scratchRoot, 'alice');
  });
  afterAll(() => app.close());

  it('moves two files into the derived area and catalogues them with provenance, metadata and lineage', async () => {
    await writePair(home, 'runs/regrid/tas_a.nc', 'runs/regrid/tas_b.nc');
    const before = { a: sha(join(home, 'runs/regrid/tas_a.nc')), b: sha(join(home, 'runs/regrid/tas_b.nc')) };
    const sizes = ['tas_a.nc', 'tas_b.nc'].map((f) => statSync(join(home, 'runs/regrid', f)).size);
    const usageBefore = (await call(app, 'POST', '/scratch/v1/rescan', alice, {})).body.usage;
    expect(usageBefore.bytes).toBeGreaterThanOrEqual(sizes[0]! + sizes[1]!);

    const res = await call(app, 'POST', '/scratch/v1/me/promote', alice, {
      ...PROVENANCE,
      paths: ['runs/regrid/tas_a.nc', 'runs/regrid/tas_b.nc'],
      title: 'tas regridded box',
      public: true,
      version: '20260601',
    });
    expect([201, 202]).toContain(res.status);
    const id = 'derived.alice.tas_regridded_box.v20260601';
    expect(res.body).toMatchObject({ datasetId: id, jobId: expect.any(String) });
    expect(res.headers.get('location')).toBe(`/scratch/v1/me/promotions/${res.body.jobId}`);
    const job = await settled(app, alice, res.body.href as string);
    expect(job.body).toMatchObject({
      state: 'done',
      files: { done: 2, total: 2 },
      bytes: { done: sizes[0]! + sizes[1]!, total: sizes[0]! + sizes[1]! },
      directory: 'derived/CMIP5/eucp/alice/tas_regridded_box/v20260601',
      moved: { renamed: 2, copied: 0 },
    });
    expect(job.body.error).toBeUndefined();

    // The files: gone from scratch, at the DRS-like path with the same bytes.
    const target = join(app.config.derivedRoot, 'CMIP5/eucp/alice/tas_regridded_box/v20260601');
    expect(existsSync(join(home, 'runs/regrid/tas_a.nc'))).toBe(false);
    expect(existsSync(join(home, 'runs/regrid/tas_b.nc'))).toBe(false);
    expect(sha(join(target, 'tas_a.nc'))).toBe(before.a);
    expect(sha(join(target, 'tas_b.nc'))).toBe(before.b);

    // The record: derived, the caller's group, provenance, metadata from the files.
    const dataset = await call(app, 'GET', `/api/v1/datasets/${id}`, alice);
    expect(dataset.status).toBe(200);
    expect(dataset.body).toMatchObject({
      kind: 'derived',
      project: 'CMIP5',
      title: 'tas regridded box',
      description: PROVENANCE.description,
      access: { public: true, ownerGroup: 'eucp', accessGroups: [] },
      fileCount: 2,
      size: sizes[0]! + sizes[1]!,
      variables: [
        {
          name: 'tas',
          standardName: 'air_temperature',
          longName: 'Near-Surface Air Temperature',
          units: 'K',
        },
      ],
      timeCoverage: {
        start: '2006-01-01T00:00:00',
        end: '2006-05-01T00:00:00',
        calendar: '360_day',
        frequency: 'mon',
      },
      bbox: [0, 40, 30, 50],
      provenance: { derivedFrom: [SOURCE], software: 'cdo', softwareVersion: '2.1.1', author: 'alice' },
      facets: { model: 'HadGEM2-ES', experiment: 'rcp45', variable: ['tas'] },
    });
    const files = await call(app, 'GET', `/api/v1/datasets/${id}/files`, alice);
    expect(files.body.items.map((f: any) => [f.path, f.sha256]).sort()).toEqual([
      ['CMIP5/eucp/alice/tas_regridded_box/v20260601/tas_a.nc', before.a],
      ['CMIP5/eucp/alice/tas_regridded_box/v20260601/tas_b.nc', before.b],
    ]);

    // Search, lineage of the source, audit.
    const found = await call(app, 'GET', '/api/v1/datasets?kind=derived&q=regridded', {});
    expect(found.body.items.map((d: any) => d.id)).toContain(id);
    const lineage = await call(app, 'GET', `/api/v1/datasets/${SOURCE}/lineage`, alice);
    expect(lineage.status).toBe(200);
    expect(JSON.stringify(lineage.body.descendants)).toContain(id);
    const history = await call(app, 'GET', `/api/v1/datasets/${id}/history`, alice);
    expect(history.body.items.map((e: any) => e.action)).toContain('create');
    expect(JSON.stringify(history.body)).toContain('promoted from scratch of alice');

    // The quota no longer counts the bytes.
    const me = await call(app, 'GET', '/scratch/v1/me', alice);
    expect(me.body.usage.bytes).toBeLessThanOrEqual(usageBefore.bytes - sizes[0]! - sizes[1]!);

    // Readable over OPeNDAP by netCDF-C, in the file's calendar, with the same values.
    const url = `${app.url}/thredds/dodsC/derived/CMIP5/eucp/alice/tas_regridded_box/v20260601/tas_b.nc`;
    const remote = (await exec(requireTool('ncdump'), ['-v', 'tas', url])).stdout;
    const local = (await exec(requireTool('ncdump'), ['-v', 'tas', join(target, 'tas_b.nc')])).stdout;
    expect(remote).toContain('time:calendar = "360_day"');
    const data = (s: string) => s.slice(s.indexOf('tas =')).replace(/\s+/g, ' ');
    expect(data(remote)).toBe(data(local));
  });

  it('shows a job only to its owner', async () => {
    await writePair(home, 'own/x.nc', 'own/y.nc');
    const res = await call(app, 'POST', '/scratch/v1/me/promote', alice, {
      ...PROVENANCE,
      paths: ['own/x.nc'],
      title: 'own job',
    });
    expect([201, 202]).toContain(res.status);
    expectFieldProblem(await call(app, 'GET', res.body.href as string, bob), 404);
    expect((await call(app, 'GET', res.body.href as string, ADMIN)).status).toBe(200);
    const mine = await call(app, 'GET', '/scratch/v1/me/promotions', alice);
    expect(mine.body.items.map((j: any) => j.jobId)).toContain(res.body.jobId);
    // A private derived dataset: the group reads it, others do not.
    const id = res.body.datasetId as string;
    expect((await call(app, 'GET', `/api/v1/datasets/${id}`, bob)).status).toBe(200);
    expect((await call(app, 'GET', `/api/v1/datasets/${id}`, {})).status).toBe(404);
  });

  it('leaves the scratch files in place and no dataset when a move fails halfway', async () => {
    await writePair(home, 'half/a/first.nc', 'half/b/second.nc');
    const before = [sha(join(home, 'half/a/first.nc')), sha(join(home, 'half/b/second.nc'))];
    // A disk error on the second file: its target directory's name is taken by a file.
    const target = join(app.config.derivedRoot, 'CMIP5/eucp/alice/half_done/v1');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'b'), 'in the way');
    const body = {
      ...PROVENANCE,
      paths: ['half/a/first.nc', 'half/b/second.nc'],
      title: 'half done',
      version: '1',
    };
    const res = await call(app, 'POST', '/scratch/v1/me/promote', alice, body);
    expect([201, 202]).toContain(res.status);
    const job = await settled(app, alice, res.body.href as string);
    expect(job.body.state).toBe('failed');
    expect(job.body.files).toEqual({ done: 1, total: 2 });
    expect(job.body.error).toMatch(/nothing was changed/);
    expect(job.body.error).not.toMatch(/ALSO/);
    expect([sha(join(home, 'half/a/first.nc')), sha(join(home, 'half/b/second.nc'))]).toEqual(before);
    expect(existsSync(join(target, 'a/first.nc'))).toBe(false);
    expectFieldProblem(await call(app, 'GET', '/api/v1/datasets/derived.alice.half_done.v1', ADMIN), 404);

    // With the obstacle gone the same promotion goes through: nothing was left behind.
    rmSync(join(target, 'b'));
    const again = await call(app, 'POST', '/scratch/v1/me/promote', alice, body);
    expect((await settled(app, alice, again.body.href as string)).body.state).toBe('done');
    expect(sha(join(target, 'b/second.nc'))).toBe(before[1]);
  });

  describe('bad input names the field and touches nothing', () => {
    const good = 'bad/good.nc';
    beforeAll(async () => {
      await ncgen(join(home, good), cdl(0, [0, 10], 'good'), 'classic');
      writeFileSync(join(home, 'bad/notes.txt'), 'not netcdf');
      const bobHome = join(app.config.scratchRoot, 'bob');
      await ncgen(join(bobHome, 'theirs.nc'), cdl(0, [0, 10], 'bob'), 'classic');
      symlinkSync(join(bobHome, 'theirs.nc'), join(home, 'bad/link.nc'));
      symlinkSync(bobHome, join(home, 'bad/bobdir'));
    });
    afterAll(() => {
      expect(existsSync(join(home, good))).toBe(true);
      expect(existsSync(join(app.config.scratchRoot, 'bob/theirs.nc'))).toBe(true);
    });

    const body = (over: Record<string, unknown>) => ({ ...PROVENANCE, paths: [good], title: 'bad', ...over });
    const cases: [string, Record<string, unknown>, string][] = [
      ['a path with ..', { paths: ['../bob/theirs.nc'] }, 'body.paths[0]'],
      ['an absolute path', { paths: ['/etc/passwd'] }, 'body.paths[0]'],
      ['encoded traversal', { paths: ['%2e%2e/bob/theirs.nc'] }, 'body.paths[0]'],
      ['a symlink to another user’s file', { paths: [good, 'bad/link.nc'] }, 'body.paths[1]'],
      ['a symlinked directory into another user’s', { paths: ['bad/bobdir/theirs.nc'] }, 'body.paths[0]'],
      ['a missing file', { paths: ['bad/nope.nc'] }, 'body.paths[0]'],
      ['a file that is not NetCDF', { paths: [good, 'bad/notes.txt'] }, 'body.paths[1]'],
      ['the same file twice', { paths: [good, `./${good}`] }, 'body.paths[1]'],
      ['no paths', { paths: [] }, 'body.paths'],
      ['a missing source', { sources: ['no-such-dataset.v1'] }, 'body.sources[0]'],
      ['a source the caller may not read', { sources: [SOURCE, SECRET] }, 'body.sources[1]'],
      ['no sources', { sources: [] }, 'body.sources'],
      ['no software', { software: undefined }, 'body.software'],
      ['software without a version', { software: { name: 'cdo' } }, 'body.software.version'],
      ['no description', { description: undefined }, 'body.description'],
      ['a group the caller is not in', { ownerGroup: 'secret-group' }, 'body.ownerGroup'],
    ];
    it.each(cases)('%s', async (_name, over, field) => {
      expectFieldProblem(await call(app, 'POST', '/scratch/v1/me/promote', alice, body(over)), 400, field);
    });

    it('needs an authenticated user', async () => {
      expectFieldProblem(await call(app, 'POST', '/scratch/v1/me/promote', {}, body({})), 401);
    });

    it('refuses a dataset id that exists already', async () => {
      const first = await call(app, 'POST', '/scratch/v1/me/promote', alice, body({ title: 'own job' }));
      expectFieldProblem(first, 409, 'body.version');
    });
  });
});

describe('promotion across filesystems', () => {
  let app: RunningApp;
  let derived: string;

  beforeAll(async () => {
    requireTool('ncgen');
    // /dev/shm is tmpfs: another filesystem than the temp dir, so rename gives EXDEV.
    derived = join('/dev/shm', `climcat-derived-${process.pid}`);
    mkdirSync(derived, { recursive: true });
    app = await start({ DERIVED_ROOT: derived });
    if (statSync(derived).dev === statSync(app.stateDir).dev)
      throw new Error('promotion copy test needs /dev/shm on another filesystem than the temp directory');
    await seedSources(app);
  });
  afterAll(async () => {
    await app.close();
    rmSync(derived, { recursive: true, force: true });
  });

  it('copies, verifies and then deletes the scratch files', async () => {
    const carol = await keyFor(app, 'carol', ['eucp']);
    const home = join(app.config.scratchRoot, 'carol');
    await writePair(home, 'x/one.nc', 'x/two.nc');
    const before = [sha(join(home, 'x/one.nc')), sha(join(home, 'x/two.nc'))];
    const mtime = statSync(join(home, 'x/one.nc')).mtimeMs;
    const res = await call(app, 'POST', '/scratch/v1/me/promote', carol, {
      ...PROVENANCE,
      paths: ['x/one.nc', 'x/two.nc'],
      title: 'copied',
      version: '2',
    });
    const job = await settled(app, carol, res.body.href as string);
    expect(job.body).toMatchObject({ state: 'done', moved: { renamed: 0, copied: 2 } });
    const target = join(derived, 'CMIP5/eucp/carol/copied/v2');
    expect([sha(join(target, 'one.nc')), sha(join(target, 'two.nc'))]).toEqual(before);
    expect(Math.round(statSync(join(target, 'one.nc')).mtimeMs)).toBe(Math.round(mtime));
    expect(existsSync(join(home, 'x/one.nc'))).toBe(false);
    expect(existsSync(join(home, 'x/two.nc'))).toBe(false);
    const dataset = await call(app, 'GET', '/api/v1/datasets/derived.carol.copied.v2', carol);
    expect(dataset.body).toMatchObject({ fileCount: 2, kind: 'derived' });
  });
});

describe('promotion after a crash', () => {
  it('a restart rolls back a job its process left halfway, and finishes one past the point of no return', async () => {
    requireTool('ncgen');
    const stateDir = tempDir();
    let app = await start({}, stateDir);
    await seedSources(app);
    const dave = await keyFor(app, 'dave', ['eucp']);
    const home = join(app.config.scratchRoot, 'dave');
    const derived = app.config.derivedRoot;
    await writePair(home, 'crash/one.nc', 'crash/two.nc');
    await ncgen(join(home, 'late/three.nc'), cdl(0, [0, 10], 'three'), 'classic');
    const before = [sha(join(home, 'crash/one.nc')), sha(join(home, 'crash/two.nc'))];
    await app.close({ keepState: true });

    // What a process killed in the middle leaves: one file renamed, the record made, the second file
    // not moved yet; and another job that had recorded everything and was deleting copied sources.
    const dir = join(derived, 'CMIP5/eucp/dave/crashed/v1');
    mkdirSync(dir, { recursive: true });
    const moved = { source: join(home, 'crash/one.nc'), target: join(dir, 'one.nc') };
    await exec('mv', [moved.source, moved.target]);
    const late = {
      source: join(home, 'late/three.nc'),
      target: join(derived, 'CMIP5/eucp/dave/late/v1/three.nc'),
    };
    mkdirSync(dirname(late.target), { recursive: true });
    await exec('cp', ['-p', late.source, late.target]);
    const store = await createStore({ adapter: 'sqlite', path: join(stateDir, 'catalog.sqlite') });
    const stale = '2026-01-01T00:00:00.000Z';
    const job = {
      user: 'dave',
      state: 'running' as const,
      bytes: { done: 0, total: 0 },
      createdAt: stale,
      startedAt: stale,
      updatedAt: stale,
    };
    await store.datasets.create(
      storedDataset('derived.dave.crashed.v1', {
        kind: 'derived',
        access: { public: false, ownerGroup: 'eucp', accessGroups: [] },
        provenance: { derivedFrom: [SOURCE], author: 'dave' },
      }),
    );
    await store.promotions.create({
      ...job,
      id: '00000000-0000-4000-8000-000000000001',
      datasetId: 'derived.dave.crashed.v1',
      phase: 'recording',
      files: { done: 1, total: 2 },
      directory: 'derived/CMIP5/eucp/dave/crashed/v1',
      moved: { renamed: 1, copied: 0 },
      moves: [{ ...moved, mode: 'rename', size: statSync(moved.target).size, sha256: before[0]! }],
      current: { source: join(home, 'crash/two.nc'), target: join(dir, 'two.nc') },
      datasetCreated: true,
    });
    await store.promotions.create({
      ...job,
      id: '00000000-0000-4000-8000-000000000002',
      datasetId: 'derived.dave.late.v1',
      phase: 'committing',
      files: { done: 1, total: 1 },
      directory: 'derived/CMIP5/eucp/dave/late/v1',
      moved: { renamed: 0, copied: 1 },
      moves: [{ ...late, mode: 'copy', size: statSync(late.target).size, sha256: sha(late.target) }],
      datasetCreated: true,
    });
    await store.close();

    app = await start({}, stateDir);
    try {
      const first = await settled(
        app,
        dave,
        '/scratch/v1/me/promotions/00000000-0000-4000-8000-000000000001',
      );
      expect(first.body.state).toBe('failed');
      expect(first.body.error).toMatch(/interrupted.*rolled back/);
      expect(first.body.error).not.toMatch(/ALSO/);
      expect([sha(join(home, 'crash/one.nc')), sha(join(home, 'crash/two.nc'))]).toEqual(before);
      expect(existsSync(dir)).toBe(false);
      expectFieldProblem(await call(app, 'GET', '/api/v1/datasets/derived.dave.crashed.v1', ADMIN), 404);

      const second = await settled(
        app,
        dave,
        '/scratch/v1/me/promotions/00000000-0000-4000-8000-000000000002',
      );
      expect(second.body.state).toBe('done');
      expect(existsSync(late.source)).toBe(false);
      expect(existsSync(late.target)).toBe(true);
    } finally {
      await app.close();
    }
  });
});

/** SHA-256 of an object's bytes. */
async function bytesSha(s3: Client, bucket: string, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await s3.getObject(bucket, key)) chunks.push(c as Buffer);
  return createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
}

describe('promotion of an S3 scratch prefix (s3rver)', () => {
  const BUCKET = `promote-s3-${Date.now().toString(36)}`;
  let app: RunningApp;
  let dora: Record<string, string>;
  let local: string;

  beforeAll(async () => {
    requireTool('ncgen');
    requireTool('ncdump');
    await s3TestClient().makeBucket(BUCKET);
    app = await start({
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_BUCKET: BUCKET,
    });
    await seedSources(app);
    dora = await keyFor(app, 'dora', ['eucp']);
    local = tempDir();
    await writePair(local, 'a.nc', 'b.nc');
  });
  afterAll(() => app.close());

  const put = (key: string, file: string) =>
    s3TestClient().putObject(BUCKET, key, readFileSync(join(local, file)));

  it('copies the objects server-side to the derived prefix, verifies, catalogues and then deletes them', async () => {
    const s3 = s3TestClient();
    await put('scratch/dora/runs/box/tas_a.nc', 'a.nc');
    await put('scratch/dora/runs/box/deeper/tas_b.nc', 'b.nc');
    await put('scratch/dora/runs/other.nc', 'a.nc');
    const shas = { a: sha(join(local, 'a.nc')), b: sha(join(local, 'b.nc')) };
    const sizes = [statSync(join(local, 'a.nc')).size, statSync(join(local, 'b.nc')).size];
    const usageBefore = (await call(app, 'POST', '/scratch/v1/rescan', dora, {})).body.usage;
    expect(usageBefore.bytes).toBeGreaterThanOrEqual(2 * sizes[0]! + sizes[1]!);

    const res = await call(app, 'POST', '/scratch/v1/me/promote', dora, {
      ...PROVENANCE,
      paths: [`s3://${BUCKET}/scratch/dora/runs/box/`],
      title: 's3 box',
      public: true,
      version: '1',
    });
    expect([201, 202]).toContain(res.status);
    const job = await settled(app, dora, res.body.href as string);
    expect(job.body).toMatchObject({
      state: 'done',
      files: { done: 2, total: 2 },
      bytes: { done: sizes[0]! + sizes[1]!, total: sizes[0]! + sizes[1]! },
      directory: `${BUCKET}/derived/CMIP5/eucp/dora/s3_box/v1`,
      moved: { renamed: 0, copied: 2 },
    });

    // Gone from scratch (the object outside the prefix stays), at the derived keys with the same bytes.
    await expect(s3.statObject(BUCKET, 'scratch/dora/runs/box/tas_a.nc')).rejects.toThrow();
    await expect(s3.statObject(BUCKET, 'scratch/dora/runs/box/deeper/tas_b.nc')).rejects.toThrow();
    expect((await s3.statObject(BUCKET, 'scratch/dora/runs/other.nc')).size).toBe(sizes[0]);
    const bytesOf = (key: string) => bytesSha(s3, BUCKET, key);
    const base = 'derived/CMIP5/eucp/dora/s3_box/v1';
    expect(await bytesOf(`${base}/tas_a.nc`)).toBe(shas.a);
    expect(await bytesOf(`${base}/deeper/tas_b.nc`)).toBe(shas.b);

    // Catalogued with its files (SHA-256 of the bytes), metadata read from the objects, lineage.
    const id = 'derived.dora.s3_box.v1';
    const dataset = await call(app, 'GET', `/api/v1/datasets/${id}`, dora);
    expect(dataset.body).toMatchObject({
      kind: 'derived',
      fileCount: 2,
      size: sizes[0]! + sizes[1]!,
      access: { public: true, ownerGroup: 'eucp' },
      timeCoverage: { start: '2006-01-01T00:00:00', end: '2006-05-01T00:00:00', calendar: '360_day' },
      bbox: [0, 40, 30, 50],
      provenance: { derivedFrom: [SOURCE], author: 'dora' },
    });
    const files = await call(app, 'GET', `/api/v1/datasets/${id}/files`, dora);
    expect(files.body.items.map((f: any) => [f.root, f.path, f.sha256]).sort()).toEqual([
      [BUCKET, `${base}/deeper/tas_b.nc`, shas.b],
      [BUCKET, `${base}/tas_a.nc`, shas.a],
    ]);
    const lineage = await call(app, 'GET', `/api/v1/datasets/${SOURCE}/lineage`, dora);
    expect(JSON.stringify(lineage.body.descendants)).toContain(id);

    // The quota no longer counts the promoted objects.
    const me = await call(app, 'GET', '/scratch/v1/me', dora);
    expect(me.body.usage.bytes).toBeLessThanOrEqual(usageBefore.bytes - sizes[0]! - sizes[1]!);

    // Readable over OPeNDAP through /thredds from the S3 root.
    const url = `${app.url}/thredds/dodsC/${BUCKET}/${base}/tas_a.nc`;
    const header = (await exec(requireTool('ncdump'), ['-h', url])).stdout;
    expect(header).toContain('time:calendar = "360_day"');
    expect(header).toContain('float tas(time, lat, lon)');
  });

  it('fails the copy of an object that changed after the plan, and deletes nothing', async () => {
    const s3 = s3TestClient();
    await put('scratch/dora/changing/c.nc', 'a.nc');
    const planned = await s3.statObject(BUCKET, 'scratch/dora/changing/c.nc');
    // Written again between the plan and the copy: another ETag.
    await put('scratch/dora/changing/c.nc', 'b.nc');
    const object = {
      bucket: BUCKET,
      key: 'scratch/dora/changing/c.nc',
      size: planned.size,
      etag: planned.etag.replace(/"/g, ''),
    };
    await expect(copyS3Verified(s3, object, 'derived/changing/c.nc', () => undefined)).rejects.toThrow(
      /changed|does not verify|precondition/i,
    );
    expect(await bytesSha(s3, BUCKET, 'scratch/dora/changing/c.nc')).toBe(sha(join(local, 'b.nc')));
    await expect(s3.statObject(BUCKET, 'derived/changing/c.nc')).rejects.toThrow();
  });

  it("refuses another user's prefix (403), an empty or objectless prefix and other buckets (400), touching nothing", async () => {
    const s3 = s3TestClient();
    await put('scratch/eve/mine.nc', 'a.nc');
    const body = { ...PROVENANCE, title: 'not yours', version: '1' };
    const promote = (paths: unknown[]) =>
      call(app, 'POST', '/scratch/v1/me/promote', dora, { ...body, paths });
    const forbidden = await promote([`s3://${BUCKET}/scratch/eve/`]);
    expect(forbidden.status).toBe(403);
    expect(JSON.stringify(forbidden.body)).toContain('body.paths[0]');
    expect((await promote([`s3://${BUCKET}/scratch/dora/../eve/mine.nc`])).status).toBe(400);
    expectFieldProblem(await promote([`s3://${BUCKET}/scratch/dora/`]), 400, 'body.paths[0]');
    expectFieldProblem(await promote([`s3://${BUCKET}/scratch/dora/nothing-here/`]), 400, 'body.paths[0]');
    expectFieldProblem(await promote(['s3://another-bucket/scratch/dora/x.nc']), 400, 'body.paths[0]');
    expect((await s3.statObject(BUCKET, 'scratch/eve/mine.nc')).size).toBe(
      statSync(join(local, 'a.nc')).size,
    );
    expectFieldProblem(await call(app, 'GET', '/api/v1/datasets/derived.dora.not_yours.v1', ADMIN), 404);
  });
});

/**
 * What a process killed in the middle of an S3 promotion leaves, recovered by
 * the next start: the objects are copied here server-side (as the service
 * copies them) and the job written to the store as the service saves it.
 * Each crash is recovered twice (a recovery that stopped before it saved the
 * job runs again): the second run must change nothing.
 */
describe('S3 promotion after a crash (s3rver)', () => {
  const BUCKET = `promote-crash-${Date.now().toString(36)}`;
  const STALE = '2026-01-01T00:00:00.000Z';
  let local: string;

  beforeAll(async () => {
    requireTool('ncgen');
    requireTool('ncdump');
    await s3TestClient().makeBucket(BUCKET);
    local = tempDir();
    await writePair(local, 'a.nc', 'b.nc');
  });

  const s3env = () => ({
    S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER',
    S3_BUCKET: BUCKET,
  });
  type Local = 'a.nc' | 'b.nc';
  const bytes = (file: Local) => readFileSync(join(local, file));
  const size = (file: Local) => statSync(join(local, file)).size;
  const url = (key: string) => `s3://${BUCKET}/${key}`;
  const put = (key: string, body: Buffer) => s3TestClient().putObject(BUCKET, key, body);
  const shaOf = (key: string) => bytesSha(s3TestClient(), BUCKET, key);
  const exists = (key: string) =>
    s3TestClient()
      .statObject(BUCKET, key)
      .then(
        () => true,
        () => false,
      );
  /** The server-side copy the service makes. */
  const copy = (from: string, to: string) => s3TestClient().copyObject(BUCKET, to, `/${BUCKET}/${from}`);
  /** A copy as the job records it once it verified. */
  const move = (from: string, to: string, file: Local) => ({
    source: url(from),
    target: url(to),
    mode: 'copy' as const,
    size: size(file),
    sha256: sha(join(local, file)),
  });
  const jobId = (n: number, round: number) =>
    `00000000-0000-4000-8000-${String(round * 100 + n).padStart(12, '0')}`;

  function job(id: string, user: string, title: string, over: Partial<PromotionRecord>): PromotionRecord {
    return {
      id,
      user,
      datasetId: `derived.${user}.${title}.v1`,
      state: 'running',
      phase: 'moving',
      files: { done: 0, total: 2 },
      bytes: { done: 0, total: size('a.nc') + size('b.nc') },
      directory: `${BUCKET}/derived/CMIP5/eucp/${user}/${title}/v1`,
      moved: { renamed: 0, copied: 0 },
      moves: [],
      datasetCreated: false,
      createdAt: STALE,
      startedAt: STALE,
      updatedAt: STALE,
      ...over,
    };
  }

  /** The dataset record and file records the job had made (as DatasetRules makes them). */
  async function recordDataset(
    store: Store,
    id: string,
    user: string,
    files: { key: string; file: Local }[],
  ): Promise<void> {
    await store.datasets.create(
      storedDataset(id, {
        datasetId: id.replace(/\.v1$/, ''),
        version: '1',
        kind: 'derived',
        facets: { project: 'CMIP5', variable: ['tas'] },
        access: { public: true, ownerGroup: 'eucp', accessGroups: [] },
        provenance: { derivedFrom: [SOURCE], software: 'cdo', softwareVersion: '2.1.1', author: user },
        size: files.reduce((sum, f) => sum + size(f.file), 0),
        fileCount: files.length,
        // Made by the job, after it began.
        createdAt: '2026-01-01T00:00:01.000Z',
        updatedAt: '2026-01-01T00:00:01.000Z',
      }),
    );
    for (const f of files)
      await store.files.upsert({
        id: createHash('sha256').update(f.key).digest('hex').slice(0, 32),
        datasetId: id,
        location: { root: BUCKET, path: f.key },
        size: size(f.file),
        mtime: '2026-01-01T00:00:01.000Z',
        sha256: sha(join(local, f.file)),
        format: f.file === 'a.nc' ? 'classic' : 'netcdf4',
        timeCoverage: null,
        variables: ['tas'],
        status: 'present',
        createdAt: '2026-01-01T00:00:01.000Z',
        updatedAt: '2026-01-01T00:00:01.000Z',
      });
  }

  /** Writes into the stopped app's store. */
  async function inStore(stateDir: string, write: (store: Store) => Promise<void>): Promise<void> {
    const store = await createStore({ adapter: 'sqlite', path: join(stateDir, 'catalog.sqlite') });
    try {
      await write(store);
    } finally {
      await store.close();
    }
  }

  /**
   * A stopped app on its own state dir with the sources and `user`'s key,
   * the objects put into the scratch prefix, and the usage it measured then.
   */
  async function prepare(
    user: string,
    objects: Record<string, Local>,
  ): Promise<{ stateDir: string; key: Record<string, string>; usage: number }> {
    const stateDir = tempDir();
    const app = await start(s3env(), stateDir);
    try {
      await seedSources(app);
      const key = await keyFor(app, user, ['eucp']);
      for (const [k, file] of Object.entries(objects)) await put(k, bytes(file));
      const usage = (await call(app, 'POST', '/scratch/v1/rescan', key, {})).body.usage.bytes as number;
      return { stateDir, key, usage };
    } finally {
      await app.close({ keepState: true });
    }
  }

  /**
   * Writes the crashed jobs (a fresh id each round, the same records), starts
   * the app (its start-up sweep recovers them), waits for them to settle and
   * checks the end state; a sweep run again then changes no job.
   */
  async function recoverTwice(
    stateDir: string,
    key: Record<string, string>,
    crashed: (round: number) => PromotionRecord[],
    check: (app: RunningApp, jobs: Answer[]) => Promise<void>,
  ): Promise<void> {
    for (const round of [1, 2]) {
      const jobs = crashed(round);
      await inStore(stateDir, async (store) => {
        for (const j of jobs) await store.promotions.create(j);
      });
      const app = await start(s3env(), stateDir);
      try {
        const settledJobs: Answer[] = [];
        for (const j of jobs) settledJobs.push(await settled(app, key, `/scratch/v1/me/promotions/${j.id}`));
        await check(app, settledJobs);
        await app.app.get(PromotionService).recoverAbandoned();
        for (const [i, j] of jobs.entries())
          expect((await call(app, 'GET', `/scratch/v1/me/promotions/${j.id}`, key)).body).toEqual(
            settledJobs[i]!.body,
          );
      } finally {
        await app.close({ keepState: true });
      }
    }
  }

  it('rolls back copies made before the dataset was recorded, keeping every scratch object', async () => {
    const scratch = {
      a: 'scratch/fred/crash/a.nc',
      b: 'scratch/fred/crash/b.nc',
      c: 'scratch/fred/rec/a.nc',
      d: 'scratch/fred/rec/b.nc',
    };
    const { stateDir, key, usage } = await prepare('fred', {
      [scratch.a]: 'a.nc',
      [scratch.b]: 'b.nc',
      [scratch.c]: 'a.nc',
      [scratch.d]: 'b.nc',
    });
    // One job had copied a (verified, recorded) and b (copied, the crash came before it was recorded);
    // another had copied both and created its dataset with one file, but not saved that it had.
    const moving = 'derived/CMIP5/eucp/fred/moving/v1';
    const recording = 'derived/CMIP5/eucp/fred/recording/v1';
    const derived = [`${moving}/a.nc`, `${moving}/b.nc`, `${recording}/a.nc`, `${recording}/b.nc`];
    await copy(scratch.a, derived[0]!);
    await copy(scratch.b, derived[1]!);
    await copy(scratch.c, derived[2]!);
    await copy(scratch.d, derived[3]!);
    await inStore(stateDir, (store) =>
      recordDataset(store, 'derived.fred.recording.v1', 'fred', [{ key: derived[2]!, file: 'a.nc' }]),
    );

    await recoverTwice(
      stateDir,
      key,
      (round) => [
        job(jobId(1, round), 'fred', 'moving', {
          files: { done: 1, total: 2 },
          moved: { renamed: 0, copied: 1 },
          moves: [move(scratch.a, derived[0]!, 'a.nc')],
          current: { source: url(scratch.b), target: url(derived[1]!) },
        }),
        job(jobId(2, round), 'fred', 'recording', {
          phase: 'recording',
          files: { done: 2, total: 2 },
          moved: { renamed: 0, copied: 2 },
          moves: [move(scratch.c, derived[2]!, 'a.nc'), move(scratch.d, derived[3]!, 'b.nc')],
          current: { source: url(scratch.d), target: url(derived[3]!) },
        }),
      ],
      async (app, jobs) => {
        for (const j of jobs) {
          expect(j.body.state).toBe('failed');
          expect(j.body.error).toMatch(/interrupted.*rolled back, nothing was changed/);
          expect(j.body.error).not.toMatch(/ALSO/);
        }
        // Every scratch object with its bytes, no copy left, no dataset.
        expect([
          await shaOf(scratch.a),
          await shaOf(scratch.b),
          await shaOf(scratch.c),
          await shaOf(scratch.d),
        ]).toEqual([
          sha(join(local, 'a.nc')),
          sha(join(local, 'b.nc')),
          sha(join(local, 'a.nc')),
          sha(join(local, 'b.nc')),
        ]);
        for (const k of derived) expect(await exists(k)).toBe(false);
        for (const id of ['derived.fred.moving.v1', 'derived.fred.recording.v1'])
          expectFieldProblem(await call(app, 'GET', `/api/v1/datasets/${id}`, ADMIN), 404);
        // The quota counts the objects as before the promotions.
        expect((await call(app, 'GET', '/scratch/v1/me', key)).body.usage.bytes).toBe(usage);
      },
    );
    await inStore(stateDir, async (store) => {
      expect(await store.files.findByLocation({ root: BUCKET, path: derived[2]! })).toBeNull();
    });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('finishes a job that had recorded its dataset: the scratch objects go, the files are listed and served', async () => {
    const scratch = { a: 'scratch/gina/done/a.nc', b: 'scratch/gina/done/sub/b.nc' };
    const { stateDir, key, usage } = await prepare('gina', { [scratch.a]: 'a.nc', [scratch.b]: 'b.nc' });
    const base = 'derived/CMIP5/eucp/gina/committed/v1';
    const derived = { a: `${base}/a.nc`, b: `${base}/sub/b.nc` };
    // Both copies verified, the dataset and its files recorded, a's scratch object deleted: then the crash.
    await copy(scratch.a, derived.a);
    await copy(scratch.b, derived.b);
    await inStore(stateDir, (store) =>
      recordDataset(store, 'derived.gina.committed.v1', 'gina', [
        { key: derived.a, file: 'a.nc' },
        { key: derived.b, file: 'b.nc' },
      ]),
    );
    await s3TestClient().removeObject(BUCKET, scratch.a);

    await recoverTwice(
      stateDir,
      key,
      (round) => [
        job(jobId(3, round), 'gina', 'committed', {
          phase: 'committing',
          files: { done: 2, total: 2 },
          moved: { renamed: 0, copied: 2 },
          moves: [move(scratch.a, derived.a, 'a.nc'), move(scratch.b, derived.b, 'b.nc')],
          current: { source: url(scratch.b), target: url(derived.b) },
          datasetCreated: true,
        }),
      ],
      async (app, [done]) => {
        expect(done!.body).toMatchObject({ state: 'done', files: { done: 2, total: 2 } });
        expect(done!.body.error).toBeUndefined();
        expect(await exists(scratch.a)).toBe(false);
        expect(await exists(scratch.b)).toBe(false);
        expect([await shaOf(derived.a), await shaOf(derived.b)]).toEqual([
          sha(join(local, 'a.nc')),
          sha(join(local, 'b.nc')),
        ]);
        const files = await call(app, 'GET', '/api/v1/datasets/derived.gina.committed.v1/files', key);
        expect(files.body.items.map((f: any) => [f.root, f.path, f.sha256]).sort()).toEqual([
          [BUCKET, derived.a, sha(join(local, 'a.nc'))],
          [BUCKET, derived.b, sha(join(local, 'b.nc'))],
        ]);
        const header = (
          await exec(requireTool('ncdump'), ['-h', `${app.url}/thredds/dodsC/${BUCKET}/${derived.b}`])
        ).stdout;
        expect(header).toContain('float tas(time, lat, lon)');
        // The quota no longer counts the promoted objects.
        expect((await call(app, 'GET', '/scratch/v1/me', key)).body.usage.bytes).toBe(
          usage - size('a.nc') - size('b.nc'),
        );
      },
    );
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps a scratch object written again since it was copied, and the job says so', async () => {
    const scratch = { a: 'scratch/hank/kept/a.nc', b: 'scratch/hank/kept/b.nc', c: 'scratch/hank/back/a.nc' };
    const { stateDir, key, usage } = await prepare('hank', {
      [scratch.a]: 'a.nc',
      [scratch.b]: 'b.nc',
      [scratch.c]: 'a.nc',
    });
    const kept = { a: 'derived/CMIP5/eucp/hank/kept/v1/a.nc', b: 'derived/CMIP5/eucp/hank/kept/v1/b.nc' };
    const back = 'derived/CMIP5/eucp/hank/back/v1/a.nc';
    // One job had recorded its dataset; the other had copied a file. Then the user wrote both sources
    // again: one with other bytes of another size, one with one byte changed (same size, another ETag).
    await copy(scratch.a, kept.a);
    await copy(scratch.b, kept.b);
    await copy(scratch.c, back);
    await inStore(stateDir, (store) =>
      recordDataset(store, 'derived.hank.kept.v1', 'hank', [
        { key: kept.a, file: 'a.nc' },
        { key: kept.b, file: 'b.nc' },
      ]),
    );
    await put(scratch.a, bytes('b.nc'));
    const edited = Buffer.from(bytes('a.nc'));
    edited.writeUInt8(edited.readUInt8(edited.length - 1) ^ 1, edited.length - 1);
    await put(scratch.c, edited);
    const editedSha = createHash('sha256').update(edited).digest('hex');

    await recoverTwice(
      stateDir,
      key,
      (round) => [
        job(jobId(4, round), 'hank', 'kept', {
          phase: 'committing',
          files: { done: 2, total: 2 },
          moved: { renamed: 0, copied: 2 },
          moves: [move(scratch.a, kept.a, 'a.nc'), move(scratch.b, kept.b, 'b.nc')],
          current: { source: url(scratch.b), target: url(kept.b) },
          datasetCreated: true,
        }),
        job(jobId(5, round), 'hank', 'back', {
          files: { done: 1, total: 1 },
          bytes: { done: size('a.nc'), total: size('a.nc') },
          moved: { renamed: 0, copied: 1 },
          moves: [move(scratch.c, back, 'a.nc')],
          current: { source: url(scratch.c), target: url(back) },
        }),
      ],
      async (app, [done, failed]) => {
        // The dataset is there with the copied version; the rewritten object stays, the other goes.
        expect(done!.body.state).toBe('done');
        expect(done!.body.error).toContain(url(scratch.a));
        expect(done!.body.error).toMatch(/changed since it was copied.*kept/);
        expect(done!.body.error).not.toContain(url(scratch.b));
        expect(await shaOf(scratch.a)).toBe(sha(join(local, 'b.nc')));
        expect(await exists(scratch.b)).toBe(false);
        expect([await shaOf(kept.a), await shaOf(kept.b)]).toEqual([
          sha(join(local, 'a.nc')),
          sha(join(local, 'b.nc')),
        ]);
        const files = await call(app, 'GET', '/api/v1/datasets/derived.hank.kept.v1/files', key);
        expect(files.body.items.map((f: any) => f.path).sort()).toEqual([kept.a, kept.b]);

        // Rolled back: the rewritten object stays as written, the copy of the planned one is kept too.
        expect(failed!.body.state).toBe('failed');
        expect(failed!.body.error).toMatch(/interrupted.*rolled back/);
        expect(failed!.body.error).toMatch(/ALSO: .*changed since it was copied/);
        expect(failed!.body.error).toContain(`${url(scratch.c)} changed since it was copied`);
        expect(failed!.body.error).toContain(url(back));
        expect(await shaOf(scratch.c)).toBe(editedSha);
        expect(await shaOf(back)).toBe(sha(join(local, 'a.nc')));
        expectFieldProblem(await call(app, 'GET', '/api/v1/datasets/derived.hank.back.v1', ADMIN), 404);

        // The quota counts what is in scratch now: b went, a holds b's bytes, c is as large as before.
        expect((await call(app, 'GET', '/scratch/v1/me', key)).body.usage.bytes).toBe(usage - size('a.nc'));
      },
    );
    rmSync(stateDir, { recursive: true, force: true });
  });
});
