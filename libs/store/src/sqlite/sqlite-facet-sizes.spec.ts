import type { DatasetRecord } from '@climcat/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from './sqlite-database';
import { SqliteDatasetRepository } from './sqlite-dataset.repository';
import { searchKeys } from '../shared/search-index';
import { planSearch } from '../shared/search-plan';

function dataset(id: string, experiment: string, variables: string[]): Omit<DatasetRecord, 'revision'> {
  return {
    id,
    datasetId: id,
    version: '20111128',
    kind: 'standard',
    project: 'CMIP5',
    facets: { project: 'CMIP5', experiment, variable: variables },
    variables: variables.map((name) => ({ name, units: 'K' })),
    timeCoverage: { start: '2006-01-16T00:00:00', end: '2099-12-16T00:00:00', calendar: '360_day' },
    bbox: [0, -90, 360, 90],
    size: 1,
    fileCount: 1,
    access: { public: true, ownerGroup: 'cmip5', accessGroups: [] },
    status: 'latest',
    availability: 'online',
    title: id,
    description: '',
    keywords: [],
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
  };
}

/** The maintained sizes, and the sizes counted from the facet rows: they must agree. */
function sizes(db: Db): { kept: Record<string, number>; counted: Record<string, number> } {
  const kept: Record<string, number> = {};
  for (const r of db.prepare('SELECT name, value, datasets FROM facet_values').all() as {
    name: string;
    value: string;
    datasets: number;
  }[])
    if (r.datasets !== 0) kept[`${r.name}=${r.value}`] = r.datasets;
  const counted: Record<string, number> = {};
  for (const r of db
    .prepare('SELECT name, value, count(*) AS n FROM dataset_facets GROUP BY name, value')
    .all() as { name: string; value: string; n: number }[])
    counted[`${r.name}=${r.value}`] = r.n;
  return { kept, counted };
}

describe('sqlite facet value sizes (facet_values.datasets)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'climcat-facet-sizes-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('follow creates, replaces and deletes', async () => {
    const db = openDatabase(join(dir, 'c.sqlite'), { roots: [] });
    const repo = new SqliteDatasetRepository(db);
    await repo.create(dataset('a', 'rcp45', ['tas', 'pr']));
    await repo.create(dataset('b', 'rcp45', ['tas']));
    const c = await repo.create(dataset('c', 'rcp85', ['pr']));
    expect(sizes(db).kept).toEqual({
      'project=CMIP5': 3,
      'experiment=rcp45': 2,
      'experiment=rcp85': 1,
      'variable=tas': 2,
      'variable=pr': 2,
    });
    await repo.replace({ ...c, facets: { project: 'CMIP5', experiment: 'rcp45', variable: ['tas'] } }, 1);
    await repo.delete('a');
    const { kept, counted } = sizes(db);
    expect(kept).toEqual({ 'project=CMIP5': 2, 'experiment=rcp45': 2, 'variable=tas': 2 });
    expect(kept).toEqual(counted);
    db.close();
  });

  it('are counted for datasets written before the migration', async () => {
    const path = join(dir, 'old.sqlite');
    const db = openDatabase(path, { roots: [] });
    const repo = new SqliteDatasetRepository(db);
    await repo.create(dataset('a', 'rcp45', ['tas', 'pr']));
    await repo.create(dataset('b', 'rcp85', ['tas']));
    // Back to schema version 6, whose facet_values had no sizes.
    db.exec(
      'DROP TRIGGER dataset_facets_count_insert; DROP TRIGGER dataset_facets_count_delete;' +
        ' ALTER TABLE facet_values DROP COLUMN datasets;' +
        ' DROP INDEX files_present_states; DROP INDEX files_present_totals',
    );
    db.pragma('user_version = 6');
    db.close();
    const migrated = openDatabase(path, { roots: [] });
    const { kept, counted } = sizes(migrated);
    expect(kept).toEqual({
      'project=CMIP5': 2,
      'experiment=rcp45': 1,
      'experiment=rcp85': 1,
      'variable=tas': 2,
      'variable=pr': 1,
    });
    expect(kept).toEqual(counted);
    migrated.close();
  });
});

