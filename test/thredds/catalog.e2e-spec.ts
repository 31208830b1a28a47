/**
 * THREDDS catalogs from the catalog store: InvCatalog 1.0 XML parsed with a
 * real XML parser (python3 xml.etree), filtered per caller, HTML escaped,
 * and a directory of 10,000 files.
 */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { execFile } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { bearer, startApp, tempDir, type RunningApp } from '../harness/app';
import {
  basic,
  catalogArchive,
  PATHS,
  PUBLIC_ID,
  SECRET_ID,
  writeArchive,
  type ThreddsArchive,
} from './thredds-archive';

let running: RunningApp;
let root: string;
let outsideDir: string;
let archive: ThreddsArchive;

const PUBLIC_DIR = PATHS.nc3.slice(0, PATHS.nc3.lastIndexOf('/'));
const SECRET_DIR = PATHS.secret.slice(0, PATHS.secret.lastIndexOf('/'));
const ODD_NAME = `<b onclick="x">&'q'.nc`;
const BIG = 10_000;

interface Parsed {
  version: string;
  services: {
    name: string;
    serviceType: string;
    base: string;
    nested: { name: string; serviceType: string; base: string }[];
  }[];
  catalogRefs: { href: string; title: string; ID: string }[];
  serviceName: string[];
  datasets: {
    name: string;
    ID: string;
    urlPath: string;
    dataSize: [number, string];
    modified: string;
    timeCoverage: { start: string; end: string } | null;
    geospatialCoverage: Record<
      'northsouth' | 'eastwest',
      { start: number; size: number; units: string }
    > | null;
    variables: {
      vocabulary: string;
      items: { name: string; vocabulary_name: string; units: string; text: string }[];
    } | null;
    properties: Record<string, string>;
  }[];
}

/** The catalog document parsed by python3's xml.etree (fails on malformed XML). */
function parse(xml: string): Promise<Parsed>;
function parse(xml: string, sizes: '--sizes'): Promise<[string, number][]>;
function parse(xml: string, ...args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      [join(__dirname, 'catalog-xml.py'), ...args],
      { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
    child.stdin!.end(xml);
  });
}

