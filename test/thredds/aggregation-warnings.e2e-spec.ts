/**
 * Aggregation warnings in the catalog: a scan plans each changed dataset's
 * aggregation and records a refused join (naming the disagreeing file), gaps
 * and overlaps on the dataset (`aggregationWarnings` in the dataset JSON, a
 * property and documentation in its THREDDS catalog); they go when the files
 * are fixed and the next scan sees it. A single file registered through
 * POST /ingest/v1/records refreshes them too, without a scan. Runs on both
 * stores (sqlite, and mongo through the harness's MongoDB-wire server).
 */
import { writeNetcdf3 } from '@climcat/netcdf';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { CMIP5_TAS_VARIABLES, cmip5Globals } from '../harness/cmip5';
import { testEnv } from '../harness/env';

jest.setTimeout(120_000);

let running: RunningApp;
let root: string;

const dir = (model: string) => `cmip5/output1/INST/${model}/historical/day/atmos/day/r1i1p1/v20120101/tas`;
const name = (model: string, from: number) => `tas_day_${model}_historical_r1i1p1_${from}0101-${from}1230.nc`;
const id = (model: string) => `cmip5.output1.INST.${model}.historical.day.atmos.day.r1i1p1.v20120101`;

/** One 360_day year of 12 monthly steps, starting `year` years after 1850; `lat` the grid's latitudes. */
async function writeYear(model: string, year: number, lat = [-45, 45]): Promise<string> {
  const rel = `${dir(model)}/${name(model, 1850 + year)}`;
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  await writeNetcdf3(
    path,
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: lat.length },
        { name: 'lon', length: 2 },
      ],
      variables: CMIP5_TAS_VARIABLES,
      globalAttributes: cmip5Globals(model, 'day'),
      numRecords: 12,
    },
    {
      time: Float64Array.from({ length: 12 }, (_, i) => year * 360 + i * 30 + 15),
      lat: Float64Array.from(lat),
      lon: Float64Array.from([0, 180]),
      tas: Float32Array.from({ length: 12 * lat.length * 2 }, (_, i) => 280 + i),
    },
  );
  return `data/${rel}`;
}

