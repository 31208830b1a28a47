import { Client } from 'minio';
jest.setTimeout(30_000);
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { s3TestClient, testEnv } from '../harness/env';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { demoArchive } from './archive';
import { settleEvents } from './events';

const TOKEN = 'webhook-token-0123456789';
const BUCKET = `events-${Date.now()}`;
let running: RunningApp;
let s3: Client;
let demoDir: string;
let demo: string[];

function event(name: string, key: string, etag = 'e1', sequencer = '1'): Record<string, unknown> {
  return {
    EventName: name,
    Key: `${BUCKET}/${key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventName: name,
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size: 1, eTag: etag, sequencer },
        },
      },
    ],
  };
}

async function deliver(body: unknown, token = TOKEN): Promise<{ status: number; body: any }> {
  return api(running, 'POST', '/ingest/v1/webhooks/s3', { headers: { Authorization: token }, body });
}

const settle = (): Promise<void> => settleEvents(running);

async function filesOf(id: string): Promise<string[]> {
  const res = await api(running, 'GET', `/api/v1/datasets/${id}/files`, { headers: ADMIN });
  return res.status === 200 ? res.body.items.map((f: { path: string }) => f.path) : [];
}

beforeAll(async () => {
  s3 = s3TestClient();
  await s3.makeBucket(BUCKET);
  demoDir = tempDir('climcat-demo-');
  demo = await demoArchive(demoDir);
  running = await startApp({
    env: {
      S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_BUCKET: BUCKET,
      INGEST_WEBHOOK_TOKEN: TOKEN,
    },
  });
});
afterAll(async () => {
  await running.close();
  rmSync(demoDir, { recursive: true, force: true });
});

const tasKey = () => demo.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;
const TAS_ID = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';

describe('S3 bucket notifications', () => {
  it('registers an object once when the same event arrives three times', async () => {
    const key = tasKey();
    await s3.putObject(BUCKET, key, readFileSync(join(demoDir, key)));
    const body = event('s3:ObjectCreated:Put', key);
    for (let i = 0; i < 3; i++) expect((await deliver(body)).status).toBe(202);
    await settle();
    expect(await filesOf(TAS_ID)).toEqual([key]);
    const dataset = await api(running, 'GET', `/api/v1/datasets/${TAS_ID}`);
    expect(dataset.body).toMatchObject({ fileCount: 1 });
    const files = await api(running, 'GET', `/api/v1/datasets/${TAS_ID}/files`);
    expect(files.body.items[0].urls.s3).toBe(`s3://${BUCKET}/${key}`);
  });

  it('ends removed when a remove arrives before the create of a deleted object', async () => {
    const key = demo.find((p) => p.startsWith('CORDEX/') && p.includes('/mon/'))!;
    const id = 'cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas.v20131026';
    // The object was created and deleted; the notifications arrive in the wrong order.
    expect((await deliver(event('s3:ObjectRemoved:Delete', key, '', '2'))).status).toBe(202);
    expect((await deliver(event('s3:ObjectCreated:Put', key, 'e9', '1'))).status).toBe(202);
    await settle();
    expect(await filesOf(id)).toEqual([]);
  });

  it('registers an object whose create arrives after a stale remove', async () => {
    const key = demo.find((p) => p.includes('/pr/') && p.startsWith('cmip5/'))!;
    await s3.putObject(BUCKET, key, readFileSync(join(demoDir, key)));
    await deliver(event('s3:ObjectRemoved:Delete', key, '', '3'));
    await deliver(event('s3:ObjectCreated:Put', key, 'e2', '2'));
    await settle();
    expect(
      await filesOf('cmip5.output1.IPSL.IPSL-CM5A-LR.historical.day.atmos.day.r1i1p1.v20110406'),
    ).toEqual([key]);
  });

  it('marks a deleted object removed', async () => {
    const key = tasKey();
    await s3.removeObject(BUCKET, key);
    await deliver(event('s3:ObjectRemoved:Delete', key, '', '9'));
    await settle();
    expect(await filesOf(TAS_ID)).toEqual([]);
    expect((await api(running, 'GET', `/api/v1/datasets/${TAS_ID}`)).body).toMatchObject({
      fileCount: 0,
      availability: 'offline',
    });
  });

  it('records a broken object as a failed job with the reason, after retries', async () => {
    const key = 'incoming/broken.nc';
    await s3.putObject(BUCKET, key, Buffer.from('<html>not netcdf</html>'));
    const res = await deliver(event('s3:ObjectCreated:Put', key, 'bad'));
    const jobId = res.body.jobs[0];
    const deadline = Date.now() + 40_000;
    let job: any;
    do {
      await new Promise((r) => setTimeout(r, 200));
      job = (await api(running, 'GET', `/ingest/v1/jobs/events/${jobId}`, { headers: ADMIN })).body;
    } while (job.state !== 'failed' && Date.now() < deadline);
    expect(job).toMatchObject({ state: 'failed', attemptsMade: 5 });
    expect(job.failedReason).toMatch(/not a netcdf|html/i);
    const failed = await api(running, 'GET', '/ingest/v1/jobs/events?state=failed', { headers: ADMIN });
    expect(failed.body.items.map((j: { id: string }) => j.id)).toContain(jobId);
  }, 60_000);

  it('reads NetCDF-4 objects through the bounded local cache', async () => {
    const key = 'netcdf4/cordex_rotated.nc';
    const local = join(demoDir, 'cordex_rotated.nc');
    execFileSync('ncgen', [
      '-k',
      'nc4',
      '-o',
      local,
      join(__dirname, '../../libs/netcdf/test-fixtures/cordex_rotated.cdl'),
    ]);
    await s3.putObject(BUCKET, key, readFileSync(local));
    const res = await deliver(event('s3:ObjectCreated:Put', key, 'nc4'));
    const jobId = res.body.jobs[0];
    await settle();
    const job = (await api(running, 'GET', `/ingest/v1/jobs/events/${jobId}`, { headers: ADMIN })).body;
    expect(job).toMatchObject({ state: 'completed', returnValue: { action: 'new' } });
    const files = await api(running, 'GET', `/api/v1/datasets/${job.returnValue.datasetId}/files`, {
      headers: ADMIN,
    });
    expect(files.body.items).toEqual([
      expect.objectContaining({ path: key, format: expect.stringMatching(/4/) }),
    ]);
  });

  it('ignores buckets that are not configured roots', async () => {
    const body = event('s3:ObjectCreated:Put', 'x.nc');
    (body.Records as any[])[0].s3.bucket.name = 'someone-elses';
    expect((await deliver(body)).body).toEqual({ accepted: 0, jobs: [], ignored: 1 });
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'Bearer wrong-token-xxxxxxxx', 401],
  ])('rejects %s', async (_label, token, status) => {
    const res = await api(running, 'POST', '/ingest/v1/webhooks/s3', {
      headers: token ? { Authorization: token } : {},
      body: event('s3:ObjectCreated:Put', 'x.nc'),
    });
    expect(res.status).toBe(status);
  });

  it.each([
    ['no Records', {}, 'body.Records'],
    [
      'an unknown event',
      {
        Records: [
          { eventName: 's3:ObjectAccessed:Get', s3: { bucket: { name: 'b' }, object: { key: 'k' } } },
        ],
      },
      'body.Records[0].eventName',
    ],
    [
      'a missing key',
      { Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: {} } }] },
      'body.Records[0].s3.object.key',
    ],
    [
      'an escaping key',
      {
        Records: [
          { eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: '../x' } } },
        ],
      },
      'body.Records[0].s3.object.key',
    ],
  ])('rejects %s with a 400 naming the field', async (_label, body, field) => {
    const res = await deliver(body);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});
