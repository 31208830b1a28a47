/**
 * The mongo adapter's connection guarantees against a replica-set primary
 * (jongodb's single-node replica-set profile, started here): every read goes
 * to the primary and every write is `w: majority`, whatever the URI asks for.
 * That server refuses non-primary reads and write concerns other than 1 or
 * majority (error 14), so an option leaking from the URI fails the test.
 * Plus the migration's explicit collections on a server without `create`.
 */
import type { AuditEntry, Store, TotalsRefresh } from '@climcat/core';
import { createStore, migrateStore } from '@climcat/store';
import mongoose from 'mongoose';
import { testEnv } from '../harness/env';
import { startJongodb, type Started } from '../harness/servers';
import { auditEntry, dataset, file, query } from './store-fixtures';

jest.setTimeout(60_000);

const runId = `${process.pid}_${Date.now().toString(36)}`;
let opened = 0;
let replicaSet: Started;

beforeAll(async () => {
  replicaSet = await startJongodb({ replicaSet: 'rs0' });
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    if (replicaSet.process.exitCode !== null) return resolve();
    replicaSet.process.once('exit', () => resolve());
    replicaSet.process.kill('SIGTERM');
  });
});

/** The URI an operator might write: secondary reads, w: 2 (with a timeout, so a refusal is quick). */
function leakyUri(): string {
  return `${replicaSet.url}&readPreference=secondaryPreferred&w=2&wtimeoutMS=500`;
}

const refresh: TotalsRefresh = (current, files) =>
  current.fileCount === files.fileCount ? null : { record: { ...current, fileCount: files.fileCount } };

describe('mongo connection on a replica-set primary', () => {
  it('is a server that refuses what the URI asks for, when a client passes it on (control)', async () => {
    const connection = await mongoose
      .createConnection(`${replicaSet.url}&w=2&wtimeoutMS=500`, { dbName: `control_${runId}` })
      .asPromise();
    try {
      await expect(connection.db!.collection('t').insertOne({ a: 1 })).rejects.toMatchObject({ code: 14 });
      await expect(
        connection.db!.collection('t').findOne({}, { readPreference: 'secondaryPreferred' }),
      ).rejects.toMatchObject({ code: 14 });
    } finally {
      await connection.close();
    }
  });

  describe('a store opened with that URI', () => {
    let store: Store;
    const logged: string[] = [];

    beforeEach(async () => {
      logged.length = 0;
      store = await createStore({
        adapter: 'mongo',
        uri: leakyUri(),
        dbName: `primary_${runId}_${++opened}`,
        log: (message) => logged.push(message),
      });
    });

    afterEach(async () => {
      await store.close();
    });

    it('logs that the replica set takes transactions', () => {
      expect(logged[0]).toBe(
        'MongoDB replica set rs0 accepts transactions: dataset delete cascades and audit batches run as transactions',
      );
    });

    it('writes with w: majority and re-reads from the primary: create, CAS, register, search, cascade', async () => {
      const created = await store.datasets.create(dataset('ds-1', { fileCount: 0 }));
      const replaced = await store.datasets.replace({ ...created, title: 'renamed' }, 1);
      expect(await store.datasets.get('ds-1')).toStrictEqual(replaced);
      await store.files.register(file('f-1', 'a/1.nc'), refresh);
      await store.files.register(file('f-2', 'a/2.nc'), refresh);
      expect(await store.datasets.get('ds-1')).toMatchObject({ fileCount: 2, revision: 4 });
      const found = await store.datasets.search(query({ facetCounts: ['model'] }));
      expect(found.total).toBe(1);
      expect(found.facets.model).toEqual([{ value: 'HadGEM2-ES', count: 1 }]);
      const batch: AuditEntry[] = [
        auditEntry('a-1', '2024-01-01T00:00:00Z'),
        auditEntry('a-2', '2024-01-02T00:00:00Z'),
      ];
      await store.audit.append(batch);
      expect(await store.deleteDataset('ds-1', 4, [auditEntry('del', '2024-02-01T00:00:00Z')])).toBe(2);
      expect(await store.datasets.get('ds-1')).toBeNull();
      expect(await store.files.get('f-1')).toBeNull();
      expect((await store.audit.list('dataset', 'ds-1', { limit: 5, offset: 0 })).total).toBe(3);
    });
  });
});

describe('migration collections', () => {
  it('logs and skips the explicit simple-collation create on a server without `create` (code 59)', async () => {
    const lines: string[] = [];
    const report = await migrateStore(
      { adapter: 'mongo', uri: testEnv('TEST_MONGODB_URI'), dbName: `collation_${runId}` },
      (line) => lines.push(line),
    );
    expect(report?.collections).toEqual([]);
    expect(lines).toContain(
      'server cannot create collections (code 59): they appear on first write, not with an explicit collation',
    );
    // The indexes are built regardless.
    expect(report?.created).toEqual(expect.arrayContaining(['datasets.id', 'files.root_path']));
  });
});
