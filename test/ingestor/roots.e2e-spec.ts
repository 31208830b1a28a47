/**
 * Storage roots configured with ROOTS: one POSIX root and two S3 roots on one
 * bucket with different prefixes (`p1` and `p10`, so a prefix match that
 * ignores the `/` would mix them). A location is (root name, path): scans,
 * bucket events, access URLs and removals stay separate per root.
 */
import { Client } from 'minio';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { s3TestClient, testEnv } from '../harness/env';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { demoArchive } from './archive';
import { settleEvents } from './events';
import { scanToEnd } from './scans';

jest.setTimeout(60_000);

const TOKEN = 'webhook-token-roots-0123456789';
const BUCKET = `roots-${Date.now()}`;
const TAS_ID = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
const PR_ID = 'cmip5.output1.IPSL.IPSL-CM5A-LR.historical.day.atmos.day.r1i1p1.v20110406';

let running: RunningApp;
let s3: Client;
let archive: string;
let demo: string[];

const tas = () => demo.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;
const pr = () => demo.find((p) => p.startsWith('cmip5/') && p.includes('/pr/'))!;

const scan = (root: string): Promise<any> => scanToEnd(running, { root });

interface FileItem {
  root: string;
  path: string;
  storage?: string;
  urls: { opendap: string; httpserver: string; ncss: string; s3?: string; s3presigned?: string };
}

async function filesOf(id: string): Promise<FileItem[]> {
  const res = await api(running, 'GET', `/api/v1/datasets/${id}/files?limit=100`, { headers: ADMIN });
  if (res.status === 404) return [];
  expect(res.status).toBe(200);
  return (res.body.items as FileItem[]).sort((a, b) => (a.root < b.root ? -1 : a.root > b.root ? 1 : 0));
}

const rootsOf = async (id: string) => (await filesOf(id)).map((f) => f.root);

function event(name: string, key: string, sequencer: string): Record<string, unknown> {
  return {
    EventName: name,
    Key: `${BUCKET}/${key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventName: name,
        s3: {
          bucket: { name: BUCKET },
          object: {
            key: encodeURIComponent(key).replace(/%2F/g, '/'),
            size: 1,
            eTag: `e${sequencer}`,
            sequencer,
          },
        },
      },
    ],
  };
}

async function deliver(body: unknown): Promise<any> {
  const res = await api(running, 'POST', '/ingest/v1/webhooks/s3', {
    headers: { Authorization: TOKEN },
    body,
  });
  expect(res.status).toBe(202);
  return res.body;
}

const settle = (): Promise<void> => settleEvents(running);

beforeAll(async () => {
  s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  archive = tempDir('climcat-roots-');
  demo = await demoArchive(archive);
  // The same DRS file in all three roots; p10 also holds the pr file.
  const bytes = (rel: string) => readFileSync(join(archive, rel));
  await s3.putObject(BUCKET, `p1/${tas()}`, bytes(tas()));
  await s3.putObject(BUCKET, `p10/${tas()}`, bytes(tas()));
  await s3.putObject(BUCKET, `p10/${pr()}`, bytes(pr()));
  running = await startApp({
    env: {
      ROOTS: `arch=${archive},era=s3://${BUCKET}/p1,obs=s3://${BUCKET}/p10/`,
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      INGEST_WEBHOOK_TOKEN: TOKEN,
    },
  });
});
afterAll(async () => {
  await running?.close();
  rmSync(archive, { recursive: true, force: true });
});

