import { execFileSync } from 'node:child_process';
import { ADMIN, startApp, type RunningApp } from '../harness/app';
import { api, bearer, DATASETS, seedCatalog, type Seeded } from './seed';

let running: RunningApp;
let keys: Seeded;

const PRIVATE_EC = 'cmip5.output1.ICHEC.EC-EARTH.rcp85.mon.atmos.Amon.r1i1p1.v20120101';
const DERIVED = 'pacific-sst-anomaly.v1';
const HIST = 'cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.v20110916';

beforeAll(async () => {
  running = await startApp();
  keys = await seedCatalog(running);
});
afterAll(async () => {
  await running.close();
});

const ids = (body: { items: { id: string }[] }) => body.items.map((d) => d.id).sort();
/** Our own calls ask for JSON explicitly: without format, esg-search answers Solr XML. */
const JSON_FORMAT = 'application%2Fsolr%2Bjson';

describe('search', () => {
  it('returns only public datasets to anonymous callers, in items, total and facet counts', async () => {
    const res = await api(running, 'GET', '/api/v1/datasets?facets=model,project&limit=100');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(5);
    expect(ids(res.body)).not.toContain(PRIVATE_EC);
    expect(res.body.facets.model).toEqual([
      { value: 'HadGEM2-ES', count: 3 },
      { value: 'EC-EARTH', count: 1 },
    ]);
  });

  it("adds the datasets of the caller's groups (owner or access group)", async () => {
    const res = await api(running, 'GET', '/api/v1/datasets?limit=100', { headers: bearer(keys.readerKey) });
    expect(ids(res.body)).toEqual(expect.arrayContaining([PRIVATE_EC, DERIVED]));
    expect(res.body.total).toBe(7);
    const other = await api(running, 'GET', '/api/v1/datasets?limit=100', { headers: bearer(keys.otherKey) });
    expect(other.body.total).toBe(5);
  });

  it('ORs values within a facet and ANDs across facets', async () => {
    const res = await api(
      running,
      'GET',
      '/api/v1/datasets?model=HadGEM2-ES&model=EC-EARTH&experiment=rcp45',
    );
    expect(res.body.total).toBe(2);
    const comma = await api(running, 'GET', '/api/v1/datasets?model=HadGEM2-ES,EC-EARTH&experiment=rcp45');
    expect(ids(comma.body)).toEqual(ids(res.body));
  });

  it('finds free text in titles, keywords and facet values by prefix', async () => {
    const res = await api(running, 'GET', `/api/v1/datasets?q=${encodeURIComponent('Euro-CORDEX rca')}`);
    expect(res.body.items.map((d: { project: string }) => d.project)).toEqual(['CORDEX']);
    const keyword = await api(running, 'GET', '/api/v1/datasets?q=enso', { headers: bearer(keys.readerKey) });
    expect(ids(keyword.body)).toEqual([DERIVED]);
  });

  it('filters by time overlap in calendar dates', async () => {
    const res = await api(running, 'GET', '/api/v1/datasets?start=1900&end=1950&limit=100', {
      headers: bearer(keys.readerKey),
    });
    expect(ids(res.body)).toEqual([HIST]);
  });

  it('intersects bboxes across the antimeridian', async () => {
    const res = await api(running, 'GET', '/api/v1/datasets?bbox=170,-5,-170,5&kind=derived', {
      headers: bearer(keys.readerKey),
    });
    expect(ids(res.body)).toEqual([DERIVED]);
    const atlantic = await api(running, 'GET', '/api/v1/datasets?bbox=-40,-5,-20,5&kind=derived', {
      headers: bearer(keys.readerKey),
    });
    expect(atlantic.body.total).toBe(0);
  });

  it('pages with a cursor through every item exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/v1/datasets?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await api(running, 'GET', path, { headers: bearer(keys.readerKey) });
      seen.push(...res.body.items.map((d: { id: string }) => d.id));
      cursor = res.body.next;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('selects fields', async () => {
    const res = await api(running, 'GET', '/api/v1/datasets?fields=title&limit=1');
    expect(Object.keys(res.body.items[0]).sort()).toEqual(['id', 'title']);
  });

  it.each([
    ['unknown facet filter', '/api/v1/datasets?modell=x', 'query.modell'],
    ['unknown facet count', '/api/v1/datasets?facets=colour', 'query.facets'],
    ['malformed date', '/api/v1/datasets?start=2006-13', 'query.start'],
    ['malformed bbox', '/api/v1/datasets?bbox=1,2,3', 'query.bbox'],
    ['inverted bbox latitudes', '/api/v1/datasets?bbox=0,50,10,40', 'query.bbox'],
    ['huge limit', '/api/v1/datasets?limit=100000', 'query.limit'],
    ['negative offset', '/api/v1/datasets?offset=-1', 'query.offset'],
    ['forged cursor', '/api/v1/datasets?cursor=bm9wZQ', 'query.cursor'],
    ['unknown kind', '/api/v1/datasets?kind=raw', 'query.kind'],
    ['bad sort', '/api/v1/datasets?sort=-password', 'query.sort'],
    ['unknown field', '/api/v1/datasets?fields=hash', 'query.fields'],
  ])('answers %s with a 400 naming the field', async (_label, path, field) => {
    const res = await api(running, 'GET', path);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});

describe('facets endpoint', () => {
  it('counts all facets over readable datasets only', async () => {
    const anon = await api(running, 'GET', '/api/v1/facets');
    expect(anon.body.total).toBe(5);
    expect(anon.body.facets.experiment).toEqual(
      expect.arrayContaining([
        { value: 'rcp85', count: 2 },
        { value: 'rcp45', count: 2 },
      ]),
    );
    const reader = await api(running, 'GET', '/api/v1/facets?facets=experiment', {
      headers: bearer(keys.readerKey),
    });
    expect(reader.body.facets.experiment).toEqual(expect.arrayContaining([{ value: 'rcp85', count: 3 }]));
  });
});

describe('files', () => {
  it('lists files with OPeNDAP, HTTPServer and NCSS URLs', async () => {
    const id = `${DATASETS[0]!.datasetId}.v${DATASETS[0]!.version}`;
    const res = await api(running, 'GET', `/api/v1/datasets/${id}/files`);
    expect(res.body.total).toBe(3);
    const first = res.body.items[0];
    expect(first.path).toMatch(/^cmip5\/output1\/MOHC\/HadGEM2-ES\/rcp45\/.*\/tas_200601-203012\.nc$/);
    expect(first.urls.opendap).toBe(`${running.config.publicUrl}/thredds/dodsC/data/${first.path}`);
    expect(first.urls.httpserver).toBe(`${running.config.publicUrl}/thredds/fileServer/data/${first.path}`);
    expect(first.urls.ncss).toBe(`${running.config.publicUrl}/thredds/ncss/grid/data/${first.path}`);
  });

  it('hides the files of unreadable datasets behind a 404', async () => {
    expect((await api(running, 'GET', `/api/v1/datasets/${PRIVATE_EC}/files`)).status).toBe(404);
    expect((await api(running, 'GET', `/api/v1/datasets/${PRIVATE_EC}/history`)).status).toBe(404);
    expect((await api(running, 'GET', `/api/v1/datasets/${PRIVATE_EC}/lineage`)).status).toBe(404);
  });
});

describe('lineage', () => {
  it('shows ancestors and descendants the caller may read', async () => {
    const down = await api(running, 'GET', `/api/v1/datasets/${HIST}/lineage`, {
      headers: bearer(keys.readerKey),
    });
    expect(down.body.descendants).toEqual([expect.objectContaining({ id: DERIVED, depth: 1, of: [HIST] })]);
    const up = await api(running, 'GET', `/api/v1/datasets/${DERIVED}/lineage`, {
      headers: bearer(keys.readerKey),
    });
    expect(up.body.ancestors).toEqual([expect.objectContaining({ id: HIST, depth: 1, of: [DERIVED] })]);
  });

  it('does not reveal private descendants to others', async () => {
    const res = await api(running, 'GET', `/api/v1/datasets/${HIST}/lineage`);
    expect(res.body.descendants).toEqual([]);
  });
});

describe('ESGF search', () => {
  it('answers esgf-pyclient style dataset searches in Solr JSON', async () => {
    const res = await api(
      running,
      'GET',
      '/esg-search/search?type=Dataset&project=CMIP5&experiment=rcp45&variable=tas&facets=model,experiment&latest=true&distrib=false&format=application%2Fsolr%2Bjson&limit=10',
    );
    expect(res.status).toBe(200);
    expect(res.body.response.numFound).toBe(2);
    const doc = res.body.response.docs.find((d: { model: string[] }) => d.model[0] === 'HadGEM2-ES');
    expect(doc).toMatchObject({
      instance_id: `${DATASETS[0]!.datasetId}.v20111128`,
      master_id: DATASETS[0]!.datasetId,
      type: 'Dataset',
      number_of_files: 3,
      size: 3_000_000,
      datetime_start: '2006-01-16T00:00:00Z',
      latest: true,
    });
    expect(doc.id).toMatch(/\|/);
    expect(doc.url[0]).toMatch(/\|application\/xml\+thredds\|THREDDS$/);
    expect(res.body.facet_counts.facet_fields.model).toEqual(['EC-EARTH', 1, 'HadGEM2-ES', 1]);
  });

  it('lists files of a dataset with url|mime|service triples', async () => {
    const datasetId = `${DATASETS[0]!.datasetId}.v20111128`;
    const res = await api(
      running,
      'GET',
      `/esg-search/search?type=File&dataset_id=${encodeURIComponent(`${datasetId}|x`)}&limit=2&offset=1&format=${JSON_FORMAT}`,
    );
    expect(res.body.response.numFound).toBe(3);
    expect(res.body.response.docs).toHaveLength(2);
    const urls: string[] = res.body.response.docs[0].url;
    expect(urls.some((u) => u.endsWith('|application/netcdf|HTTPServer'))).toBe(true);
    expect(
      urls.some((u) => /\/thredds\/dodsC\/data\/.*\.nc\.html\|application\/opendap-html\|OPENDAP$/.test(u)),
    ).toBe(true);
  });

  it('counts files, not datasets, in the facets of a File search', async () => {
    const res = await api(
      running,
      'GET',
      `/esg-search/search?type=File&model=HadGEM2-ES&experiment=rcp45&facets=model,experiment&limit=0&format=${JSON_FORMAT}`,
    );
    expect(res.status).toBe(200);
    const found = res.body.response.numFound as number;
    expect(found).toBeGreaterThanOrEqual(3);
    expect(res.body.facet_counts.facet_fields).toEqual({
      model: ['HadGEM2-ES', found],
      experiment: ['rcp45', found],
    });
  });

  it('selects every readable version of a dataset by master_id', async () => {
    const master = DATASETS[0]!.datasetId;
    const res = await api(
      running,
      'GET',
      `/esg-search/search?type=Dataset&master_id=${master}&format=${JSON_FORMAT}`,
    );
    expect(res.status).toBe(200);
    const docs = res.body.response.docs as { master_id: string; instance_id: string }[];
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.every((d) => d.master_id === master)).toBe(true);
    expect(docs.map((d) => d.instance_id)).toContain(`${master}.v20111128`);
    // A private dataset stays hidden when asked for by name.
    const hidden = PRIVATE_EC.replace(/\.v\d+$/, '');
    const none = await api(
      running,
      'GET',
      `/esg-search/search?type=Dataset&master_id=${hidden}&format=${JSON_FORMAT}`,
    );
    expect(none.body.response.numFound).toBe(0);
  });

  it('never reveals private datasets', async () => {
    const res = await api(
      running,
      'GET',
      `/esg-search/search?model=EC-EARTH&facets=experiment&limit=100&format=${JSON_FORMAT}`,
    );
    expect(res.body.response.docs.map((d: { instance_id: string }) => d.instance_id)).not.toContain(
      PRIVATE_EC,
    );
    expect(res.body.facet_counts.facet_fields.experiment).toEqual(['rcp45', 1]);
  });

  it.each([
    ['type=Collection', 'query.type'],
    ['limit=20000', 'query.limit'],
    ['latest=yes', 'query.latest'],
    ['colour=red', 'query.colour'],
    ['format=text%2Fcsv', 'query.format'],
    ['type=File&master_id=x', 'query.master_id'],
  ])('answers %s with a 400', async (qs, field) => {
    const res = await api(running, 'GET', `/esg-search/search?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});

/**
 * esgf-pyclient's requests, byte for byte as SearchConnection/SearchContext
 * build them (format, limit, distrib, offset first; then type, latest,
 * facets, replica; then facet constraints), since the client itself cannot
 * be installed here.
 */
describe('ESGF dialect as esgf-pyclient speaks it', () => {
  const PYESGF = `format=${JSON_FORMAT}`;
  /** esgf-pyclient's own pattern for the names of rejected parameters. */
  const PYESGF_INVALID = /Invalid HTTP query parameter=(\w+)/g;
  /** esgf-pyclient's SHARD_REXP, which must match every shard the answer names. */
  const SHARD_REXP = /^(https?:\/\/)?(.+?):?(\d+)?\/(.*)$/;
  const HADGEM_RCP45 = `${DATASETS[0]!.datasetId}.v20111128`;

  const esgfJson = async (qs: string, headers: Record<string, string> = {}) => {
    const res = await api(running, 'GET', `/esg-search/search?${qs}`, { headers });
    expect([qs, res.status]).toEqual([qs, 200]);
    return res.body;
  };

  it("answers new_context(project='CMIP5', latest=True).hit_count: Python booleans, facets=*, limit=0", async () => {
    const body = await esgfJson(
      `${PYESGF}&limit=0&distrib=false&type=Dataset&latest=True&facets=%2A&project=CMIP5`,
    );
    // HadGEM2-ES x3 and EC-EARTH rcp45 are public CMIP5; the embargoed EC-EARTH run is not.
    expect(body.response).toEqual({ numFound: 4, start: 0, maxScore: 1, docs: [] });
    const facets = body.facet_counts.facet_fields as Record<string, (string | number)[]>;
    // Every facet the matching datasets have, and only those.
    expect(facets.model).toEqual(['HadGEM2-ES', 3, 'EC-EARTH', 1]);
    expect(facets.project).toEqual(['CMIP5', 4]);
    expect(Object.keys(facets)).not.toContain('domain');
    expect(Object.values(facets).every((counts) => counts.length > 0)).toBe(true);
  });

  it.each(['True', 'true', 'TRUE', '1'])('reads latest=%s as true', async (latest) => {
    const body = await esgfJson(
      `${PYESGF}&limit=0&distrib=false&type=Dataset&latest=${latest}&project=CMIP5`,
    );
    expect(body.response.numFound).toBe(4);
  });

  it('takes replica=False and distrib=false as no constraint; replica=True finds nothing', async () => {
    const base = `${PYESGF}&limit=0&distrib=false&type=Dataset&latest=True&facets=%2A&replica=False&project=CMIP5`;
    expect((await esgfJson(base)).response.numFound).toBe(4);
    expect((await esgfJson(base.replace('replica=False', 'replica=True'))).response.numFound).toBe(0);
  });

  it('names this index as the only shard for distrib=true, in the form esgf-pyclient parses', async () => {
    const body = await esgfJson(`${PYESGF}&distrib=true&facets=&fields=`);
    const shards = String(body.responseHeader.params.shards).split(',');
    expect(shards).toHaveLength(1);
    expect(shards[0]).toMatch(SHARD_REXP);
    const local = await esgfJson(`${PYESGF}&distrib=false&limit=0`);
    expect(local.responseHeader.params.shards).toBeUndefined();
  });

  it('pages results, then file_context() lists the files of a result by its id', async () => {
    const results = await esgfJson(
      `${PYESGF}&limit=50&distrib=false&offset=0&type=Dataset&latest=True&project=CMIP5&experiment=rcp45&model=HadGEM2-ES`,
    );
    const dataset = results.response.docs[0];
    expect(dataset.instance_id).toBe(HADGEM_RCP45);
    const parent = encodeURIComponent(dataset.id);
    const counts = await esgfJson(
      `${PYESGF}&limit=0&distrib=false&type=File&facets=%2A&dataset_id=${parent}`,
    );
    expect(counts.response.numFound).toBe(3);
    const files = await esgfJson(`${PYESGF}&limit=50&distrib=false&offset=0&type=File&dataset_id=${parent}`);
    expect(files.response.docs).toHaveLength(3);
    for (const f of files.response.docs) {
      expect(f).toMatchObject({ type: 'File', dataset_id: dataset.id });
      expect(f.url.map((u: string) => u.split('|')[2])).toEqual(
        expect.arrayContaining(['HTTPServer', 'OPENDAP', 'NetcdfSubset']),
      );
    }
  });

  it("aggregation_context() finds the dataset's whole-dataset aggregation with its OPeNDAP URL", async () => {
    const [dataset] = (await esgfJson(`${PYESGF}&distrib=false&type=Dataset&instance_id=${HADGEM_RCP45}`))
      .response.docs;
    const body = await esgfJson(
      `${PYESGF}&limit=50&distrib=false&offset=0&type=Aggregation&dataset_id=${encodeURIComponent(dataset.id)}`,
    );
    expect(body.response.numFound).toBe(1);
    const [agg] = body.response.docs;
    expect(agg).toMatchObject({
      id: `${HADGEM_RCP45}.aggregation|${dataset.data_node}`,
      type: 'Aggregation',
      dataset_id: dataset.id,
      model: ['HadGEM2-ES'],
      experiment: ['rcp45'],
      number_of_files: 3,
      datetime_start: '2006-01-16T00:00:00Z',
    });
    const opendap = agg.url.find((u: string) => u.endsWith('|OPENDAP'));
    expect(opendap).toMatch(
      new RegExp(
        `/thredds/dodsC/datasets/${HADGEM_RCP45.replace(/\./g, '\\.')}\\.html\\|application/opendap-html\\|OPENDAP$`,
      ),
    );
  });

  it('lists one aggregation per readable dataset, filtered and counted like datasets', async () => {
    const agg = await esgfJson(`${PYESGF}&type=Aggregation&limit=100&model=EC-EARTH&facets=experiment`);
    const ds = await esgfJson(`${PYESGF}&type=Dataset&limit=100&model=EC-EARTH&facets=experiment`);
    expect(agg.response.numFound).toBe(ds.response.numFound);
    expect(agg.response.docs.map((d: { dataset_id: string }) => d.dataset_id)).toEqual(
      ds.response.docs.map((d: { id: string }) => d.id),
    );
    expect(agg.facet_counts.facet_fields).toEqual(ds.facet_counts.facet_fields);
    expect(JSON.stringify(agg.response.docs)).not.toContain(PRIVATE_EC);
    const mine = await esgfJson(`${PYESGF}&type=Aggregation&limit=0&model=EC-EARTH`, bearer(keys.readerKey));
    expect(mine.response.numFound).toBe(ds.response.numFound + 1);
  });

  it('keeps the fields asked for and ignores unknown field names', async () => {
    const body = await esgfJson(`${PYESGF}&type=Dataset&limit=2&fields=instance_id,no_such_field`);
    expect(body.response.docs).toHaveLength(2);
    for (const doc of body.response.docs) expect(Object.keys(doc).sort()).toEqual(['id', 'instance_id']);
  });

  it('selects records by modification time with from/to (their _timestamp)', async () => {
    const all = await esgfJson(`${PYESGF}&type=Dataset&limit=100`);
    const stamps = (all.response.docs as { _timestamp: string }[]).map((d) => d._timestamp).sort();
    const last = stamps.at(-1)!;
    expect(
      (await esgfJson(`${PYESGF}&type=Dataset&limit=0&from=2000-01-01T00:00:00Z`)).response.numFound,
    ).toBe(all.response.numFound);
    expect((await esgfJson(`${PYESGF}&type=Dataset&limit=0&to=2000-01-01T00:00:00Z`)).response.numFound).toBe(
      0,
    );
    expect((await esgfJson(`${PYESGF}&type=Dataset&limit=0&from=${last}`)).response.numFound).toBe(
      stamps.filter((s) => s === last).length,
    );
    const files = `${PYESGF}&type=File&limit=0&model=HadGEM2-ES&experiment=rcp45`;
    const everyFile = (await esgfJson(files)).response.numFound;
    expect((await esgfJson(`${files}&from=2000-01-01T00:00:00Z`)).response.numFound).toBe(everyFile);
    expect((await esgfJson(`${files}&from=2999-01-01T00:00:00Z`)).response.numFound).toBe(0);
    expect(
      (await esgfJson(`${PYESGF}&type=Aggregation&limit=0&from=2999-01-01T00:00:00Z`)).response.numFound,
    ).toBe(0);
  });

  it.each([
    ['colour=red', ['colour']],
    ['latest=maybe', ['latest']],
    ['limit=10001', ['limit']],
    ['type=Nope', ['type']],
    ['replica=perhaps&colour=red&type=Nope', ['type', 'replica', 'colour']],
  ])('answers %s with a problem whose detail esgf-pyclient reads', async (qs, names) => {
    const res = await fetch(`${running.url}/esg-search/search?${PYESGF}&limit=0&distrib=false&${qs}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as { detail: string; errors: { field: string }[] };
    // What pyesgf does with the body: set(re.findall(pattern, response.text)).
    const text = JSON.stringify(body);
    expect(new Set([...text.matchAll(PYESGF_INVALID)].map((m) => m[1]))).toEqual(new Set(names));
    expect(body.detail.split('\n')).toHaveLength(names.length);
    expect(body.errors.map((e) => e.field).sort()).toEqual(names.map((n) => `query.${n}`).sort());
  });

  it.each([
    ['model%5B%24ne%5D=x', 'model', 'query.model[$ne]'],
    ['model=%FF', 'model', 'query.model'],
  ])('answers %s, refused before the route, with the detail esgf-pyclient reads', async (qs, name, field) => {
    const res = await fetch(`${running.url}/esg-search/search?${PYESGF}&${qs}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { detail: string; errors: { field: string }[] };
    expect([...JSON.stringify(body).matchAll(PYESGF_INVALID)].map((m) => m[1])).toEqual([name]);
    expect(body.errors.map((e) => e.field)).toEqual([field]);
  });
});

/** The XML parsed by python3's xml.etree, summarised as JSON: what a script reading Solr XML sees. */
function parseSolrXml(xml: string): {
  numFound: number;
  start: number;
  docs: Record<string, unknown>[];
  facets: Record<string, [string, number][]>;
  params: Record<string, unknown>;
} {
  const script = `
import json, sys
import xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == 'response', root.tag
def value(e):
    if e.tag == 'arr': return [value(c) for c in e]
    if e.tag in ('int', 'long'): return int(e.text)
    if e.tag == 'float': return float(e.text)
    if e.tag == 'bool': return e.text == 'true'
    return e.text or ''
result = root.find("result[@name='response']")
header = root.find("lst[@name='responseHeader']")
fields = root.find("lst[@name='facet_counts']/lst[@name='facet_fields']")
print(json.dumps({
  'numFound': int(result.get('numFound')),
  'start': int(result.get('start')),
  'docs': [{c.get('name'): value(c) for c in doc} for doc in result.findall('doc')],
  'facets': {f.get('name'): [[c.get('name'), int(c.text)] for c in f] for f in fields},
  'params': {c.get('name'): value(c) for c in header.find("lst[@name='params']")},
}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: xml }).toString()) as ReturnType<
    typeof parseSolrXml
  >;
}

describe('ESGF Solr XML', () => {
  const QUERY = 'type=Dataset&project=CMIP5&facets=model,experiment&limit=3&offset=1';

  it.each([QUERY, `${QUERY}&format=application%2Fsolr%2Bxml`])(
    'answers %s in Solr XML with the same content as the JSON',
    async (qs) => {
      const res = await fetch(`${running.url}/esg-search/search?${qs}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
      const xml = await res.text();
      expect(xml.startsWith('<?xml')).toBe(true);
      const parsed = parseSolrXml(xml);
      const json = (await api(running, 'GET', `/esg-search/search?${QUERY}&format=${JSON_FORMAT}`)).body;
      expect(parsed.numFound).toBe(json.response.numFound);
      expect(parsed.start).toBe(1);
      expect(parsed.docs).toEqual(json.response.docs);
      const flat = (pairs: [string, number][]) => pairs.flat();
      expect(Object.fromEntries(Object.entries(parsed.facets).map(([k, v]) => [k, flat(v)]))).toEqual(
        json.facet_counts.facet_fields,
      );
      expect(parsed.params).toMatchObject({ format: 'application/solr+xml', type: 'Dataset', limit: '3' });
    },
  );

  it('answers File and Aggregation searches and counts-only queries in XML too', async () => {
    for (const type of ['File', 'Aggregation']) {
      const res = await fetch(`${running.url}/esg-search/search?type=${type}&model=HadGEM2-ES&limit=2`);
      const parsed = parseSolrXml(await res.text());
      expect(parsed.docs).toHaveLength(2);
      expect(parsed.docs.every((d) => d.type === type)).toBe(true);
      expect(parsed.docs[0]!.url).toEqual(expect.arrayContaining([expect.stringMatching(/\|OPENDAP$/)]));
    }
    const counts = parseSolrXml(
      await (await fetch(`${running.url}/esg-search/search?limit=0&facets=*`)).text(),
    );
    expect(counts.docs).toEqual([]);
    expect(counts.numFound).toBeGreaterThan(0);
    expect(counts.facets.project).toEqual(expect.arrayContaining([['CMIP5', 4]]));
  });

  it('still answers bad input with a problem, not XML', async () => {
    const res = await fetch(`${running.url}/esg-search/search?latest=maybe`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('exports', () => {
  it('builds an intake-esm collection with inline rows per file', async () => {
    const res = await api(
      running,
      'GET',
      '/api/v1/exports/intake-esm?model=HadGEM2-ES&experiment=rcp45&format=opendap',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      esmcat_version: '0.1.0',
      assets: { column_name: 'path', format: 'opendap' },
      aggregation_control: { variable_column_name: 'variable', groupby_attrs: expect.any(Array) },
    });
    expect(res.body.catalog_dict).toHaveLength(3);
    expect(res.body.catalog_dict[0]).toMatchObject({
      model: 'HadGEM2-ES',
      experiment: 'rcp45',
      variable: 'tas',
    });
    expect(res.body.catalog_dict[0].path).toMatch(/\/thredds\/dodsC\/data\/.*\.nc$/);
  });

  it('links a CSV instead when asked, and the CSV has one row per file', async () => {
    const res = await api(
      running,
      'GET',
      '/api/v1/exports/intake-esm?model=HadGEM2-ES&inline=false&format=netcdf',
    );
    expect(res.body.catalog_file).toMatch(
      /\/api\/v1\/exports\/intake-esm\.csv\?model=HadGEM2-ES&format=netcdf$/,
    );
    const csv = await api(running, 'GET', '/api/v1/exports/intake-esm.csv?model=HadGEM2-ES&format=netcdf');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (csv.body as string).trim().split('\n');
    expect(lines[0]).toMatch(/^dataset_id,version,project,/);
    expect(lines).toHaveLength(1 + 9);
    expect(lines[1]).toMatch(/\/thredds\/fileServer\/data\//);
  });

  it('exports files as CSV only for readable datasets', async () => {
    const anon = await api(running, 'GET', '/api/v1/exports/files.csv?model=EC-EARTH');
    expect((anon.body as string).trim().split('\n')).toHaveLength(1 + 3);
    const reader = await api(running, 'GET', '/api/v1/exports/files.csv?model=EC-EARTH', {
      headers: bearer(keys.readerKey),
    });
    expect((reader.body as string).trim().split('\n')).toHaveLength(1 + 6);
  });

  it('rejects a bad export format with a 400 problem, not a half-written CSV', async () => {
    expect((await api(running, 'GET', '/api/v1/exports/intake-esm?format=zarr')).status).toBe(400);
    const csv = await api(running, 'GET', '/api/v1/exports/files.csv?start=never');
    expect(csv.status).toBe(400);
    expect(csv.headers.get('content-type')).toMatch(/problem\+json/);
  });
});

describe('capacity', () => {
  it('reports bytes per tier and project to curators', async () => {
    const res = await api(running, 'GET', '/api/v1/capacity', { headers: bearer(keys.curatorKey) });
    expect(res.status).toBe(200);
    expect(res.body.totalBudget).toBe(100e12);
    expect(res.body.tiers.find((t: { kind: string }) => t.kind === 'standard')).toMatchObject({
      files: 17,
      bytes: 17_000_000,
      datasets: 6,
    });
    expect(res.body.byProject).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'standard', project: 'CORDEX', files: 2 })]),
    );
  });

  it('is not for readers', async () => {
    expect((await api(running, 'GET', '/api/v1/capacity', { headers: bearer(keys.readerKey) })).status).toBe(
      403,
    );
    expect((await api(running, 'GET', '/api/v1/capacity')).status).toBe(401);
  });
});

describe('admin sees everything', () => {
  it('counts all datasets', async () => {
    expect((await api(running, 'GET', '/api/v1/datasets', { headers: ADMIN })).body.total).toBe(7);
  });
});