async function catalog(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${running.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const dirUrl = (dir: string, ext = 'xml') => `/thredds/catalog/data/${dir}/catalog.${ext}`;

beforeAll(async () => {
  root = tempDir('climcat-thredds-cat-');
  outsideDir = tempDir('climcat-thredds-cat-outside-');
  const outside = await writeArchive(root, outsideDir);
  running = await startApp({ env: { DATA_ROOT: root } });
  archive = { ...(await catalogArchive(running, root)), outside };
  // Records only (the catalog never reads the disks): an awkward name and a 10,000-file directory.
  const store = running.app.get<Store>(STORE);
  const now = new Date().toISOString();
  const record = (path: string, i: number): FileRecord => ({
    id: `${PUBLIC_ID}/extra-${i}`,
    datasetId: PUBLIC_ID,
    location: { root: 'data', path },
    size: 1000 + i,
    mtime: now,
    format: 'NETCDF3_CLASSIC',
    timeCoverage: null,
    variables: ['tas'],
    status: 'present',
    createdAt: now,
    updatedAt: now,
  });
  await store.files.upsert(record(`${PUBLIC_DIR}/odd/${ODD_NAME}`, 0));
  for (let i = 1; i <= BIG; i++) await store.files.upsert(record(`big/f${String(i).padStart(5, '0')}.nc`, i));
}, 120_000);
afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

describe('InvCatalog XML', () => {
  it('has a compound service and a catalogRef per root at the top', async () => {
    const res = await catalog('/thredds/catalog.xml');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    const doc = await parse(res.text);
    expect(doc.version).toBe('1.0.1');
    expect(doc.services).toEqual([
      {
        name: 'all',
        serviceType: 'Compound',
        base: '',
        nested: [
          { name: 'odap', serviceType: 'OPENDAP', base: '/thredds/dodsC/' },
          { name: 'http', serviceType: 'HTTPServer', base: '/thredds/fileServer/' },
          { name: 'ncss', serviceType: 'NetcdfSubset', base: '/thredds/ncss/grid/' },
        ],
      },
    ]);
    expect(doc.serviceName).toEqual(['all']);
    expect(doc.catalogRefs).toEqual(
      expect.arrayContaining([{ href: 'catalog/data/catalog.xml', title: 'data', ID: 'data' }]),
    );
  });

  it('walks down the DRS levels by catalogRef, each relative href answering', async () => {
    let path = '/thredds/catalog/data/catalog.xml';
    const seen: string[] = [];
    for (;;) {
      const res = await catalog(path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      const doc = await parse(res.text);
      if (doc.datasets.length) {
        expect(doc.datasets.map((d) => d.name)).toEqual(expect.arrayContaining([PATHS.nc3.split('/').pop()]));
        break;
      }
      const ref = doc.catalogRefs.find((r) => PATHS.nc3.includes(`${r.title}/`))!;
      expect(ref).toBeDefined();
      seen.push(ref.title);
      path = new URL(ref.href, `http://x${path}`).pathname;
    }
    expect(seen.join('/')).toBe(PUBLIC_DIR);
  });

  it('describes each file: urlPath, size, modified date, coverage, CF variables and ESGF properties', async () => {
    const doc = await parse((await catalog(dirUrl(PUBLIC_DIR))).text);
    const nc3 = doc.datasets.find((d) => d.urlPath === `data/${PATHS.nc3}`)!;
    expect(nc3).toEqual({
      name: PATHS.nc3.split('/').pop(),
      ID: `data/${PATHS.nc3}`,
      urlPath: `data/${PATHS.nc3}`,
      dataSize: [statSync(join(root, PATHS.nc3)).size, 'bytes'],
      modified: statSync(join(root, PATHS.nc3)).mtime.toISOString(),
      timeCoverage: { start: '2005-12-16T00:00:00', end: '2006-03-16T00:00:00' },
      geospatialCoverage: {
        northsouth: { start: -90, size: 180, units: 'degrees_north' },
        eastwest: { start: -180, size: 360, units: 'degrees_east' },
      },
      variables: {
        vocabulary: 'CF-1.0',
        items: [
          {
            name: 'tas',
            vocabulary_name: 'air_temperature',
            units: 'K',
            text: 'Near-Surface Air Temperature',
          },
        ],
      },
      properties: {
        dataset_id: PUBLIC_ID.replace(/\.v\d+$/, ''),
        version: '20111128',
        instance_id: PUBLIC_ID,
        calendar: '360_day',
      },
    });
    // The sub-directory with the awkward name is a catalogRef; its file's name survives XML escaping.
    expect(doc.catalogRefs.map((r) => r.title)).toEqual(['odd']);
    const odd = await parse((await catalog(dirUrl(`${PUBLIC_DIR}/odd`))).text);
    expect(odd.datasets.map((d) => d.name)).toEqual([ODD_NAME]);
    expect(odd.datasets[0]!.urlPath).toBe(`data/${PUBLIC_DIR}/odd/${encodeURIComponent(ODD_NAME)}`);
  });
});

describe('per caller', () => {
  const institutes = async (headers: Record<string, string>) =>
    (await parse((await catalog(dirUrl('cmip5/output1'), headers)).text)).catalogRefs.map((r) => r.title);

  it('lists only directories that hold something the caller may read', async () => {
    expect(await institutes({})).toEqual(['MOHC']);
    expect(await institutes(bearer(archive.otherKey))).toEqual(['MOHC']);
    expect(await institutes(bearer(archive.readerKey))).toEqual(['ICHEC', 'MOHC']);
    expect(await institutes(basic(archive.readerKey))).toEqual(['ICHEC', 'MOHC']);
  });

  it('answers a restricted directory with 401 to anonymous callers, 404 to other groups, the files to readers', async () => {
    const anonymous = await catalog(dirUrl(SECRET_DIR));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Basic realm="climcat"/);
    expect(anonymous.text).not.toContain('pr_Amon');
    const other = await catalog(dirUrl(SECRET_DIR), bearer(archive.otherKey));
    expect(other.status).toBe(404);
    expect(other.text).not.toContain('pr_Amon');
    const reader = await parse((await catalog(dirUrl(SECRET_DIR), bearer(archive.readerKey))).text);
    // Only the catalogued file: the uncatalogued one on disk is never listed.
    expect(reader.datasets.map((d) => d.urlPath)).toEqual([`data/${PATHS.secret}`]);
    expect(reader.datasets[0]!.properties.instance_id).toBe(SECRET_ID);
  });

  it('answers unknown directories like restricted ones, and refuses traversal', async () => {
    for (const dir of [
      'cmip5/nothing/here',
      'cmip5/output1/MOHC/HadGEM2-ES/rcp45/mon/atmos/Amon/r1i1p1/v20111128/tas/tas_day_nc4-features.nc',
    ]) {
      expect((await catalog(dirUrl(dir))).status).toBe(401);
      expect((await catalog(dirUrl(dir), bearer(archive.readerKey))).status).toBe(404);
    }
    expect((await catalog('/thredds/catalog/nosuchroot/catalog.xml')).status).toBe(401);
    expect((await catalog('/thredds/catalog/data/cmip5/index.html', bearer(archive.readerKey))).status).toBe(
      404,
    );
    const { hostname, port } = new URL(running.url);
    for (const raw of [
      '/thredds/catalog/data/../../catalog.xml',
      '/thredds/catalog/data/%2e%2e/catalog.xml',
      '/thredds/catalog/data/cmip5%2F..%2F../catalog.xml',
      '/thredds/catalog//etc/catalog.xml',
      '/thredds/catalog/data/cmip5%00/catalog.xml',
    ]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ hostname, port, path: raw, headers: bearer(archive.readerKey) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect({ raw, refused: [400, 404].includes(status) }).toEqual({ raw, refused: true });
    }
  });
});

describe('HTML view', () => {
  it('is a table with sizes, dates, links to every service and to the dataset, everything escaped', async () => {
    const res = await catalog(dirUrl(PUBLIC_DIR, 'html'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const name = PATHS.nc3.split('/').pop()!;
    const urlPath = `data/${PATHS.nc3}`;
    expect(res.text).toContain('<table>');
    expect(res.text).toContain(`<td>${name}</td><td class="n">${statSync(join(root, PATHS.nc3)).size}</td>`);
    expect(res.text).toContain(`href="/thredds/dodsC/${urlPath}.html"`);
    expect(res.text).toContain(`href="/thredds/fileServer/${urlPath}"`);
    expect(res.text).toContain(`href="/thredds/ncss/grid/${urlPath}"`);
    expect(res.text).toContain(`href="/api/v1/datasets/${PUBLIC_ID}"`);
    expect(res.text).toContain('href="odd/catalog.html"');
    const odd = await catalog(dirUrl(`${PUBLIC_DIR}/odd`, 'html'));
    expect(odd.text).toContain('&lt;b onclick=&quot;x&quot;&gt;&amp;&apos;q&apos;.nc');
    expect(odd.text).not.toContain('<b onclick');
    const top = await catalog('/thredds/catalog.html');
    expect(top.text).toContain('href="catalog/data/catalog.html"');
  });
});

describe('large directories', () => {
  it(`streams a directory of ${BIG} files from one walk of the store, each file once`, async () => {
    // What keeps a big directory fast (0.7-2 s for its 11 MB of XML on 2 busy cores): one walk of
    // the root's file records in batches, one dataset lookup per batch, nothing per file, and the
    // XML streamed as it is made (no Content-Length).
    const store = running.app.get<Store>(STORE);
    const walks = jest.spyOn(store.files, 'iterateByRoot');
    const lookups = jest.spyOn(store.datasets, 'getMany');
    const single = jest.spyOn(store.datasets, 'get');
    const perFile = jest.spyOn(store.files, 'get');
    try {
      const res = await catalog('/thredds/catalog/data/big/catalog.xml');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      expect(walks).toHaveBeenCalledTimes(1);
      expect(lookups.mock.calls.length).toBeGreaterThan(0);
      expect(lookups.mock.calls.length).toBeLessThanOrEqual(Math.ceil(BIG / 1000) + 1);
      expect(single).not.toHaveBeenCalled();
      expect(perFile).not.toHaveBeenCalled();
      const sizes = await parse(res.text, '--sizes');
      expect(sizes).toHaveLength(BIG);
      expect(new Set(sizes.map(([urlPath]) => urlPath)).size).toBe(BIG);
      expect(sizes[BIG - 1]).toEqual([`data/big/f${BIG}.nc`, 1000 + BIG]);
    } finally {
      for (const spy of [walks, lookups, single, perFile]) spy.mockRestore();
    }
    const html = await catalog('/thredds/catalog/data/big/catalog.html');
    expect(html.text.match(/<tr><td>f\d{5}\.nc<\/td>/g)).toHaveLength(BIG);
  }, 60_000);
});
