/**
 * Stores written before a location was (root name, path): file rows carried a
 * storage kind and S3 rows named the bucket. Each test writes such rows the
 * way the previous schema did, opens the store with today's code and the
 * configured roots, and checks every file is found at its new location, with
 * its id, and that the unique key is (root, path).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mongoose from 'mongoose';
import type { FileRecord, Store, StorageLocation } from '@climcat/core';
import { createStore, type StoreRoot } from '@climcat/store';
// The released first schema, exactly as earlier builds created it (migrations are never edited).
import { MIGRATIONS } from '@climcat/store/sqlite/sqlite-migrations';
import { testEnv } from '../harness/env';

jest.setTimeout(30_000);

const ROOTS: StoreRoot[] = [
  { name: 'data', kind: 'posix' },
  { name: 'scratch', kind: 'posix' },
  // Two roots on one bucket: old rows of "shared" go to the one with the empty prefix.
  { name: 'era5', kind: 's3', bucket: 'shared', prefix: 'era5' },
  { name: 'whole', kind: 's3', bucket: 'shared', prefix: '' },
  // Only prefixed roots: the first configured.
  { name: 'obs', kind: 's3', bucket: 'obs-bucket', prefix: 'obs' },
  { name: 'obs-b', kind: 's3', bucket: 'obs-bucket', prefix: 'b' },
  // An S3 root named like a POSIX root that once existed (its rows are still in the store).
  { name: 'legacy', kind: 's3', bucket: 'legacy-bucket', prefix: '' },
];

type OldKind = 'posix' | 's3';
interface OldRow {
  id: string;
  kind: OldKind;
  root: string;
  path: string;
  status?: 'present' | 'removed';
}

const OLD_ROWS: OldRow[] = [
  { id: 'f-posix', kind: 'posix', root: 'data', path: 'cmip5/a/tas.nc' },
  { id: 'f-removed', kind: 'posix', root: 'data', path: 'cmip5/a/old.nc', status: 'removed' },
  { id: 'f-scratch', kind: 'posix', root: 'scratch', path: 'alice/x.nc' },
  { id: 'f-shared', kind: 's3', root: 'shared', path: 'cmip5/a/tas.nc' },
  { id: 'f-obs', kind: 's3', root: 'obs-bucket', path: 'stations/s1.nc' },
  { id: 'f-gone', kind: 's3', root: 'gone-bucket', path: 'x.nc' },
  { id: 'f-legacy-posix', kind: 'posix', root: 'legacy', path: 'c.nc' },
  { id: 'f-legacy-s3', kind: 's3', root: 'legacy-bucket', path: 'c.nc' },
  { id: 'f-legacy-s3-free', kind: 's3', root: 'legacy-bucket', path: 'd.nc' },
];

/** Where each old row must be found after the upgrade. */
const EXPECTED: Record<string, StorageLocation> = {
  'f-posix': { root: 'data', path: 'cmip5/a/tas.nc' },
  'f-removed': { root: 'data', path: 'cmip5/a/old.nc' },
  'f-scratch': { root: 'scratch', path: 'alice/x.nc' },
  'f-shared': { root: 'whole', path: 'cmip5/a/tas.nc' },
  'f-obs': { root: 'obs', path: 'stations/s1.nc' },
  // No root holds the bucket: kept under a name no configured root can have.
  'f-gone': { root: 's3:gone-bucket', path: 'x.nc' },
  'f-legacy-posix': { root: 'legacy', path: 'c.nc' },
  // Its root already has a file at that path: kept, but apart.
  'f-legacy-s3': { root: 's3:legacy-bucket', path: 'c.nc' },
  'f-legacy-s3-free': { root: 'legacy', path: 'd.nc' },
};

function oldRecord(row: OldRow): Record<string, unknown> {
  return {
    id: row.id,
    datasetId: 'ds-1',
    location: { kind: row.kind, root: row.root, path: row.path },
    size: 100,
    mtime: '2024-01-01T00:00:00Z',
    format: 'netcdf4',
    timeCoverage: null,
    variables: ['tas'],
    status: row.status ?? 'present',
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
  };
}

function newRecord(row: OldRow): FileRecord {
  return { ...(oldRecord(row) as unknown as FileRecord), location: EXPECTED[row.id]! };
}

async function collect(iterable: AsyncIterable<FileRecord[]>): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of iterable) ids.push(...batch.map((f) => f.id));
  return ids;
}

/** What both adapters must show after the upgrade. */
async function expectUpgraded(store: Store): Promise<void> {
  for (const row of OLD_ROWS) {
    expect(await store.files.get(row.id)).toStrictEqual(newRecord(row));
    expect(await store.files.findByLocation(EXPECTED[row.id]!)).toStrictEqual(newRecord(row));
  }
  expect(await collect(store.files.iterateByRoot('whole', ''))).toEqual(['f-shared']);
  expect(await collect(store.files.iterateByRoot('era5', ''))).toEqual([]);
  expect(await collect(store.files.iterateByRoot('data', ''))).toEqual(['f-posix']);
  expect(await collect(store.files.iterateByRoot('legacy', ''))).toEqual([
    'f-legacy-posix',
    'f-legacy-s3-free',
  ]);
  // The old S3 form of a location names nothing any more.
  expect(await store.files.findByLocation({ root: 'shared', path: 'cmip5/a/tas.nc' })).toBeNull();
  // New files: unique on (root, path), the same path under another root is another file.
  const fresh = {
    ...newRecord(OLD_ROWS[0]!),
    id: 'f-new',
    location: { root: 'era5', path: 'cmip5/a/tas.nc' },
  };
  expect(await store.files.upsert(fresh)).toBe('new');
  expect(await store.files.upsert({ ...fresh, id: 'f-new-2', size: 5 })).toBe('changed');
  expect(await store.files.get('f-new-2')).toBeNull();
  expect(await store.files.findByLocation(fresh.location)).toMatchObject({ id: 'f-new', size: 5 });
}

