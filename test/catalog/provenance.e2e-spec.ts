/**
 * A public derived dataset must not reveal the id of a restricted source:
 * every response that embeds provenance.derivedFrom redacts what the caller
 * may not read (issue 9, class 9).
 */
import { ADMIN, datasetBody, startApp, type RunningApp } from '../harness/app';
import { api, bearer } from './seed';

let running: RunningApp;
let member: string;

const SECRET = 'provenance-secret-source.v1';
const OPEN = 'provenance-open-source.v1';
const DERIVED = 'provenance-derived.v1';

async function create(body: Record<string, unknown>): Promise<void> {
  const res = await api(running, 'POST', '/api/v1/datasets', { headers: ADMIN, body: datasetBody(body) });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
}

beforeAll(async () => {
  running = await startApp();
  member = (
    await api(running, 'POST', '/api/v1/auth/keys', {
      headers: ADMIN,
      body: { name: 'member', roles: ['reader'], groups: ['secret-group'] },
    })
  ).body.key;
  await create({ id: SECRET, access: { public: false, ownerGroup: 'secret-group', accessGroups: [] } });
  await create({ id: OPEN, access: { public: true, ownerGroup: 'eucp', accessGroups: [] } });
  await create({
    id: DERIVED,
    kind: 'derived',
    access: { public: true, ownerGroup: 'eucp', accessGroups: [] },
    keywords: ['provenance-redaction'],
    provenance: { derivedFrom: [SECRET, OPEN], software: 'cdo' },
  });
});
afterAll(async () => {
  await running.close();
});

describe('provenance references', () => {
  it('redacts an unreadable source for anonymous callers on GET and in search results', async () => {
    const one = await api(running, 'GET', `/api/v1/datasets/${DERIVED}`);
    expect(one.status).toBe(200);
    expect(one.body.provenance.derivedFrom).toEqual(['restricted', OPEN]);
    const found = await api(running, 'GET', '/api/v1/datasets?q=provenance-redaction');
    expect(found.body.items.map((d: any) => d.provenance.derivedFrom)).toEqual([['restricted', OPEN]]);
    expect(JSON.stringify(found.body)).not.toContain(SECRET);
  });

  it('redacts it in the history a reader of the derived dataset sees', async () => {
    const history = await api(running, 'GET', `/api/v1/datasets/${DERIVED}/history`);
    expect(history.status).toBe(200);
    expect(history.body.total).toBeGreaterThan(0);
    expect(JSON.stringify(history.body)).not.toContain(SECRET);
    expect(JSON.stringify(history.body)).toContain('restricted');
  });

  it('shows the source to callers who may read it', async () => {
    for (const headers of [ADMIN, bearer(member)]) {
      const one = await api(running, 'GET', `/api/v1/datasets/${DERIVED}`, { headers });
      expect(one.body.provenance.derivedFrom).toEqual([SECRET, OPEN]);
      const history = await api(running, 'GET', `/api/v1/datasets/${DERIVED}/history`, { headers });
      expect(JSON.stringify(history.body)).toContain(SECRET);
    }
  });
});
