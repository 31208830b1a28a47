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
      `/esg-search/search?type=File&dataset_id=${encodeURIComponent(`${datasetId}|x`)}&limit=2&offset=1`,
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
      '/esg-search/search?type=File&model=HadGEM2-ES&experiment=rcp45&facets=model,experiment&limit=0',
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
    const res = await api(running, 'GET', `/esg-search/search?type=Dataset&master_id=${master}`);
    expect(res.status).toBe(200);
    const docs = res.body.response.docs as { master_id: string; instance_id: string }[];
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.every((d) => d.master_id === master)).toBe(true);
    expect(docs.map((d) => d.instance_id)).toContain(`${master}.v20111128`);
    // A private dataset stays hidden when asked for by name.
    const hidden = PRIVATE_EC.replace(/\.v\d+$/, '');
    const none = await api(running, 'GET', `/esg-search/search?type=Dataset&master_id=${hidden}`);
    expect(none.body.response.numFound).toBe(0);
  });

  it('never reveals private datasets', async () => {
    const res = await api(running, 'GET', '/esg-search/search?model=EC-EARTH&facets=experiment&limit=100');
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
    ['format=application%2Fsolr%2Bxml', 'query.format'],
    ['type=File&master_id=x', 'query.master_id'],
  ])('answers %s with a 400', async (qs, field) => {
    const res = await api(running, 'GET', `/esg-search/search?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
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
