/**
 * OPeNDAP from an S3 root (the harness's S3 server): NetCDF-3 through ranged
 * GETs, NetCDF-4 through the local copy cache, both read by ncdump.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { s3TestClient, testEnv } from '../harness/env';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { FIXTURES, requireTool } from '../netcdf/tools';
import { parseCdl } from './cdl';

jest.setTimeout(90_000);

const exec = promisify(execFile);
const BUCKET = `dap-${Date.now()}`;

let running: RunningApp;
let dir: string;

const FILES = { nc3: 'fixtures/cmip5_tas_amon.nc', nc4: 'fixtures/nc4_features.nc' };

async function ncdump(target: string): Promise<string> {
  const { stdout } = await exec(requireTool('ncdump'), [target], { cwd: dir, maxBuffer: 16 << 20 });
  return stdout;
}

beforeAll(async () => {
  dir = tempDir('climcat-dap-s3-');
  await exec(requireTool('ncgen'), [
    '-k',
    'classic',
    '-o',
    join(dir, 'nc3.nc'),
    join(FIXTURES, 'cmip5_tas_amon.cdl'),
  ]);
  await exec(requireTool('ncgen'), [
    '-k',
    'nc4',
    '-o',
    join(dir, 'nc4.nc'),
    join(FIXTURES, 'nc4_features.cdl'),
  ]);
  const s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  await s3.putObject(BUCKET, `dap/${FILES.nc3}`, readFileSync(join(dir, 'nc3.nc')));
  await s3.putObject(BUCKET, `dap/${FILES.nc4}`, readFileSync(join(dir, 'nc4.nc')));
  running = await startApp({
    env: {
      ROOTS: `obj=s3://${BUCKET}/dap`,
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
    },
  });
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'obj' } });
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (res.body.state === 'completed') {
      expect(res.body.counts).toMatchObject({ new: 2, failed: 0 });
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('scan did not finish');
});

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

it.each([
  ['NetCDF-3', FILES.nc3, 'nc3.nc', ['time', 'lat', 'lon', 'tas', 'time_bnds']],
  ['NetCDF-4 deflated', FILES.nc4, 'nc4.nc', ['time', 'lat', 'lon', 'tas', 'big_endian']],
])('%s from an S3 root: ncdump over OPeNDAP gives the local values', async (_label, rel, file, vars) => {
  const mine = parseCdl(await ncdump(`${running.url}/thredds/dodsC/obj/${rel}`));
  const theirs = parseCdl(await ncdump(join(dir, file)));
  for (const v of vars) expect([v, mine.data.get(v)]).toEqual([v, theirs.data.get(v)]);
  expect(mine.variables.get('tas')?.attributes).toEqual(theirs.variables.get('tas')?.attributes);
});
