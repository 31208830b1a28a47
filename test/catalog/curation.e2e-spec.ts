import { ADMIN, datasetBody, startApp, type RunningApp } from '../harness/app';
import { api, bearer } from './seed';

let running: RunningApp;
let curator: string;
let member: string;
let outsider: string;

async function key(roles: string[], groups: string[]): Promise<string> {
  return (
    await api(running, 'POST', '/api/v1/auth/keys', { headers: ADMIN, body: { name: 't', roles, groups } })
  ).body.key;
}

let counter = 0;
async function create(
  overrides: Record<string, unknown> = {},
  headers = ADMIN,
): Promise<{ id: string; revision: number }> {
  counter++;
  const res = await api(running, 'POST', '/api/v1/datasets', {
    headers,
    body: datasetBody({ id: `curation-${counter}.v1`, ...overrides }),
  });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return res.body;
}

beforeAll(async () => {
  running = await startApp();
  curator = await key(['curator'], []);
  member = await key(['reader'], ['eucp']);
  outsider = await key(['reader'], ['other']);
});
afterAll(async () => {
  await running.close();
});

const merge = (token: string, extra: Record<string, string> = {}) => ({
  ...bearer(token),
  'Content-Type': 'application/merge-patch+json',
  ...extra,
});

describe('merge patch', () => {
  it('changes, adds and removes members (RFC 7396) and bumps the ETag', async () => {
    const ds = await create({ license: 'CC-BY-4.0', keywords: ['a'] });
    const res = await fetch(`${running.url}/api/v1/datasets/${ds.id}`, {
      method: 'PATCH',
      headers: merge(curator),
      body: JSON.stringify({
        title: 'New title',
        license: null,
        facets: { experiment: 'rcp85' },
        keywords: ['b'],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"2"');
    const body = (await res.json()) as Record<string, any>;
    expect(body.title).toBe('New title');
    expect(body).not.toHaveProperty('license');
    expect(body.facets).toMatchObject({ model: 'HadGEM2-ES', experiment: 'rcp85' });
    expect(body.keywords).toEqual(['b']);
  });

  it('answers 304 to a GET whose If-None-Match names the current revision, and 200 once it changed', async () => {
    const ds = await create();
    const url = `${running.url}/api/v1/datasets/${ds.id}`;
    const same = await fetch(url, { headers: { ...ADMIN, 'If-None-Match': 'W/"0", "1"' } });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe('');
    await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, { headers: ADMIN, body: { title: 'changed' } });
    const changed = await fetch(url, { headers: { ...ADMIN, 'If-None-Match': '"1"' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe('"2"');
    expect(((await changed.json()) as { title: string }).title).toBe('changed');
  });

  it('answers 412 when If-Match names an old revision, and applies on the current one', async () => {
    const ds = await create();
    const stale = await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, {
      headers: { ...ADMIN, 'If-Match': '"7"' },
      body: { title: 'x' },
    });
    expect(stale.status).toBe(412);
    const fresh = await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, {
      headers: { ...ADMIN, 'If-Match': '"1"' },
      body: { title: 'x' },
    });
    expect(fresh.status).toBe(200);
  });

  it('loses no update when patches of different members race without If-Match', async () => {
    const ds = await create();
    const patches = [
      { title: 'T' },
      { description: 'D' },
      { license: 'L' },
      { citation: 'C' },
      { statusReason: 'R' },
      { availability: 'offline' },
      { keywords: ['k'] },
      { access: { accessGroups: ['g'] } },
    ];
    const results = await Promise.all(
      patches.map((body) => api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, { headers: ADMIN, body })),
    );
    expect(results.map((r) => r.status)).toEqual(patches.map(() => 200));
    const final = (await api(running, 'GET', `/api/v1/datasets/${ds.id}`, { headers: ADMIN })).body;
    expect(final).toMatchObject({
      title: 'T',
      description: 'D',
      license: 'L',
      citation: 'C',
      statusReason: 'R',
      availability: 'offline',
      keywords: ['k'],
      access: { accessGroups: ['g'] },
      revision: 9,
    });
  });

  it('of racing If-Match patches on one revision exactly one wins; the rest get 412', async () => {
    const ds = await create();
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, {
          headers: { ...ADMIN, 'If-Match': '"1"' },
          body: { title: `t${n}` },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
  });

  it.each([
    ['a read-only member', { size: 1 }, 'body.size'],
    ['an unknown member', { colour: 'red' }, 'body.colour'],
    ['an unknown facet', { facets: { colour: 'red' } }, 'body.facets.colour'],
    ['a bad status', { status: 'gone' }, 'body.status'],
    ['a bad bbox', { bbox: [0, 100, 10, 20] }, 'body.bbox'],
    ['an operator', { title: { $set: 'x' } }, 'body.title.$set'],
    ['a nulled required object', { access: null }, 'body.access'],
    ['a retyped required object', { access: [] }, 'body.access'],
    ['a retyped optional object', { provenance: ['x'] }, 'body.provenance'],
  ])('rejects %s with a 400 naming the field', async (_label, body, field) => {
    const ds = await create();
    const res = await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, { headers: ADMIN, body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('rejects a patch that is not an object', async () => {
    const ds = await create();
    expect(
      (await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, { headers: ADMIN, body: ['x'] })).status,
    ).toBe(400);
  });
});

describe('who may change what', () => {
  it('lets group members manage their derived datasets but not standard ones', async () => {
    const derived = await create(
      { kind: 'derived', access: { public: false, ownerGroup: 'eucp', accessGroups: [] } },
      bearer(member),
    );
    expect(
      (
        await api(running, 'PATCH', `/api/v1/datasets/${derived.id}`, {
          headers: bearer(member),
          body: { title: 'mine' },
        })
      ).status,
    ).toBe(200);
    const standard = await create({ access: { public: true, ownerGroup: 'eucp', accessGroups: [] } });
    expect(
      (
        await api(running, 'PATCH', `/api/v1/datasets/${standard.id}`, {
          headers: bearer(member),
          body: { title: 'x' },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await api(running, 'POST', '/api/v1/datasets', {
          headers: bearer(member),
          body: datasetBody({ id: 'member-standard.v1' }),
        })
      ).status,
    ).toBe(403);
  });

  it('does not let members give their dataset away to a group they are not in', async () => {
    const derived = await create(
      { kind: 'derived', access: { public: false, ownerGroup: 'eucp', accessGroups: [] } },
      bearer(member),
    );
    const res = await api(running, 'PATCH', `/api/v1/datasets/${derived.id}`, {
      headers: bearer(member),
      body: { access: { ownerGroup: 'other' } },
    });
    expect(res.status).toBe(403);
  });

  it('answers 404, not 403, to outsiders of a private dataset', async () => {
    const derived = await create({
      kind: 'derived',
      access: { public: false, ownerGroup: 'eucp', accessGroups: [] },
    });
    expect(
      (
        await api(running, 'PATCH', `/api/v1/datasets/${derived.id}`, {
          headers: bearer(outsider),
          body: { title: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (await api(running, 'DELETE', `/api/v1/datasets/${derived.id}`, { headers: bearer(outsider) })).status,
    ).toBe(404);
  });

  it('requires authentication to write', async () => {
    const ds = await create();
    expect((await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, { body: { title: 'x' } })).status).toBe(
      401,
    );
  });

  it('answers a duplicate id with 409', async () => {
    const ds = await create();
    const again = await api(running, 'POST', '/api/v1/datasets', {
      headers: ADMIN,
      body: datasetBody({ id: ds.id }),
    });
    expect(again.status).toBe(409);
  });
});

describe('history', () => {
  it('records who changed what and when, newest first', async () => {
    const ds = await create();
    await api(running, 'PATCH', `/api/v1/datasets/${ds.id}`, {
      headers: bearer(curator),
      body: { title: 'Curated' },
    });
    const res = await api(running, 'GET', `/api/v1/datasets/${ds.id}/history`, { headers: ADMIN });
    expect(res.body.total).toBe(2);
    expect(res.body.items[0]).toMatchObject({
      action: 'update',
      actor: expect.stringMatching(/^key:/),
      changes: [
        { path: '/title', from: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1', to: 'Curated' },
      ],
    });
    expect(res.body.items[1]).toMatchObject({ action: 'create', actor: 'admin-bootstrap' });
  });

  it('records a delete, after which the dataset is gone', async () => {
    const ds = await create();
    expect(
      (await api(running, 'DELETE', `/api/v1/datasets/${ds.id}`, { headers: bearer(curator) })).status,
    ).toBe(204);
    expect((await api(running, 'GET', `/api/v1/datasets/${ds.id}`, { headers: ADMIN })).status).toBe(404);
  });
});

describe('bulk curation', () => {
  it('dry-runs with a count and sample, then retracts every match with history', async () => {
    const tag = `bulk${Date.now()}`;
    for (let i = 0; i < 3; i++)
      await create({ keywords: [tag], facets: { model: 'MIROC5', experiment: 'rcp26' } });
    await create({ keywords: [tag], facets: { model: 'MIROC5', experiment: 'rcp85' } });
    const filter = { q: tag, experiment: 'rcp26' };
    const patch = { status: 'retracted', statusReason: 'errata #42' };
    const dry = await api(running, 'POST', '/api/v1/datasets/bulk?dryRun=true', {
      headers: bearer(curator),
      body: { filter, patch },
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, matched: 3, updated: 0 });
    expect(dry.body.sample).toHaveLength(3);
    const unchanged = await api(running, 'GET', `/api/v1/datasets?q=${tag}&status=retracted`, {
      headers: ADMIN,
    });
    expect(unchanged.body.total).toBe(0);

    const run = await api(running, 'POST', '/api/v1/datasets/bulk', {
      headers: bearer(curator),
      body: { filter, patch },
    });
    expect(run.body).toMatchObject({ dryRun: false, matched: 3, updated: 3, failed: [] });
    const after = await api(running, 'GET', `/api/v1/datasets?q=${tag}&status=retracted`, { headers: ADMIN });
    expect(after.body.total).toBe(3);
    const history = await api(running, 'GET', `/api/v1/datasets/${after.body.items[0].id}/history`, {
      headers: ADMIN,
    });
    expect(history.body.items[0]).toMatchObject({ action: 'bulk-update', note: run.body.operationId });
  });

  it('reports a patch that nulls a required object as failed for each match, changing nothing', async () => {
    const tag = `bulknull${Date.now()}`;
    const ds = await create({ keywords: [tag] });
    const before = await api(running, 'GET', `/api/v1/datasets/${ds.id}`, { headers: ADMIN });
    const run = await api(running, 'POST', '/api/v1/datasets/bulk', {
      headers: bearer(curator),
      body: { filter: { q: tag }, patch: { access: null } },
    });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ matched: 1, updated: 0 });
    expect(run.body.failed).toEqual([{ id: ds.id, reason: expect.stringContaining('body.access') }]);
    const after = await api(running, 'GET', `/api/v1/datasets/${ds.id}`, { headers: ADMIN });
    expect(after.body).toEqual(before.body);
  });

  it('is for curators only and validates its filter', async () => {
    const body = { filter: { model: 'x' }, patch: { title: 'y' } };
    expect(
      (await api(running, 'POST', '/api/v1/datasets/bulk', { headers: bearer(member), body })).status,
    ).toBe(403);
    const bad = await api(running, 'POST', '/api/v1/datasets/bulk', {
      headers: bearer(curator),
      body: { filter: { colour: 'x' }, patch: { title: 'y' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.filter.colour');
  });
});