const tempDir = mkdtempSync(join(tmpdir(), 'climcat-upgrade-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('sqlite store written by schema version 1', () => {
  function writeVersion1(path: string): void {
    const db = new Database(path);
    try {
      db.exec(MIGRATIONS[0] as string);
      db.pragma('user_version = 1');
      const insert = db.prepare(
        'INSERT INTO files (id, dataset_id, kind, root, path, status, size, mtime, etag, time_start, time_end, doc)' +
          " VALUES (?, 'ds-1', ?, ?, ?, ?, 100, '2024-01-01T00:00:00Z', NULL, NULL, NULL, ?)",
      );
      for (const row of OLD_ROWS) {
        insert.run(
          row.id,
          row.kind,
          row.root,
          row.path,
          row.status ?? 'present',
          JSON.stringify(oldRecord(row)),
        );
      }
    } finally {
      db.close();
    }
  }

  it('finds every file at its new location with its id, unique on (root, path)', async () => {
    const path = join(tempDir, 'v1.db');
    writeVersion1(path);
    const store = await createStore({ adapter: 'sqlite', path, roots: ROOTS });
    try {
      await expectUpgraded(store);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      const columns = (db.pragma('table_info(files)') as { name: string }[]).map((c) => c.name);
      expect(columns).not.toContain('kind');
      const unique = (db.pragma('index_list(files)') as { name: string; unique: number }[])
        .filter((ix) => ix.unique)
        .map((ix) => (db.pragma(`index_info(${ix.name})`) as { name: string }[]).map((c) => c.name));
      expect(unique).toContainEqual(['root', 'path']);
      expect(db.prepare('SELECT count(*) FROM files').pluck().get()).toBe(OLD_ROWS.length + 1);
      expect(
        db
          .prepare("SELECT count(*) FROM files WHERE json_extract(doc, '$.location.kind') IS NOT NULL")
          .pluck()
          .get(),
      ).toBe(0);
    } finally {
      db.close();
    }
  });

  it('changes nothing when opened again', async () => {
    const path = join(tempDir, 'v1-twice.db');
    writeVersion1(path);
    await (await createStore({ adapter: 'sqlite', path, roots: ROOTS })).close();
    const store = await createStore({ adapter: 'sqlite', path, roots: [] });
    try {
      for (const row of OLD_ROWS) expect(await store.files.get(row.id)).toStrictEqual(newRecord(row));
    } finally {
      await store.close();
    }
  });
});

describe('mongo store written before (root, path) locations', () => {
  const uri = testEnv('TEST_MONGODB_URI');
  let dbName: string;
  let n = 0;

  beforeEach(() => {
    dbName = `upgrade_${process.pid}_${Date.now().toString(36)}_${++n}`;
  });

  async function writeOld(): Promise<void> {
    const connection = await mongoose.createConnection(uri, { dbName, autoCreate: false }).asPromise();
    try {
      const files = connection.collection('files');
      // The old unique location index, as earlier builds created it.
      await files.createIndex(
        { 'location.kind': 1, 'location.root': 1, 'location.path': 1 },
        { name: 'location', unique: true },
      );
      for (const row of OLD_ROWS) await files.insertOne(oldRecord(row));
    } finally {
      await connection.close();
    }
  }

  async function rawFiles<T>(fn: (files: mongoose.mongo.Collection) => Promise<T>): Promise<T> {
    const connection = await mongoose.createConnection(uri, { dbName, autoCreate: false }).asPromise();
    try {
      return await fn(connection.collection('files'));
    } finally {
      await connection.close();
    }
  }

  it('finds every file at its new location with its id, unique on (root, path)', async () => {
    await writeOld();
    const store = await createStore({ adapter: 'mongo', uri, dbName, roots: ROOTS });
    try {
      await expectUpgraded(store);
    } finally {
      await store.close();
    }
    await rawFiles(async (files) => {
      expect(await files.countDocuments({})).toBe(OLD_ROWS.length + 1);
      expect(await files.countDocuments({ 'location.kind': { $exists: true } })).toBe(0);
      const indexes = await files.listIndexes().toArray();
      expect(indexes).toContainEqual(
        expect.objectContaining({ key: { 'location.root': 1, 'location.path': 1 }, unique: true }),
      );
    });
  });

  it('changes nothing when connected again', async () => {
    await writeOld();
    await (await createStore({ adapter: 'mongo', uri, dbName, roots: ROOTS })).close();
    const store = await createStore({ adapter: 'mongo', uri, dbName, roots: [] });
    try {
      for (const row of OLD_ROWS) expect(await store.files.get(row.id)).toStrictEqual(newRecord(row));
    } finally {
      await store.close();
    }
  });
});
