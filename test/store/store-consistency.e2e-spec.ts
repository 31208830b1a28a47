/**
 * Consistency of multi-document writes, on sqlite, on mongo with
 * transactions (the MongoDB-wire test server accepts them) and on mongo with
 * sequential writes (what a standalone mongod gets, forced here with
 * `transactions: 'off'`): the dataset delete cascade, audit batches, and
 * concurrent registrations of one file location. Failures are real server
 * errors (a duplicate key), never injected mocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConflictError,
  PreconditionFailedError,
  type DatasetQuery,
  type DatasetSearchResult,
  type FileUpsertOutcome,
  type Store,
  type TotalsRefresh,
} from '@climcat/core';
import { createStore } from '@climcat/store';
import { testEnv } from '../harness/env';
import { startJongodb, type Started } from '../harness/servers';
import { auditEntry, dataset, EVERYTHING, file } from './store-fixtures';

jest.setTimeout(60_000);

const tempDir = mkdtempSync(join(tmpdir(), 'climcat-consistency-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

let opened = 0;
const runId = `${process.pid}_${Date.now().toString(36)}`;

interface Variant {
  name: string;
  /** Whether a failing write part-way undoes the writes before it. */
  atomic: boolean;
  open(log?: (message: string) => void): Promise<Store>;
  /** A second store on the database the last `open` made (another process, as far as the store knows). */
  reopen(): Promise<Store>;
  /** Whether a search reads total, page and counts at one moment. */
  snapshotSearch: boolean;
  /**
   * Races on a test server of its own: the test server's snapshot copies one
   * collection after another, each under its own lock, across every database
   * it holds. With the whole run's databases on it, a create's insert and its
   * generation bump can both land between the copies of `datasets` and of
   * `climcat_meta` (seen in CI: total 49 filed under the final generation,
   * 50 items). Holding one small database, its copies are microseconds apart,
   * far less than the round trip between those two writes. MongoDB's
   * snapshots are one point in time.
   */
  ownServer?: boolean;
}

const mongoOpen = (
  transactions: 'auto' | 'off',
  dbName: string,
  log?: (message: string) => void,
  uri = testEnv('TEST_MONGODB_URI'),
) =>
  createStore({
    adapter: 'mongo',
    uri,
    dbName,
    transactions,
    ...(log ? { log } : {}),
  });
const mongo = (transactions: 'auto' | 'off') => (log?: (message: string) => void) =>
  mongoOpen(transactions, `consistency_${runId}_${++opened}`, log);
const mongoReopen = (transactions: 'auto' | 'off') => () =>
  mongoOpen(transactions, `consistency_${runId}_${opened}`);
const sqlitePath = () => join(tempDir, `store-${opened}.db`);

const variants: [string, Variant][] = [
  [
    'sqlite',
    {
      name: 'sqlite',
      atomic: true,
      snapshotSearch: true,
      open: () => {
        ++opened;
        return createStore({ adapter: 'sqlite', path: sqlitePath() });
      },
      reopen: () => createStore({ adapter: 'sqlite', path: sqlitePath() }),
    },
  ],
  [
    'mongo (transactions)',
    {
      name: 'mongo',
      atomic: true,
      snapshotSearch: true,
      ownServer: true,
      open: mongo('auto'),
      reopen: mongoReopen('auto'),
    },
  ],
  [
    'mongo (sequential)',
    { name: 'mongo', atomic: false, snapshotSearch: false, open: mongo('off'), reopen: mongoReopen('off') },
  ],
];

/** Totals straight from the files; no audit. */
const refresh: TotalsRefresh = (current, files) =>
  current.fileCount === files.fileCount && current.size === files.size
    ? null
    : { record: { ...current, fileCount: files.fileCount, size: files.size } };