describe('sqlite one-pass search (few matches)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'climcat-one-pass-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers as the count + codes + sorted page path does', async () => {
    const db = openDatabase(join(dir, 'c.sqlite'), { roots: [] });
    const onePass = new SqliteDatasetRepository(db);
    const threePasses = new SqliteDatasetRepository(db, 0);
    const experiments = ['rcp45', 'rcp85', 'historical', 'amip', 'piControl'];
    const vars = ['tas', 'pr', 'psl', 'uas', 'vas', 'huss', 'zg'];
    for (let i = 0; i < 300; i++) {
      const record = dataset(`ds-${(i * 37) % 300}.\u00e9${i % 3}`, experiments[i % 5]!, [vars[i % 7]!]);
      record.datasetId = `m${(i * 11) % 17}`;
      record.size = (i * 7919) % 13;
      record.fileCount = 1 + (i % 4);
      record.createdAt = `2024-01-${String(1 + (i % 28)).padStart(2, '0')}T00:00:00Z`;
      record.access = { public: i % 4 !== 0, ownerGroup: 'g', accessGroups: i % 8 === 0 ? ['eucp'] : [] };
      await onePass.create(record);
    }
    const accesses = [
      { everything: true, groups: [] },
      { everything: false, groups: [] },
      { everything: false, groups: ['eucp'] },
    ];
    const sorts = [
      undefined,
      ...(['size', 'createdAt', 'datasetId'] as const).flatMap((field) =>
        (['asc', 'desc'] as const).map((direction) => ({ field, direction })),
      ),
    ];
    const onePassSearches = jest.spyOn(
      SqliteDatasetRepository.prototype as unknown as { searchOnePass: () => unknown },
      'searchOnePass',
    );
    for (const access of accesses)
      for (const sort of sorts)
        for (const unit of ['datasets', 'files'] as const)
          for (const facets of [
            { experiment: ['rcp45'] },
            { experiment: ['rcp85', 'amip'], variable: ['tas', 'zg'] },
          ]) {
            const query = {
              access,
              facets,
              sort,
              facetCounts: ['experiment', 'variable'] as ('experiment' | 'variable')[],
              facetCountUnit: unit,
              limit: 7,
            };
            for (const offset of [0, 5, 200]) {
              const expected = await threePasses.search({ ...query, offset });
              expect(await onePass.search({ ...query, offset })).toEqual(expected);
            }
            let cursor: string | undefined;
            let pages = 0;
            do {
              const expected = await threePasses.search({ ...query, cursor });
              expect(await onePass.search({ ...query, cursor })).toEqual(expected);
              expect(expected.total).toBeGreaterThan(0);
              cursor = expected.next ?? undefined;
              pages++;
            } while (cursor !== undefined);
            expect(pages).toBeGreaterThan(1);
          }
    // Every search of `onePass` took the one pass: these filters match under half the catalog.
    expect(onePassSearches.mock.contexts.every((c) => c === onePass)).toBe(true);
    expect(onePassSearches.mock.calls.length).toBeGreaterThan(100);
    db.close();
  });
});