describe('roots from ROOTS', () => {
  it('scans each S3 root under its own prefix only', async () => {
    expect(await scan('era')).toMatchObject({ state: 'completed', counts: { seen: 1, new: 1, failed: 0 } });
    expect(await scan('obs')).toMatchObject({ state: 'completed', counts: { seen: 2, new: 2, failed: 0 } });
    expect(await scan('arch')).toMatchObject({
      state: 'completed',
      counts: { seen: demo.length, new: demo.length, failed: 0 },
    });
    expect(await rootsOf(TAS_ID)).toEqual(['arch', 'era', 'obs']);
    expect(await rootsOf(PR_ID)).toEqual(['arch', 'obs']);
    expect((await api(running, 'GET', `/api/v1/datasets/${TAS_ID}`)).body).toMatchObject({ fileCount: 3 });
  });

  it('gives each root its own THREDDS paths and the S3 URL of its bucket and prefix', async () => {
    const base = running.config.publicUrl;
    const path = tas().split('/').map(encodeURIComponent).join('/');
    const files = await filesOf(TAS_ID);
    expect(files.map((f) => ({ root: f.root, path: f.path, storage: f.storage, urls: f.urls }))).toEqual([
      {
        root: 'arch',
        path: tas(),
        storage: 'posix',
        urls: {
          opendap: `${base}/thredds/dodsC/arch/${path}`,
          httpserver: `${base}/thredds/fileServer/arch/${path}`,
          ncss: `${base}/thredds/ncss/grid/arch/${path}`,
        },
      },
      {
        root: 'era',
        path: tas(),
        storage: 's3',
        urls: {
          opendap: `${base}/thredds/dodsC/era/${path}`,
          httpserver: `${base}/thredds/fileServer/era/${path}`,
          ncss: `${base}/thredds/ncss/grid/era/${path}`,
          s3: `s3://${BUCKET}/p1/${tas()}`,
          s3presigned: `${base}/thredds/s3/era/${path}`,
        },
      },
      {
        root: 'obs',
        path: tas(),
        storage: 's3',
        urls: {
          opendap: `${base}/thredds/dodsC/obs/${path}`,
          httpserver: `${base}/thredds/fileServer/obs/${path}`,
          ncss: `${base}/thredds/ncss/grid/obs/${path}`,
          s3: `s3://${BUCKET}/p10/${tas()}`,
          s3presigned: `${base}/thredds/s3/obs/${path}`,
        },
      },
    ]);
    // The S3 URL names the object that exists.
    const stat = await s3.statObject(BUCKET, files[2]!.urls.s3!.slice(`s3://${BUCKET}/`.length));
    expect(stat.size).toBeGreaterThan(0);
  });

  it('marks a file removed only in the root whose scan no longer sees it', async () => {
    await s3.removeObject(BUCKET, `p1/${tas()}`);
    expect(await scan('obs')).toMatchObject({ counts: { seen: 2, unchanged: 2, removed: 0 } });
    expect(await rootsOf(TAS_ID)).toEqual(['arch', 'era', 'obs']);
    expect(await scan('era')).toMatchObject({ counts: { seen: 0, removed: 1 } });
    expect(await rootsOf(TAS_ID)).toEqual(['arch', 'obs']);
    // Put back for the next tests.
    await s3.putObject(BUCKET, `p1/${tas()}`, readFileSync(join(archive, tas())));
    expect(await scan('era')).toMatchObject({ counts: { seen: 1, new: 1 } });
  });

  it('routes bucket events to the root whose prefix holds the key', async () => {
    await s3.putObject(BUCKET, `p1/${pr()}`, readFileSync(join(archive, pr())));
    const created = await deliver(event('s3:ObjectCreated:Put', `p1/${pr()}`, '10'));
    expect(created).toMatchObject({ accepted: 1, ignored: 0 });
    await settle();
    expect(await rootsOf(PR_ID)).toEqual(['arch', 'era', 'obs']);

    await s3.removeObject(BUCKET, `p10/${pr()}`);
    await deliver(event('s3:ObjectRemoved:Delete', `p10/${pr()}`, '11'));
    await settle();
    expect(await rootsOf(PR_ID)).toEqual(['arch', 'era']);

    // Neither p1/ nor p10/ holds these keys (p1 is not a prefix of p10).
    const outside = await deliver(event('s3:ObjectCreated:Put', `p2/${pr()}`, '12'));
    expect(outside).toEqual({ accepted: 0, jobs: [], ignored: 1 });
    expect((await deliver(event('s3:ObjectCreated:Put', 'p1', '13'))).ignored).toBe(1);
  });
});
