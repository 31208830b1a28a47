import { testEnv } from '../harness/env';
import { ADMIN, datasetBody, startApp, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { migrateStore } from '@climcat/store';

/** The production store behind the same API: the catalog against the MongoDB-wire server. */
describe('catalog on the mongo adapter', () => {
  const env = { MONGODB_URI: testEnv('TEST_MONGODB_URI'), MONGODB_DB: `app_${Date.now()}` };
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({ env });
  });
  afterAll(async () => {
    await running.close();
  });

  it('reports the mongo store in readiness', async () => {
    const res = await api(running, 'GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks['store:mongo']).toMatchObject({ status: 'ok' });
  });

  it('creates, finds with facet counts, patches with If-Match, and keeps data across a restart', async () => {
    for (const [id, model, isPublic] of [
      ['m1.v1', 'HadGEM2-ES', true],
      ['m2.v1', 'EC-EARTH', true],
      ['m3.v1', 'EC-EARTH', false],
    ] as const) {
      const res = await api(running, 'POST', '/api/v1/datasets', {
        headers: ADMIN,
        body: datasetBody({
          id,
          facets: { model, experiment: 'rcp45' },
          access: { public: isPublic, ownerGroup: 'g', accessGroups: [] },
        }),
      });
      expect(res.status).toBe(201);
    }
    const search = await api(running, 'GET', '/api/v1/datasets?experiment=rcp45&facets=model');
    expect(search.body.total).toBe(2);
    expect(search.body.facets.model).toEqual([
      { value: 'EC-EARTH', count: 1 },
      { value: 'HadGEM2-ES', count: 1 },
    ]);
    const stale = await api(running, 'PATCH', '/api/v1/datasets/m1.v1', {
      headers: { ...ADMIN, 'If-Match': '"5"' },
      body: { title: 'x' },
    });
    expect(stale.status).toBe(412);
    const patched = await api(running, 'PATCH', '/api/v1/datasets/m1.v1', {
      headers: { ...ADMIN, 'If-Match': '"1"' },
      body: { title: 'x' },
    });
    expect(patched.status).toBe(200);
    expect(
      (await api(running, 'POST', '/api/v1/datasets', { headers: ADMIN, body: datasetBody({ id: 'm1.v1' }) }))
        .status,
    ).toBe(409);

    await running.close();
    running = await startApp({ env });
    const again = await api(running, 'GET', '/api/v1/datasets/m1.v1');
    expect(again.body).toMatchObject({ title: 'x', revision: 2 });
    const history = await api(running, 'GET', '/api/v1/datasets/m1.v1/history', { headers: ADMIN });
    expect(history.body.items.map((e: { action: string }) => e.action)).toEqual(['update', 'create']);
  });
});

describe('mongo adapter with MONGODB_MIGRATE=verify (the Helm chart runs climcat migrate as a Job)', () => {
  const env = {
    MONGODB_URI: testEnv('TEST_MONGODB_URI'),
    MONGODB_DB: `verify_${Date.now()}`,
    MONGODB_MIGRATE: 'verify',
  };
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({ env });
  });
  afterAll(async () => {
    await running.close();
  });

  it('starts without building indexes, is unready naming what is missing, and ready once migrated', async () => {
    const before = await api(running, 'GET', '/health/ready');
    expect(before.status).toBe(503);
    expect(before.body.checks['store:mongo']).toMatchObject({ status: 'down' });
    expect(before.body.checks['store:mongo'].error).toMatch(
      /^MongoDB schema not ready \(index datasets\.id is missing;.*\): run `climcat migrate`/,
    );
    await migrateStore({ adapter: 'mongo', uri: env.MONGODB_URI, dbName: env.MONGODB_DB });
    const after = await api(running, 'GET', '/health/ready');
    expect(after.status).toBe(200);
    expect(after.body.checks['store:mongo']).toMatchObject({ status: 'ok' });
  });
});