describe('sqlite text search driven by its rarest term', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'climcat-text-drive-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Titles with words of very different frequencies: `alpha` in all, `gamma` in 1/10, ... */
  function catalog(): Omit<DatasetRecord, 'revision'>[] {
    const experiments = ['rcp45', 'rcp85', 'historical', 'amip', 'piControl'];
    const vars = ['tas', 'pr', 'psl', 'uas', 'vas', 'huss', 'zg'];
    return Array.from({ length: 300 }, (_, i) => {
      const record = dataset(`ds-${(i * 37) % 300}.\u00e9${i % 3}`, experiments[i % 5]!, [vars[i % 7]!]);
      const words = [
        'alpha',
        i % 3 === 0 ? 'beta' : '',
        i % 10 === 0 ? 'gamma' : '',
        i % 7 === 0 ? 'delta-epsilon' : '',
      ];
      if (i % 13 === 0) words.push('gammaray', 'gam');
      record.title = words.filter(Boolean).join(' ');
      record.datasetId = `m${(i * 11) % 17}`;
      record.size = (i * 7919) % 13;
      record.fileCount = 1 + (i % 4);
      record.access = { public: i % 4 !== 0, ownerGroup: 'g', accessGroups: i % 8 === 0 ? ['eucp'] : [] };
      return record;
    });
  }

  it('picks the term with the fewest token rows, if it is rarer than the bound', async () => {
    const db = openDatabase(join(dir, 'c.sqlite'), { roots: [] });
    // A first limit of 2 makes the count limits grow (2, 8, 32, 128) before the rarest term fits.
    const repo = new SqliteDatasetRepository(db, undefined, 2);
    for (const record of catalog()) await repo.create(record);
    const rarest = (terms: string[], below: number) =>
      (
        repo as unknown as {
          rarestTerm(terms: string[], below: number): { term: number; size: number } | undefined;
        }
      ).rarestTerm(terms, below);
    // alpha: 300 rows; beta: 100; `gamma` prefixes gamma and gammaray (30 + 24 rows), `gam` those and gam.
    expect(rarest(['alpha', 'beta', 'gamma'], Infinity)).toEqual({ term: 2, size: 54 });
    expect(rarest(['gamma', 'alpha'], Infinity)).toEqual({ term: 0, size: 54 });
    expect(rarest(['gam', 'beta'], Infinity)).toEqual({ term: 0, size: 78 });
    expect(rarest(['alpha', 'nothing'], Infinity)).toEqual({ term: 1, size: 0 });
    // A facet filter of 54 datasets drives unless a term is rarer still.
    expect(rarest(['alpha', 'gamma'], 54)).toBeUndefined();
    expect(rarest(['alpha', 'gamma'], 55)).toEqual({ term: 1, size: 54 });
    expect(rarest(['alpha'], 0)).toBeUndefined();
    expect(rarest([], Infinity)).toBeUndefined();
    db.close();
  });

  it('answers as the count + sorted page path and as a filter over the records does', async () => {
    const db = openDatabase(join(dir, 'c.sqlite'), { roots: [] });
    const onePass = new SqliteDatasetRepository(db, undefined, 2);
    const threePasses = new SqliteDatasetRepository(db, 0);
    // Intersects the datasets of its rarest terms whenever it can (no minimum).
    const intersecting = new SqliteDatasetRepository(db, undefined, 2, 0);
    const records = catalog();
    for (const record of records) await onePass.create(record);
    const onePassSearches = jest.spyOn(
      SqliteDatasetRepository.prototype as unknown as { searchOnePass: () => unknown },
      'searchOnePass',
    );
    const accesses = [
      { everything: true, groups: [] },
      { everything: false, groups: ['eucp'] },
    ];
    const sorts = [undefined, { field: 'size', direction: 'desc' } as const];
    let textDriven = 0;
    let termsIntersected = 0;
    for (const access of accesses)
      for (const sort of sorts)
        for (const text of [
          ['alpha', 'gamma'],
          ['gam', 'beta'],
          ['delta-epsilon', 'alpha', 'b'],
          ['d', 'tas'],
          ['nothing', 'alpha'],
          // gammaray: 24 datasets; alpha: all 300, more than 8 × 24, so alpha stays a probe.
          ['gammaray', 'alpha'],
          ['\u{10ffff}'],
        ])
          for (const facets of [undefined, { experiment: ['rcp45'] }, { variable: ['tas', 'zg', 'pr'] }])
            for (const facetCounts of [[], ['experiment', 'variable'] as ('experiment' | 'variable')[]]) {
              const query = { access, facets, sort, text, facetCounts, limit: 4 };
              const readable = records.filter(
                (r) =>
                  access.everything ||
                  r.access.public ||
                  r.access.accessGroups.some((g) => access.groups.includes(g)),
              );
              const expectedIds = readable
                .filter((r) => {
                  const tokens = searchKeys(r).tokens;
                  return (
                    text.every((t) => tokens.some((token) => token.startsWith(t))) &&
                    Object.entries(facets ?? {}).every(([name, values]) =>
                      [r.facets[name as 'experiment']].flat().some((v) => values.includes(v!)),
                    )
                  );
                })
                .map((r) => r.id)
                .sort();
              const all = await threePasses.search({ ...query, limit: 1000 });
              expect(all.items.map((r) => r.id).sort()).toEqual(expectedIds);
              expect((await onePass.search({ ...query, limit: 1000 })).items).toEqual(all.items);
              expect((await intersecting.search({ ...query, limit: 1000 })).items).toEqual(all.items);
              for (const offset of [0, 3]) {
                const expected = await threePasses.search({ ...query, offset });
                expect(await onePass.search({ ...query, offset })).toEqual(expected);
                expect(await intersecting.search({ ...query, offset })).toEqual(expected);
              }
              let cursor: string | undefined;
              do {
                const expected = await threePasses.search({ ...query, cursor });
                expect(await onePass.search({ ...query, cursor })).toEqual(expected);
                expect(await intersecting.search({ ...query, cursor })).toEqual(expected);
                cursor = expected.next ?? undefined;
              } while (cursor !== undefined);
              const intersected = (
                intersecting as unknown as { mostSelectiveFirst(plan: unknown): { drive: unknown } }
              ).mostSelectiveFirst(planSearch(query));
              if (typeof intersected.drive === 'object' && text.length > 1) termsIntersected++;
              const driving = (
                onePass as unknown as { mostSelectiveFirst(plan: unknown): { drive: string } }
              ).mostSelectiveFirst(planSearch(query));
              if (driving.drive === 'text') textDriven++;
            }
    // Text drove the searches whose rarest term is rarer than their facet filter (or that have none).
    expect(textDriven).toBeGreaterThan(50);
    // ... and where it did with several terms, `intersecting` listed and intersected them.
    expect(termsIntersected).toBeGreaterThan(20);
    expect(onePassSearches.mock.contexts.filter((c) => c === onePass).length).toBeGreaterThan(200);
    db.close();
  });
});

