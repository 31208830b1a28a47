import { ADMIN, datasetBody, startApp, type RunningApp } from '../harness/app';

let running: RunningApp;

beforeAll(async () => {
  running = await startApp();
});
afterAll(async () => {
  await running.close();
});

async function problem(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String) }));
  expect(body.status).toBe(res.status);
  expect(JSON.stringify(body)).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+/);
  return body;
}

describe('problem responses', () => {
  it('answers an unknown route with a 404 problem naming the route', async () => {
    const res = await fetch(`${running.url}/api/v1/no-such-thing?x=1`);
    expect(res.status).toBe(404);
    const body = await problem(res);
    expect(body.detail).toBe('No route matches GET /api/v1/no-such-thing');
    expect(body.instance).toBe('/api/v1/no-such-thing?x=1');
    expect(body.requestId).toEqual(expect.any(String));
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
  });

  it('routes a path with a trailing slash like the path without it', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets/?limit=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(expect.objectContaining({ total: expect.any(Number) }));
  });

  it('answers a malformed URL with a 400 problem', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets/%E0%A4%A`);
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.detail).toMatch(/not a valid url component/);
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
  });

  it('answers a dataset id longer than any archive uses with a 414 problem, and accepts long real ones', async () => {
    const long = `cordex.output.EUR-11.CLMcom.MPI-M-MPI-ESM-LR.historical.r1i1p1.CLMcom-CCLM4-8-17.v1.mon.tas.${'x'.repeat(60)}`;
    expect((await fetch(`${running.url}/api/v1/datasets/${long}`)).status).toBe(404);
    const res = await fetch(`${running.url}/api/v1/datasets/${'x'.repeat(3000)}`);
    expect(res.status).toBe(414);
    expect((await problem(res)).detail).toMatch(/exceeding the max param length/);
  });

  it('answers a malformed JSON body with 400, not 500', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: '{"datasetId": "x",',
    });
    expect(res.status).toBe(400);
    expect((await problem(res)).detail).toMatch(/not valid JSON/);
  });

  it('answers a body of a media type no route reads with a 415 problem', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'text/csv' },
      body: 'a,b\n1,2\n',
    });
    expect(res.status).toBe(415);
    expect((await problem(res)).detail).toMatch(/text\/csv/);
  });

  it('treats an empty body sent with a JSON content type as no body', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets/no-such-dataset`, {
      method: 'DELETE',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(404);
    expect((await problem(res)).detail).toMatch(/no-such-dataset/);
  });

  it('lists every invalid field of a body in errors[]', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify(
        datasetBody({ kind: 'weird', access: { public: 'yes', ownerGroup: 'g', accessGroups: [] } }),
      ),
    });
    expect(res.status).toBe(400);
    const body = await problem(res);
    const fields = (body.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.kind', 'body.access.public']));
  });

  it('rejects unknown body members instead of dropping them', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify(datasetBody({ owner: 'me' })),
    });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors).toEqual([
      { field: 'body.owner', message: 'property owner should not exist' },
    ]);
  });

  it.each([
    ['/api/v1/datasets?name[$ne]=x', 'query.name[$ne]'],
    ['/api/v1/datasets?model[$regex]=.*', 'query.model[$regex]'],
    ['/api/v1/datasets?$where=1', 'query.$where'],
  ])('rejects operator injection in %s', async (path, field) => {
    const res = await fetch(`${running.url}${path}`);
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect((body.errors as { field: string }[])[0]?.field).toBe(field);
  });

  it('rejects $-operators inside a JSON body', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify(datasetBody({ facets: { model: { $where: 'sleep(1000)' } } })),
    });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors).toEqual([
      { field: 'body.facets.model.$where', message: 'member names starting with "$" are not accepted' },
    ]);
  });

  it('names an unknown search parameter', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets?modle=HadGEM2-ES`);
    expect(res.status).toBe(400);
    expect(((await problem(res)).errors as { field: string }[])[0]?.field).toBe('query.modle');
  });

  it('gives 404 for a dataset that does not exist', async () => {
    const res = await fetch(`${running.url}/api/v1/datasets/nope.v1`);
    expect(res.status).toBe(404);
    await problem(res);
  });
});
