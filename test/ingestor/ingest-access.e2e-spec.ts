/**
 * What /ingest/v1 shows to whom: curators see every job and error; other
 * readers only jobs of datasets they may read, with hidden jobs answering 404
 * and left out of totals; no response carries the submitter's principal or the
 * queued data.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api } from '../catalog/seed';
import { ADMIN, bearer, startApp, tempDir, TEST_ADMIN_KEY, type RunningApp } from '../harness/app';
import { plainFile } from './archive';

let running: RunningApp;
let dataRoot: string;
let curator: Record<string, string>;
let outsider: Record<string, string>;
let member: Record<string, string>;
const keys: string[] = [TEST_ADMIN_KEY];
const jobs = { secret: '', open: '', missing: '' };

const SECRET_TITLE = 'Embargoed beamline run 9';

function metadataRecord(id: string, access: Record<string, unknown>, title: string) {
  return {
    dataset: {
      id: `${id}.v1`,
      datasetId: id,
      version: '1',
      kind: 'derived',
      project: 'other',
      access,
      title,
    },
    files: [
      { root: 'data', path: `${id.replace(/\./g, '/')}/a.nc`, size: 10, mtime: '2026-01-01T00:00:00Z' },
    ],
  };
}

async function key(roles: string[], groups: string[]): Promise<Record<string, string>> {
  const res = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'access', roles, groups },
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(res.body)}`);
  keys.push(res.body.key as string);
  return bearer(res.body.key as string);
}

async function submit(body: unknown): Promise<string> {
  const res = await api(running, 'POST', '/ingest/v1/records', { headers: ADMIN, body });
  if (res.status !== 202) throw new Error(`record not accepted: ${JSON.stringify(res.body)}`);
  return res.body.jobId as string;
}

async function finished(id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/jobs/records/${id}`, { headers: ADMIN });
    if (res.body.state === 'completed' || res.body.state === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`job did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ids = (body: { items: { id: string }[] }) => body.items.map((j) => j.id);

beforeAll(async () => {
  dataRoot = tempDir('climcat-ingest-access-');
  running = await startApp({ env: { DATA_ROOT: dataRoot } });
  curator = await key(['curator'], []);
  outsider = await key(['reader'], ['other-lab']);
  member = await key(['reader'], ['beamline9']);
  jobs.secret = await submit(
    metadataRecord(
      'beamline9.secret',
      { public: false, ownerGroup: 'beamline9', accessGroups: [] },
      SECRET_TITLE,
    ),
  );
  jobs.open = await submit(
    metadataRecord('beamline9.open', { public: true, ownerGroup: 'beamline9', accessGroups: [] }, 'Open run'),
  );
  // Fails before any dataset exists.
  jobs.missing = await submit({ root: 'data', path: 'beamline9/secret/missing.nc' });
  for (const id of Object.values(jobs)) await finished(id);
}, 60_000);

afterAll(async () => {
  await running.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('record jobs by caller', () => {
  it('lists every completed job to a curator, with the total of all', async () => {
    const res = await api(running, 'GET', '/ingest/v1/jobs/records?state=completed', { headers: curator });
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(expect.arrayContaining([jobs.secret, jobs.open]));
    expect(res.body.total).toBe(2);
    const failed = await api(running, 'GET', '/ingest/v1/jobs/records?state=failed', { headers: curator });
    expect(ids(failed.body)).toEqual([jobs.missing]);
    expect(failed.body.total).toBe(1);
  });

  it('shows a reader of another group only the public dataset job, in items and in the total', async () => {
    const completed = await api(running, 'GET', '/ingest/v1/jobs/records?state=completed', {
      headers: outsider,
    });
    expect(completed.status).toBe(200);
    expect(completed.body).toEqual({
      total: 1,
      items: [
        expect.objectContaining({ id: jobs.open, target: { datasetId: 'beamline9.open.v1', files: 1 } }),
      ],
    });
    for (const state of ['waiting', 'active', 'failed', 'delayed']) {
      const res = await api(running, 'GET', `/ingest/v1/jobs/records?state=${state}`, { headers: outsider });
      expect(res.body).toEqual({ total: 0, items: [] });
    }
    // Paging works on the visible jobs only.
    const past = await api(running, 'GET', '/ingest/v1/jobs/records?state=completed&offset=1', {
      headers: outsider,
    });
    expect(past.body).toEqual({ total: 1, items: [] });
  });

  it('shows a member of the owner group the restricted job, but not the failed one without a dataset', async () => {
    const completed = await api(running, 'GET', '/ingest/v1/jobs/records?state=completed', {
      headers: member,
    });
    expect(completed.body.total).toBe(2);
    expect(ids(completed.body)).toEqual(expect.arrayContaining([jobs.secret, jobs.open]));
    const job = await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.secret}`, { headers: member });
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({
      id: jobs.secret,
      queue: 'records',
      state: 'completed',
      target: { datasetId: 'beamline9.secret.v1', files: 1 },
      returnValue: { datasetId: 'beamline9.secret.v1', files: 1 },
    });
    expect(
      (await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.missing}`, { headers: member })).status,
    ).toBe(404);
    const failed = await api(running, 'GET', '/ingest/v1/jobs/records?state=failed', { headers: member });
    expect(failed.body).toEqual({ total: 0, items: [] });
  });

  it('answers 404 for a hidden job exactly as for a missing one', async () => {
    const hidden = await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.secret}`, { headers: outsider });
    const missing = await api(
      running,
      'GET',
      '/ingest/v1/jobs/records/5b3f2a4e-7c1d-4e8f-9a0b-1c2d3e4f5a6b',
      {
        headers: outsider,
      },
    );
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(hidden.body)).not.toContain('beamline9');
    expect(
      (await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.missing}`, { headers: outsider })).status,
    ).toBe(404);
    expect(
      (await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.open}`, { headers: outsider })).status,
    ).toBe(200);
    expect(
      (await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.secret}`, { headers: curator })).status,
    ).toBe(200);
  });

  it('shows a failed job with its target and reason to a curator', async () => {
    const res = await api(running, 'GET', `/ingest/v1/jobs/records/${jobs.missing}`, { headers: curator });
    expect(res.body).toMatchObject({
      state: 'failed',
      target: { root: 'data', path: 'beamline9/secret/missing.nc' },
      failedReason: expect.stringMatching(/does not exist/),
    });
    expect(res.body.returnValue).toBeUndefined();
  });
});

describe('GET /ingest/v1/errors by caller', () => {
  it('lists the failed job to a curator', async () => {
    const res = await api(running, 'GET', '/ingest/v1/errors', { headers: curator });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual(
      expect.arrayContaining([
        {
          source: `records:${jobs.missing}`,
          path: 'beamline9/secret/missing.nc',
          reason: expect.stringMatching(/does not exist/),
          at: expect.any(String),
        },
      ]),
    );
    expect(res.body.total).toBe(res.body.items.length);
  });

  it('shows other readers nothing of it, not even in the total', async () => {
    for (const headers of [outsider, member]) {
      const res = await api(running, 'GET', '/ingest/v1/errors', { headers });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ total: 0, items: [] });
    }
  });

  it('pages curators through the errors', async () => {
    const all = (await api(running, 'GET', '/ingest/v1/errors', { headers: curator })).body;
    const last = await api(running, 'GET', `/ingest/v1/errors?offset=${all.total - 1}&limit=1`, {
      headers: curator,
    });
    expect(last.body).toEqual({ total: all.total, items: [all.items[all.total - 1]] });
    const past = await api(running, 'GET', `/ingest/v1/errors?offset=${all.total}`, { headers: curator });
    expect(past.body).toEqual({ total: all.total, items: [] });
  });
});

describe('responses carry no principal and no queued data', () => {
  it('holds none of the submitter principal fields, keys or submitted metadata anywhere under /ingest/v1', async () => {
    const bodies: string[] = [];
    for (const headers of [ADMIN, curator, outsider, member]) {
      for (const queue of ['records', 'events']) {
        for (const state of ['waiting', 'active', 'completed', 'failed', 'delayed']) {
          bodies.push(
            JSON.stringify(
              (await api(running, 'GET', `/ingest/v1/jobs/${queue}?state=${state}`, { headers })).body,
            ),
          );
        }
      }
      for (const id of Object.values(jobs)) {
        bodies.push(
          JSON.stringify((await api(running, 'GET', `/ingest/v1/jobs/records/${id}`, { headers })).body),
        );
      }
      bodies.push(JSON.stringify((await api(running, 'GET', '/ingest/v1/errors', { headers })).body));
      bodies.push(JSON.stringify((await api(running, 'GET', '/ingest/v1/scans', { headers })).body));
    }
    bodies.push(
      JSON.stringify(
        (await api(running, 'POST', `/ingest/v1/jobs/records/${jobs.missing}/retry`, { headers: curator }))
          .body,
      ),
    );
    const all = bodies.join('\n');
    // The bodies above include job listings and details (the check would be empty otherwise).
    expect(all).toContain(jobs.secret);
    for (const field of ['via', 'roles', 'groups', 'subject', 'actor', 'record', 'data']) {
      expect(all).not.toContain(`"${field}":`);
    }
    for (const k of keys) expect(all).not.toContain(k);
    // The submitted metadata itself is never echoed, to anyone.
    expect(all).not.toContain(SECRET_TITLE);
    expect(all).not.toContain('ownerGroup');
  });
});

describe('scans by caller', () => {
  it('shows failed file paths of a scan to curators only', async () => {
    mkdirSync(join(dataRoot, 'beamline9/scan'), { recursive: true });
    writeFileSync(join(dataRoot, 'beamline9/scan/page.nc'), '<!DOCTYPE html><html></html>');
    const started = await api(running, 'POST', '/ingest/v1/scans', {
      headers: curator,
      body: { root: 'data', prefix: 'beamline9/scan' },
    });
    expect(started.status).toBe(202);
    const deadline = Date.now() + 30_000;
    let scan: any;
    do {
      await new Promise((r) => setTimeout(r, 50));
      scan = (await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: curator })).body;
    } while (!['completed', 'failed', 'cancelled'].includes(scan.state) && Date.now() < deadline);
    expect(scan).toMatchObject({ state: 'completed', counts: { failed: 1 } });
    expect(scan.errors).toEqual([{ path: 'beamline9/scan/page.nc', reason: expect.any(String) }]);
    const seen = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: outsider });
    expect(seen.body).toMatchObject({ counts: { failed: 1 }, errors: [] });
    const listed = await api(running, 'GET', '/ingest/v1/scans', { headers: outsider });
    expect(JSON.stringify(listed.body)).not.toContain('page.nc');
    const errors = await api(running, 'GET', '/ingest/v1/errors', { headers: outsider });
    expect(errors.body).toEqual({ total: 0, items: [] });
    const curated = await api(running, 'GET', '/ingest/v1/errors', { headers: curator });
    expect(curated.body.items.map((e: { path: string }) => e.path)).toContain('data/beamline9/scan/page.nc');
  });
});

describe('POST /ingest/v1/inspect', () => {
  it('inspects a file for a curator as plain typed JSON', async () => {
    const path = await plainFile(dataRoot, 'beamline9/inspect/frame_1.nc');
    const res = await api(running, 'POST', '/ingest/v1/inspect', {
      headers: curator,
      body: { root: 'data', path },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      root: 'data',
      path,
      size: expect.any(Number),
      summary: { format: expect.any(String), dimensions: expect.any(Array), problems: expect.any(Array) },
      drs: null,
      grouping: { id: 'other.beamline9.inspect', kind: 'derived', basis: 'directory' },
    });
    expect(res.body.location).toBeUndefined();
  });

  it('needs a curator (403 for readers, 401 without a key)', async () => {
    const body = { root: 'data', path: 'beamline9/inspect/frame_1.nc' };
    expect((await api(running, 'POST', '/ingest/v1/inspect', { headers: outsider, body })).status).toBe(403);
    expect((await api(running, 'POST', '/ingest/v1/inspect', { body })).status).toBe(401);
  });
});

describe('bad input', () => {
  it.each([
    ['an unknown queue', '/ingest/v1/jobs/nope', 'path.queue'],
    [
      'an unknown queue in a job path',
      '/ingest/v1/jobs/nope/5b3f2a4e-7c1d-4e8f-9a0b-1c2d3e4f5a6b',
      'path.queue',
    ],
    ['a record job id that is no UUID', '/ingest/v1/jobs/records/not-a-uuid', 'path.id'],
    ['an event job id that is no digest', '/ingest/v1/jobs/events/xyz', 'path.id'],
    ['an unknown state', '/ingest/v1/jobs/records?state=bogus', 'query.state'],
    ['a zero limit', '/ingest/v1/jobs/records?limit=0', 'query.limit'],
    ['a limit above 1000', '/ingest/v1/jobs/events?limit=1001', 'query.limit'],
    ['a negative offset', '/ingest/v1/jobs/records?offset=-1', 'query.offset'],
    ['a non-numeric offset', '/ingest/v1/jobs/records?offset=abc', 'query.offset'],
    ['an error limit above 1000', '/ingest/v1/errors?limit=5000', 'query.limit'],
    ['a negative error offset', '/ingest/v1/errors?offset=-5', 'query.offset'],
  ])('rejects %s with a 400 problem naming the parameter', async (_label, path, field) => {
    const res = await api(running, 'GET', path, { headers: outsider });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('rejects a bad job id on retry before looking it up', async () => {
    const bad = await api(running, 'POST', '/ingest/v1/jobs/records/not-a-uuid/retry', { headers: curator });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('path.id');
  });
});

describe('OpenAPI', () => {
  it('types the responses of the job, error and inspect routes with their DTOs', async () => {
    const doc = (await (await fetch(`${running.url}/api/docs-json`)).json()) as {
      paths: Record<string, Record<string, any>>;
      components: { schemas: Record<string, any> };
    };
    const ref = (path: string, method: string, code: string) =>
      doc.paths[path]?.[method]?.responses?.[code]?.content?.['application/json']?.schema?.$ref;
    expect(ref('/ingest/v1/jobs/{queue}', 'get', '200')).toBe('#/components/schemas/JobListDto');
    expect(ref('/ingest/v1/jobs/{queue}/{id}', 'get', '200')).toBe('#/components/schemas/JobDto');
    expect(ref('/ingest/v1/jobs/{queue}/{id}/retry', 'post', '200')).toBe('#/components/schemas/JobDto');
    expect(ref('/ingest/v1/errors', 'get', '200')).toBe('#/components/schemas/IngestErrorListDto');
    expect(ref('/ingest/v1/inspect', 'post', '200')).toBe('#/components/schemas/InspectionDto');
    const queueParam = doc.paths['/ingest/v1/jobs/{queue}']?.get?.parameters?.find(
      (p: { name: string }) => p.name === 'queue',
    );
    expect(queueParam?.schema?.enum).toEqual(['events', 'records']);
    // The queued data is not part of the documented job.
    expect(doc.components.schemas.JobDto?.properties?.data).toBeUndefined();
  });
});