describe('sqlite search driven by intersected facet filters', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'climcat-intersect-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers as probing every filter does, the one pass and the three passes alike', async () => {
    const db = openDatabase(join(dir, 'c.sqlite'), { roots: [] });
    // No minimum: every search with two facet filters of similar sizes intersects them.
    const intersecting = new SqliteDatasetRepository(db, undefined, undefined, 0);
    const intersectingThreePasses = new SqliteDatasetRepository(db, 0, undefined, 0);
    const probing = new SqliteDatasetRepository(db, 0, undefined, Infinity);
    const experiments = ['rcp45', 'rcp85', 'historical', 'amip', 'piControl'];
    const vars = ['tas', 'pr', 'psl', 'uas', 'vas', 'huss', 'zg'];
    const records: Omit<DatasetRecord, 'revision'>[] = [];
    for (let i = 0; i < 400; i++) {
      // Some datasets hold two variables: a filter on both lists them twice.
      const variables = i % 5 === 0 ? [vars[i % 7]!, vars[(i + 3) % 7]!] : [vars[i % 7]!];
      const record = dataset(`ds-${(i * 37) % 400}.${i % 3}`, experiments[i % 5]!, variables);
      record.datasetId = `m${(i * 11) % 17}`;
      record.size = (i * 7919) % 13;
      record.fileCount = 1 + (i % 4);
      record.access = { public: i % 4 !== 0, ownerGroup: 'g', accessGroups: i % 8 === 0 ? ['eucp'] : [] };
      if (i % 9 === 0) record.facets = { ...record.facets, project: 'CORDEX' };
      records.push(record);
      await intersecting.create(record);
    }
    const intersections = jest.spyOn(
      SqliteDatasetRepository.prototype as unknown as { intersectFacets: () => unknown },
      'intersectFacets',
    );
    const accesses = [
      { everything: true, groups: [] },
      { everything: false, groups: [] },
      { everything: false, groups: ['eucp'] },
    ];
    const filters: Record<string, string[]>[] = [
      { experiment: ['rcp45'], variable: ['tas'] },
      { experiment: ['rcp85', 'amip'], variable: ['tas', 'zg', 'psl'] },
      { project: ['CMIP5'], experiment: ['historical'], variable: ['pr', 'uas'] },
      { experiment: ['rcp45'], variable: ['nothing'] },
      { variable: ['tas', 'psl'], experiment: ['rcp45', 'rcp85', 'historical', 'amip'] },
    ];
    for (const access of accesses)
      for (const facets of filters)
        for (const sort of [undefined, { field: 'size', direction: 'desc' } as const]) {
          const query = {
            access,
            facets,
            sort,
            facetCounts: ['experiment', 'variable', 'project'] as ('experiment' | 'variable' | 'project')[],
            limit: 6,
          };
          const matching = records.filter(
            (r) =>
              (access.everything ||
                r.access.public ||
                r.access.accessGroups.some((g) => access.groups.includes(g))) &&
              Object.entries(facets).every(([name, values]) =>
                [r.facets[name as 'variable']].flat().some((v) => values.includes(v as string)),
              ),
          );
          for (const offset of [0, 4]) {
            const expected = await probing.search({ ...query, offset });
            expect(expected.total).toBe(matching.length);
            expect(await intersecting.search({ ...query, offset })).toEqual(expected);
            expect(await intersectingThreePasses.search({ ...query, offset })).toEqual(expected);
          }
          let cursor: string | undefined;
          do {
            const expected = await probing.search({ ...query, cursor });
            expect(await intersecting.search({ ...query, cursor })).toEqual(expected);
            cursor = expected.next ?? undefined;
          } while (cursor !== undefined);
        }
    // The probing repository never intersected; the others did for every search.
    expect(intersections.mock.contexts.some((c) => c === probing)).toBe(false);
    expect(intersections.mock.contexts.filter((c) => c === intersecting).length).toBeGreaterThan(50);
    db.close();
  });
});
