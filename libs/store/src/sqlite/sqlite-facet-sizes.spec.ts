import type { DatasetRecord } from '@climcat/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from './sqlite-database';
import { SqliteDatasetRepository } from './sqlite-dataset.repository';
import { MIGRATIONS } from './sqlite-migrations';

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
        ' ALTER TABLE facet_values DROP COLUMN datasets',
    );
    db.pragma(`user_version = ${MIGRATIONS.length - 1}`);
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