describe.each(variants)('%s', (_label, variant) => {
  let store: Store;
  const logged: string[] = [];

  beforeEach(async () => {
    logged.length = 0;
    store = await variant.open((message) => logged.push(message));
  });

  afterEach(async () => {
    await store.close();
  });

  async function seedCascade(): Promise<void> {
    await store.datasets.create(dataset('ds-1'));
    await store.datasets.create(dataset('ds-2'));
    await store.files.upsert(file('f-1', 'a/1.nc'));
    await store.files.upsert(file('f-2', 'a/2.nc'));
    await store.files.upsert(file('f-3', 'b/3.nc', { datasetId: 'ds-2' }));
  }

  async function fileIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const id of ['f-1', 'f-2', 'f-3']) if (await store.files.get(id)) ids.push(id);
    return ids;
  }

  async function auditIds(entityId: string): Promise<string[]> {
    return (await store.audit.list('dataset', entityId, { limit: 10, offset: 0 })).items.map((e) => e.id);
  }

  if (variant.name === 'mongo') {
    it('logs at connect which write mode it uses', () => {
      expect(logged[0]).toMatch(
        variant.atomic
          ? /^MongoDB standalone server accepts transactions: dataset delete cascades and audit batches run as transactions$/
          : /^MongoDB standalone server; MONGODB_TRANSACTIONS=off: .* sequential writes/,
      );
    });
  }

  describe('dataset delete cascade', () => {
    it('deletes the dataset and its files (no one else’s) and appends the audit entry', async () => {
      await seedCascade();
      const removed = await store.deleteDataset('ds-1', 1, [
        auditEntry('del-1', '2024-02-01T00:00:00Z', { action: 'delete' }),
      ]);
      expect(removed).toBe(2);
      expect(await store.datasets.get('ds-1')).toBeNull();
      expect(await store.datasets.get('ds-2')).not.toBeNull();
      expect(await fileIds()).toEqual(['f-3']);
      expect(await auditIds('ds-1')).toEqual(['del-1']);
    });

    it('writes nothing when the revision is stale (PreconditionFailedError)', async () => {
      await seedCascade();
      await expect(
        store.deleteDataset('ds-1', 7, [auditEntry('del-1', '2024-02-01T00:00:00Z')]),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store.datasets.get('ds-1')).toMatchObject({ revision: 1 });
      expect(await fileIds()).toEqual(['f-1', 'f-2', 'f-3']);
      expect(await auditIds('ds-1')).toEqual([]);
    });

    if (variant.atomic) {
      it('interrupted by a failing last write (a duplicate audit id) leaves no half state', async () => {
        await seedCascade();
        await store.audit.append([auditEntry('taken', '2024-01-05T00:00:00Z', { entityId: 'ds-2' })]);
        await expect(
          store.deleteDataset('ds-1', 1, [auditEntry('taken', '2024-02-01T00:00:00Z')]),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(await store.datasets.get('ds-1')).toMatchObject({ revision: 1 });
        expect(await fileIds()).toEqual(['f-1', 'f-2', 'f-3']);
        expect(await auditIds('ds-1')).toEqual([]);
        // And the same delete, once the audit entry can be written, goes through whole.
        expect(await store.deleteDataset('ds-1', 1, [auditEntry('del-1', '2024-02-01T00:00:00Z')])).toBe(2);
      });
    } else {
      it('interrupted by a failing last write keeps the writes before it (the documented sequential limit)', async () => {
        await seedCascade();
        await store.audit.append([auditEntry('taken', '2024-01-05T00:00:00Z', { entityId: 'ds-2' })]);
        await expect(
          store.deleteDataset('ds-1', 1, [auditEntry('taken', '2024-02-01T00:00:00Z')]),
        ).rejects.toBeInstanceOf(ConflictError);
        // Dataset first, then files, then audit: what is left is a deleted dataset without its entry.
        expect(await store.datasets.get('ds-1')).toBeNull();
        expect(await fileIds()).toEqual(['f-3']);
        expect(await auditIds('ds-1')).toEqual([]);
      });
    }
  });

  describe('audit batches', () => {
    it('store none of a batch whose third entry is a duplicate (ConflictError)', async () => {
      await store.audit.append([auditEntry('a-0', '2024-01-01T00:00:00Z', { entityId: 'ds-9' })]);
      await expect(
        store.audit.append([
          auditEntry('a-1', '2024-01-02T00:00:00Z'),
          auditEntry('a-2', '2024-01-03T00:00:00Z'),
          auditEntry('a-0', '2024-01-04T00:00:00Z'),
          auditEntry('a-3', '2024-01-05T00:00:00Z'),
        ]),
      ).rejects.toBeInstanceOf(ConflictError);
      // Sequential, a real mongod keeps a-1 and a-2 (an ordered insert stops at the duplicate);
      // the test server undoes the whole command, so only the transactional variants assert it.
      if (variant.atomic) expect(await auditIds('ds-1')).toEqual([]);
      expect(await auditIds('ds-9')).toEqual(['a-0']);
    });
  });

  describe('a search racing with dataset creates from a second store', () => {
    const CREATES = 50;
    // 50 paced rounds took 14-18 s at load 10-18 with transactions (every search counts while a write is in flight).
    const RACE_TIMEOUT = 120_000;
    const query: DatasetQuery = {
      access: EVERYTHING,
      facets: { experiment: ['race'] },
      facetCounts: ['model'],
      limit: CREATES * 2,
    };

    let own: Started | null = null;
    beforeAll(async () => {
      if (variant.ownServer) own = await startJongodb();
    });
    afterAll(() => {
      own?.process.kill();
    });
    const openOwn = (url: string) => mongoOpen('auto', `race_${runId}_${opened}`, undefined, url);

    const disagreement = (result: DatasetSearchResult): string | null => {
      const counted = (result.facets.model ?? []).reduce((sum, c) => sum + c.count, 0);
      return result.total === result.items.length && counted === result.total
        ? null
        : `total ${result.total}, items ${result.items.length}, counts ${counted}`;
    };

    /**
     * CREATES rounds, each one create from another store with searches
     * started beside it and repeated until it is done (so at least one per
     * create, however loaded the machine: the writer never runs ahead of the
     * searches). Started together, a search's total, page and counts queries
     * go out just when the create's insert does (each first awaits one
     * counter command), so a search that does not read one moment disagrees
     * with itself in a good part of the rounds. What disagreed.
     */
    async function race(): Promise<{ searches: number; disagreements: string[] }> {
      const reader = own ? await openOwn(own.url) : store;
      const writer = own ? await openOwn(own.url) : await variant.reopen();
      const disagreements: string[] = [];
      let searches = 0;
      try {
        for (let i = 0; i < CREATES; i++) {
          let creating = true;
          const create = writer.datasets
            .create(
              dataset(`race-${String(i).padStart(2, '0')}`, {
                facets: { project: 'CMIP5', model: `m${i % 3}`, experiment: 'race', variable: ['tas'] },
              }),
            )
            .finally(() => (creating = false));
          do {
            const wrong = disagreement(await reader.datasets.search(query));
            searches++;
            if (wrong) disagreements.push(`round ${i}: ${wrong}`);
            // Let the create's callbacks run before deciding whether to search again.
            await new Promise((resolve) => setImmediate(resolve));
          } while (creating);
          await create;
        }
        const final = await reader.datasets.search(query);
        expect([final.total, final.items.length]).toEqual([CREATES, CREATES]);
      } finally {
        await writer.close();
        if (reader !== store) await reader.close();
      }
      return { searches, disagreements };
    }

    if (variant.snapshotSearch) {
      it(
        'always returns a total, items and facet counts of one moment',
        async () => {
          const { searches, disagreements } = await race();
          expect(searches).toBeGreaterThanOrEqual(CREATES);
          expect(disagreements).toEqual([]);
        },
        RACE_TIMEOUT,
      );
    } else {
      it(
        'returns every dataset once the writes are done (total, page and counts are three moments)',
        async () => {
          const { searches, disagreements } = await race();
          expect(searches).toBeGreaterThanOrEqual(CREATES);
          // Not a snapshot: seen disagreeing on the test server (README, Consistency); reported, not required.
          process.stdout.write(`sequential search race: ${disagreements.length} of ${searches} disagreed\n`);
        },
        RACE_TIMEOUT,
      );
    }
  });

  describe('concurrent registrations of one location', () => {
    const ROUNDS = 6;

    it('move the file to one dataset and leave every dataset’s totals right (no lost update)', async () => {
      for (const id of ['ds-x', 'ds-y', 'ds-z'])
        await store.datasets.create(dataset(id, { fileCount: 0, size: 0 }));
      for (let round = 0; round < ROUNDS; round++) {
        const path = `race/${round}.nc`;
        await store.files.register(file(`r-${round}`, path, { datasetId: 'ds-x', size: 10 }), refresh);
        // Two ingests of the same path at once, each moving it elsewhere with other contents.
        const [y, z] = await Promise.all([
          store.files.register(
            file(`y-${round}`, path, {
              datasetId: 'ds-y',
              size: 20,
              mtime: `2024-03-0${round + 1}T00:00:00Z`,
            }),
            refresh,
          ),
          store.files.register(
            file(`z-${round}`, path, {
              datasetId: 'ds-z',
              size: 30,
              mtime: `2024-04-0${round + 1}T00:00:00Z`,
            }),
            refresh,
          ),
        ]);
        expect([y.outcome, z.outcome]).toEqual(['changed', 'changed']);
        const stored = await store.files.findByLocation({ root: 'data', path });
        expect(stored).toMatchObject({ id: `r-${round}`, status: 'present' });
        // Whoever wrote last, the loser's move must be seen: exactly one of them moved it from x.
        expect([y.previousDatasetId, z.previousDatasetId].sort()).toEqual(
          stored!.datasetId === 'ds-y' ? ['ds-x', 'ds-z'] : ['ds-x', 'ds-y'],
        );
      }
      // Every dataset's totals are what its present files add up to.
      for (const id of ['ds-x', 'ds-y', 'ds-z']) {
        const files = await store.files.aggregate(id);
        const record = await store.datasets.get(id);
        expect({ id, fileCount: record!.fileCount, size: record!.size }).toEqual({
          id,
          fileCount: files.fileCount,
          size: files.size,
        });
      }
      expect((await store.files.aggregate('ds-x')).fileCount).toBe(0);
    });

    it('of a new path: one is new, the other is planned against it', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const path = `fresh/${round}.nc`;
        const outcomes: FileUpsertOutcome[] = await Promise.all([
          store.files.upsert(file(`p-${round}`, path, { size: 1 })),
          store.files.upsert(file(`q-${round}`, path, { size: 2 })),
        ]);
        expect([...outcomes].sort()).toEqual(['changed', 'new']);
        const stored = await store.files.findByLocation({ root: 'data', path });
        // The first insert's id survives; the contents are the second writer's.
        expect([`p-${round}`, `q-${round}`]).toContain(stored!.id);
        expect(stored!.size).toBe(outcomes[0] === 'new' ? 2 : 1);
      }
    });
  });
});
