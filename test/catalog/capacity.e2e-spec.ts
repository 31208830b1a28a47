/**
 * Capacity across tiers and the availability plan over HTTP, on both store
 * adapters: per-selection bytes/files (file time coverage against the
 * interval, each file once), cumulative totals against the standard tier's
 * room after derived and scratch needs, and apply (dry run first, curators,
 * audited through the dataset rules).
 */
import { STORE, type Store } from '@climcat/core';
import { ADMIN, startApp, type RunningApp } from '../harness/app';
import { testEnv } from '../harness/env';
import { api, bearer, seedCatalog, type Seeded } from './seed';

jest.setTimeout(120_000);

const MB = 1_000_000;
const H45 = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';
const H85 = 'cmip5.output1.MOHC.HadGEM2-ES.rcp85.mon.atmos.Amon.r1i1p1.v20111128';
const HIST = 'cmip5.output1.MOHC.HadGEM2-ES.historical.mon.atmos.Amon.r1i1p1.v20110916';
const CORDEX = 'cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas.v20131026';
const DERIVED = 'pacific-sst-anomaly.v1';

// 10 MB in all; derived uses 3 MB (its seeded files), scratch reserves 2 MB: the standard tier has 5 MB.
const BUDGETS = { CAPACITY_TOTAL: '10000000', CAPACITY_SCRATCH: '2000000' };

const SELECTIONS = [
  // 3 files (the whole dataset).
  { name: 'HadGEM2-ES rcp45', query: { model: 'HadGEM2-ES', experiment: 'rcp45' } },
  // 1 file: only 2006-01..2030-12 overlaps 2006..2030 (its 2031-2055 and 2056-2099 files do not).
  {
    name: 'HadGEM2-ES rcp85 tas near term',
    query: {
      facets: { model: 'HadGEM2-ES', experiment: 'rcp85' },
      variables: ['tas'],
      start: '2006',
      end: '2030',
    },
  },
  // rcp85: HadGEM2-ES (2 new, 1 already counted) + EC-EARTH pr (3) + CORDEX (2) = 7 new files.
  { name: 'all rcp85', query: { experiment: 'rcp85', kind: 'standard' } },
  // CORDEX's 2006-2010 file is already counted.
  { name: 'CORDEX early', query: { project: 'CORDEX', start: '2006-01', end: '2010-12' } },
];

