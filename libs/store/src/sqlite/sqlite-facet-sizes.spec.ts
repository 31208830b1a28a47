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