async function scan(): Promise<void> {
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
  expect(started.status).toBe(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (res.body.state === 'completed') return;
    if (['failed', 'cancelled'].includes(res.body.state) || Date.now() > deadline)
      throw new Error(`scan did not complete: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Registers one file through the record endpoint (root + path) and waits for its job. */
async function ingestRecord(file: string): Promise<void> {
  const res = await api(running, 'POST', '/ingest/v1/records', {
    headers: ADMIN,
    body: { root: 'data', path: file.slice('data/'.length) },
  });
  expect(res.status).toBe(202);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await api(running, 'GET', `/ingest/v1/jobs/records/${res.body.jobId}`, { headers: ADMIN });
    if (job.body.state === 'completed') return;
    if (job.body.state === 'failed' || Date.now() > deadline)
      throw new Error(`record job did not complete: ${JSON.stringify(job.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function warnings(
  model: string,
): Promise<{ code: string; message: string; file?: string }[] | undefined> {
  const res = await api(running, 'GET', `/api/v1/datasets/${id(model)}`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return res.body.aggregationWarnings as { code: string; message: string; file?: string }[] | undefined;
}

async function catalogXml(model: string): Promise<string> {
  const res = await fetch(`${running.url}/thredds/catalog/datasets/${id(model)}/catalog.xml`, {
    headers: ADMIN,
  });
  expect(res.status).toBe(200);
  return res.text();
}

let badFile: string;
let gapFile: string;

const stores: [string, () => Record<string, string>][] = [
  ['sqlite', () => ({})],
  [
    'mongo',
    () => ({
      MONGODB_URI: testEnv('TEST_MONGODB_URI'),
      MONGODB_DB: `aggwarn_${process.pid}_${Date.now().toString(36)}`,
    }),
  ],
];

describe.each(stores)('on the %s store', (_store, storeEnv) => {
  beforeAll(async () => {
    root = tempDir('climcat-aggwarn-');
    // GOOD: three consecutive years. GAPPY: years 0, 1 and 3 (year 2 missing).
    // BAD: years 0..2, the middle file on other latitudes.
    for (const y of [0, 1, 2]) await writeYear('GOOD', y);
    for (const y of [0, 1]) await writeYear('GAPPY', y);
    gapFile = await writeYear('GAPPY', 3);
    await writeYear('BAD', 0);
    badFile = await writeYear('BAD', 1, [-40, 40]);
    await writeYear('BAD', 2);
    for (const y of [0, 1]) await writeYear('LATE', y);
    running = await startApp({ env: { DATA_ROOT: root, ...storeEnv() } });
    await scan();
  });

  afterAll(async () => {
    await running?.close();
    rmSync(root, { recursive: true, force: true });
  });

  describe('aggregation warnings recorded by a scan or a record ingest', () => {
    it('files that join cleanly: no aggregationWarnings member', async () => {
      expect(await warnings('GOOD')).toBeUndefined();
      expect(await catalogXml('GOOD')).not.toContain('aggregation_warning');
    });

    it('a gap between two files: a time-gap warning naming the later file, in JSON and the THREDDS catalog', async () => {
      const w = await warnings('GAPPY');
      expect(w).toEqual([
        {
          code: 'time-gap',
          message: expect.stringMatching(
            /^gap: .*_18510101-18511230\.nc ends at 1851-12-16T00:00:00, .* starts at 1853-01-16T00:00:00$/,
          ),
          file: gapFile,
        },
      ]);
      const xml = await catalogXml('GAPPY');
      expect(xml).toContain('<property name="aggregation_warning" value="time-gap: gap: ');
      expect(xml).toContain('<documentation type="aggregation_warnings">gap: ');
      // The aggregation itself is served, the gap named in its global attribute.
      const das = await fetch(`${running.url}/thredds/dodsC/datasets/${id('GAPPY')}.das`, { headers: ADMIN });
      expect(await das.text()).toContain('aggregation_warnings');
    });

    it('a disagreeing file: aggregation-refused naming it and the difference; gone once the file is removed', async () => {
      expect(await warnings('BAD')).toEqual([
        {
          code: 'aggregation-refused',
          message: `${badFile}: coordinate lat differs at index 0: -40, but -45 in ${badFile.replace('18510101-18511230', '18500101-18501230')}`,
          file: badFile,
        },
      ]);
      const xml = await catalogXml('BAD');
      expect(xml).toContain(
        `<property name="aggregation_warning" value="aggregation-refused: ${badFile}: coordinate lat differs`,
      );
      // Removing the bad file leaves a gap (years 0 and 2), which replaces the refusal.
      rmSync(join(root, badFile.slice('data/'.length)));
      await scan();
      const after = await warnings('BAD');
      expect(after?.map((x) => x.code)).toEqual(['time-gap']);
      // With the year written again on the right grid, nothing is left.
      await writeYear('BAD', 1);
      await scan();
      expect(await warnings('BAD')).toBeUndefined();
      expect(await catalogXml('BAD')).not.toContain('aggregation_warning');
    });

    it('a PATCH cannot set aggregationWarnings (derived from the files)', async () => {
      const res = await api(running, 'PATCH', `/api/v1/datasets/${id('GOOD')}`, {
        headers: ADMIN,
        body: { aggregationWarnings: [{ code: 'time-gap', message: 'x' }] },
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('aggregationWarnings');
    });
    it('a file registered through POST /ingest/v1/records refreshes them without a scan', async () => {
      // LATE: years 0 and 1 scanned cleanly; year 3 then arrives alone (a gap), then year 2 closes it.
      expect(await warnings('LATE')).toBeUndefined();
      const late = await writeYear('LATE', 3);
      await ingestRecord(late);
      expect(await warnings('LATE')).toEqual([
        { code: 'time-gap', message: expect.stringMatching(/^gap: /), file: late },
      ]);
      await ingestRecord(await writeYear('LATE', 2));
      expect(await warnings('LATE')).toBeUndefined();
      // A file on other latitudes: refused, named, as a scan would record it.
      const odd = await writeYear('LATE', 4, [-40, 40]);
      await ingestRecord(odd);
      expect(await warnings('LATE')).toEqual([
        {
          code: 'aggregation-refused',
          message: expect.stringContaining(`${odd}: coordinate lat differs`),
          file: odd,
        },
      ]);
    });
  });
});