function suite(label: string, env: () => Record<string, string>): void {
  describe(`capacity on ${label}`, () => {
    let running: RunningApp;
    let keys: Seeded;

    beforeAll(async () => {
      running = await startApp({ env: { ...BUDGETS, ...env() } });
      keys = await seedCatalog(running);
    });
    afterAll(() => running.close());

    const curator = () => bearer(keys.curatorKey);
    const availability = async (id: string) =>
      (await api(running, 'GET', `/api/v1/datasets/${id}`, { headers: ADMIN })).body.availability as string;
    /** Availability of a dataset's files, in path order. */
    const fileAvailability = async (id: string) =>
      (await api(running, 'GET', `/api/v1/datasets/${id}/files`, { headers: ADMIN })).body.items.map(
        (f: { availability: string }) => f.availability,
      ) as string[];

    it('reports tiers against budgets with the standard room and the measured scratch tier', async () => {
      const res = await api(running, 'GET', '/api/v1/capacity', { headers: curator() });
      expect(res.status).toBe(200);
      expect(res.body.totalBudget).toBe(10 * MB);
      const tier = (kind: string) => res.body.tiers.find((t: { kind: string }) => t.kind === kind);
      expect(tier('standard')).toMatchObject({ bytes: 17 * MB, files: 17, datasets: 6, source: 'catalog' });
      expect(tier('derived')).toMatchObject({ bytes: 3 * MB, files: 3, datasets: 1 });
      expect(tier('scratch')).toMatchObject({ source: 'scratch-usage', budget: 2 * MB, bytes: 0 });
      expect(res.body.standard).toEqual({
        standardBudget: 10 * MB,
        derivedNeed: 3 * MB,
        scratchNeed: 2 * MB,
        room: 5 * MB,
      });
      expect(res.body.scratch).toMatchObject({ users: 0, measured: 0 });
    });

    it('gives the scratch tier a trend from the daily usage history', async () => {
      const store = running.app.get<Store>(STORE);
      const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
      // Two users, three days: 1, 2 then 3 MB in all (+1 MB a day).
      for (const [ago, alice, bob] of [
        [2, 1, 0],
        [1, 1.5, 0.5],
        [0, 2, 1],
      ] as const)
        for (const [name, mb] of [
          ['alice', alice],
          ['bob', bob],
        ] as const)
          await store.usageHistory.putPoint({
            kind: 'user',
            name,
            day: day(ago),
            bytes: mb * MB,
            files: 1,
            at: `${day(ago)}T12:00:00.000Z`,
          });
      const res = await api(running, 'GET', '/api/v1/capacity', { headers: curator() });
      const scratch = res.body.tiers.find((t: { kind: string }) => t.kind === 'scratch');
      expect(scratch.trend).toEqual({ days: 2, bytesPerDay: 1 * MB });
      // The other tiers keep no daily series: no trend rather than a made-up one.
      expect(res.body.tiers.find((t: { kind: string }) => t.kind === 'standard').trend).toBeUndefined();
    });

    it('answers bytes, files, cumulative totals and fits per selection, each file counted once', async () => {
      const res = await api(running, 'POST', '/api/v1/capacity/plan', {
        headers: curator(),
        body: { selections: SELECTIONS },
      });
      expect(res.status).toBe(200);
      expect(res.body.budget.room).toBe(5 * MB);
      expect(res.body.selections).toEqual([
        {
          name: 'HadGEM2-ES rcp45',
          datasets: 1,
          files: 3,
          bytes: 3 * MB,
          sharedFiles: 0,
          cumulativeFiles: 3,
          cumulativeBytes: 3 * MB,
          fits: true,
        },
        {
          name: 'HadGEM2-ES rcp85 tas near term',
          datasets: 1,
          files: 1,
          bytes: MB,
          sharedFiles: 0,
          cumulativeFiles: 4,
          cumulativeBytes: 4 * MB,
          fits: true,
        },
        {
          name: 'all rcp85',
          datasets: 3,
          files: 7,
          bytes: 7 * MB,
          sharedFiles: 1,
          cumulativeFiles: 11,
          cumulativeBytes: 11 * MB,
          fits: false,
        },
        {
          name: 'CORDEX early',
          datasets: 1,
          files: 0,
          bytes: 0,
          sharedFiles: 1,
          cumulativeFiles: 11,
          cumulativeBytes: 11 * MB,
          fits: false,
        },
      ]);
      expect(res.body).toMatchObject({ totalBytes: 11 * MB, fitsAll: false });
    });

    it('apply is a dry run by default and changes nothing', async () => {
      const res = await api(running, 'POST', '/api/v1/capacity/plan/apply', {
        headers: curator(),
        body: { selections: SELECTIONS },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        dryRun: true,
        datasets: { online: 1, partial: 1, offline: 4 },
        files: { in: 4, out: 13, changed: 13 },
        changed: 5,
        unchanged: 1,
        failed: [],
      });
      expect(await availability(H85)).toBe('online');
      expect(await availability(HIST)).toBe('online');
      expect(await fileAvailability(HIST)).toEqual(['online', 'online', 'online']);
      const history = await api(running, 'GET', `/api/v1/datasets/${HIST}/history`, { headers: ADMIN });
      expect(history.body.items.some((e: { note?: string }) => e.note === res.body.operationId)).toBe(false);
    });

    it('refuses plans and applies to non-curators', async () => {
      for (const path of ['/api/v1/capacity/plan', '/api/v1/capacity/plan/apply']) {
        const reader = await api(running, 'POST', path, {
          headers: bearer(keys.readerKey),
          body: { selections: SELECTIONS, ...(path.endsWith('apply') ? { dryRun: false } : {}) },
        });
        expect(reader.status).toBe(403);
        expect(reader.headers.get('content-type')).toMatch(/problem\+json/);
      }
      expect(await availability(HIST)).toBe('online');
    });

    it('names the bad member of a plan', async () => {
      const cases: [unknown, string][] = [
        [{ selections: [] }, 'body.selections'],
        [{}, 'body.selections'],
        [{ selections: [{ name: 'x', query: { colour: 'blue' } }] }, 'body.selections[0].query.colour'],
        [
          { selections: [{ name: 'x', query: { facets: { colour: 'blue' } } }] },
          'body.selections[0].query.facets.colour',
        ],
        [
          {
            selections: [
              { name: 'a', query: {} },
              { name: 'b', query: { start: '2050', end: '2010' } },
            ],
          },
          'body.selections[1].query.end',
        ],
        [{ selections: [{ name: 'x', query: { kind: 'archive' } }] }, 'body.selections[0].query.kind'],
        [{ selections: [{ name: '', query: {} }] }, 'body.selections[0].name'],
        [
          {
            selections: [
              { name: 'x', query: {} },
              { name: 'x', query: {} },
            ],
          },
          'body.selections[1].name',
        ],
        [
          { selections: [{ name: 'x', query: { variables: 'tas', start: 2006 } }] },
          'body.selections[0].query.start',
        ],
      ];
      for (const [body, field] of cases) {
        const res = await api(running, 'POST', '/api/v1/capacity/plan', { headers: curator(), body });
        expect({ field, status: res.status }).toEqual({ field, status: 400 });
        expect(JSON.stringify(res.body.errors)).toContain(field);
      }
    });

    it('apply as a curator sets availability in and out of the plan and audits each change', async () => {
      const res = await api(running, 'POST', '/api/v1/capacity/plan/apply', {
        headers: curator(),
        body: { selections: SELECTIONS, dryRun: false },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        dryRun: false,
        datasets: { online: 1, partial: 1, offline: 4 },
        files: { in: 4, out: 13, changed: 13 },
        changed: 5,
        unchanged: 1,
        failed: [],
      });
      expect(res.body.changes).toEqual(
        expect.arrayContaining([
          { id: H85, from: 'online', to: 'partial' },
          { id: HIST, from: 'online', to: 'offline' },
        ]),
      );
      expect(await availability(H45)).toBe('online');
      expect(await availability(H85)).toBe('partial');
      expect(await availability(HIST)).toBe('offline');
      expect(await availability(CORDEX)).toBe('offline');
      // Derived data is not the standard archive's to plan.
      expect(await availability(DERIVED)).toBe('online');
      // Files: the near-term rcp85 file (2006-2030, first in path order) stays online, the rest of its dataset goes.
      expect(await fileAvailability(H45)).toEqual(['online', 'online', 'online']);
      expect(await fileAvailability(H85)).toEqual(['online', 'offline', 'offline']);
      expect(await fileAvailability(HIST)).toEqual(['offline', 'offline', 'offline']);
      expect(await fileAvailability(DERIVED)).toEqual(['online', 'online', 'online']);
      const history = await api(running, 'GET', `/api/v1/datasets/${HIST}/history`, { headers: ADMIN });
      const mine = history.body.items.filter((e: { note?: string }) => e.note === res.body.operationId);
      expect(mine).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            action: 'bulk-update',
            changes: [{ path: '/availability', from: 'online', to: 'offline' }],
          }),
          expect.objectContaining({
            action: 'bulk-update',
            changes: [
              { path: '/files/availability', from: { online: 3, offline: 0 }, to: { online: 0, offline: 3 } },
            ],
          }),
        ]),
      );
      expect(mine).toHaveLength(2);
      // Applying the same plan again changes nothing.
      const again = await api(running, 'POST', '/api/v1/capacity/plan/apply', {
        headers: curator(),
        body: { selections: SELECTIONS, dryRun: false },
      });
      expect(again.body).toMatchObject({ changed: 0, unchanged: 6, files: { changed: 0 } });
    });
  });
}

suite('sqlite', () => ({}));
suite('mongo', () => ({
  MONGODB_URI: testEnv('TEST_MONGODB_URI'),
  MONGODB_DB: `capacity_${process.pid}_${Date.now()}`,
}));
