/**
 * Indexes as a migration: `climcat migrate` builds the declared indexes and
 * records the schema version; a store opened with `migrate: 'verify'` only
 * checks, and its ping (readiness) fails with what is missing until a
 * migration ran. Two migrations at once (two processes) both succeed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mongo } from 'mongoose';
import { createStore, migrateStore, MONGO_INDEXES, MONGO_SCHEMA_VERSION } from '@climcat/store';
import { testEnv } from '../harness/env';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '../..');
const runId = `${process.pid}_${Date.now().toString(36)}`;
let opened = 0;
const freshDb = () => `migrate_${runId}_${++opened}`;

// mongoose's own driver (mongodb is not a direct dependency).
let client: mongo.MongoClient;
beforeAll(async () => {
  client = await mongo.MongoClient.connect(testEnv('TEST_MONGODB_URI'));
});
afterAll(async () => {
  await client.close();
});

/** `npm run migrate` as a separate process: exit code and output. */
function migrateProcess(dbName: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules/ts-node/dist/bin.js'),
        '-r',
        'tsconfig-paths/register',
        '--transpile-only',
        join(ROOT, 'apps/ingestor/src/migrate.ts'),
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          MONGODB_URI: testEnv('TEST_MONGODB_URI'),
          MONGODB_DB: dbName,
          STATE_DIR: join(ROOT, '.climcat-test-unused'),
          LOG_LEVEL: 'silent',
        },
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function indexNames(dbName: string, collection: string): Promise<string[]> {
  const indexes = await client.db(dbName).collection(collection).listIndexes().toArray();
  return indexes.map((ix) => String(ix.name)).sort();
}

describe('climcat migrate on mongo', () => {
  it('two processes migrating one fresh database at once both succeed and leave every declared index', async () => {
    const dbName = freshDb();
    const [a, b] = await Promise.all([migrateProcess(dbName), migrateProcess(dbName)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    // Whichever read the schema record first moved it; the other may have found it moved already.
    expect(
      [a.output, b.output].filter((out) => out.includes(`schema version 0 -> ${MONGO_SCHEMA_VERSION}`))
        .length,
    ).toBeGreaterThan(0);
    for (const [collection, declared] of Object.entries(MONGO_INDEXES)) {
      expect(await indexNames(dbName, collection)).toEqual(
        expect.arrayContaining(declared.map((ix) => String(ix.name))),
      );
    }
    expect(
      await client
        .db(dbName)
        .collection('climcat_meta')
        .findOne({ _id: 'schema' as never }),
    ).toMatchObject({
      version: MONGO_SCHEMA_VERSION,
    });
    // A third run finds nothing to do.
    const again = await migrateProcess(dbName);
    expect(again.code).toBe(0);
    expect(again.output).toContain(
      `schema version ${MONGO_SCHEMA_VERSION} -> ${MONGO_SCHEMA_VERSION}; created no index`,
    );
  });

  it('a store in verify mode is not ready until the migration ran, and says what is missing', async () => {
    const dbName = freshDb();
    const uri = testEnv('TEST_MONGODB_URI');
    const store = await createStore({ adapter: 'mongo', uri, dbName, migrate: 'verify' });
    try {
      await expect(store.ping()).rejects.toThrow(
        /index files\.dataset_listing is missing.*run `climcat migrate`/,
      );
      const report = await migrateStore({ adapter: 'mongo', uri, dbName });
      expect(report?.created).toEqual(expect.arrayContaining(['files.dataset_listing', 'datasets.status']));
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses an index stored under a declared name with other keys, and never touches an operator index', async () => {
    const dbName = freshDb();
    const uri = testEnv('TEST_MONGODB_URI');
    const datasets = client.db(dbName).collection('datasets');
    await datasets.createIndex({ availability: 1, status: 1 }, { name: 'status' });
    await datasets.createIndex({ title: 1 }, { name: 'operator_title' });
    await expect(migrateStore({ adapter: 'mongo', uri, dbName })).rejects.toThrow(
      'indexes datasets.status exist with other keys or options than declared',
    );
    const store = await createStore({ adapter: 'mongo', uri, dbName, migrate: 'verify' });
    try {
      await expect(store.ping()).rejects.toThrow(
        'index datasets.status has keys {"availability":1,"status":1}, declared {"status":1}',
      );
    } finally {
      await store.close();
    }
    expect(await indexNames(dbName, 'datasets')).toContain('operator_title');
  });

  it('offers a retired climcat index for dropping, and refuses a database migrated by a newer release', async () => {
    const dbName = freshDb();
    const uri = testEnv('TEST_MONGODB_URI');
    await client
      .db(dbName)
      .collection('files')
      .createIndex({ datasetId: 1, status: 1, 'location.path': 1 }, { name: 'dataset_path' });
    const lines: string[] = [];
    await migrateStore({ adapter: 'mongo', uri, dbName }, (line) => lines.push(line));
    // The test server has no dropIndexes: the drop is attempted and the index kept; MongoDB drops it.
    expect(lines).toContain('dropping retired index files.dataset_path');

    await client
      .db(dbName)
      .collection('climcat_meta')
      .replaceOne({ _id: 'schema' as never }, { version: 99 });
    await expect(migrateStore({ adapter: 'mongo', uri, dbName })).rejects.toThrow(
      `database schema version 99 is newer than this climcat's (${MONGO_SCHEMA_VERSION})`,
    );
    const store = await createStore({ adapter: 'mongo', uri, dbName, migrate: 'verify' });
    try {
      await expect(store.ping()).rejects.toThrow('database schema version 99 is newer');
    } finally {
      await store.close();
    }
  });
});
