/**
 * Where the sqlite facet search spends its time, statement by statement, on a
 * store seeded by catalog.bench.ts (BENCH_STATE_DIR): the query plans and the
 * p50 of each statement the adapter runs for the bench's facet search.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/catalog-profile.ts <dir>/catalog.sqlite
 */
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { createStore } from '@climcat/store';
import type { AccessFilter, DatasetQuery } from '@climcat/core';
import { planSearch } from '../libs/store/src/shared/search-plan';
import { datasetCondition } from '../libs/store/src/sqlite/sqlite-dataset-filter';

const path = process.argv[2]!;
const EXPERIMENTS = ['historical', 'rcp26', 'rcp45', 'rcp60', 'rcp85', 'piControl', 'amip', 'abrupt4xCO2'];
const VARIABLES = ['tas', 'pr', 'psl', 'uas', 'vas', 'huss', 'tasmax', 'tasmin', 'rsds', 'rlds'];
const FACETS = [
  'model',
  'institute',
  'time_frequency',
  'realm',
  'cmor_table',
  'ensemble',
  'experiment',
  'variable',
];

function query(i: number, access: AccessFilter): DatasetQuery {
  return {
    access,
    facets: { project: ['CMIP5'], experiment: [EXPERIMENTS[i % 8]!], variable: [VARIABLES[i % 10]!] },
    facetCounts: FACETS as DatasetQuery['facetCounts'],
    limit: 20,
  };
}

function p50(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  return `p50 ${s[Math.floor(s.length / 2)]!.toFixed(2)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const db = new Database(path, { readonly: true });
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  const orders: [string, number[]][] = [
    ['variable first', [2, 1, 0]],
    ['project first', [0, 1, 2]],
  ];
  for (const [label, access, order] of [
    ['anonymous, variable first', { everything: false, groups: [] }, orders[0]![1]],
    ['curator, variable first', { everything: true, groups: [] }, orders[0]![1]],
    ['anonymous, project first', { everything: false, groups: [] }, orders[1]![1]],
  ] as [string, AccessFilter, number[]][]) {
    const plan = planSearch(query(0, access));
    // the adapter drives the query by the first facet filter
    plan.facets = order.map((k) => plan.facets[k]!);
    const where = datasetCondition(plan);
    const sqls: Record<string, string> = {
      count: `SELECT count(*) FROM datasets d WHERE ${where.sql}`,
      codes: `SELECT d.facet_codes FROM datasets d WHERE ${where.sql}`,
      page: `SELECT d.pk FROM datasets d WHERE ${where.sql} ORDER BY d.dataset_id ASC, d.id ASC LIMIT 21 OFFSET 0`,
    };
    for (const [name, sql] of Object.entries(sqls)) {
      process.stdout.write(`\n[${label}] ${name}: ${sql}\n`);
      for (const row of db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...where.params) as {
        detail: string;
        id: number;
        parent: number;
      }[])
        process.stdout.write(`   ${row.parent}/${row.id} ${row.detail}\n`);
      const st = db.prepare(sql);
      const times: number[] = [];
      let n = 0;
      for (let i = 0; i < 30; i++) {
        const p = planSearch(query(i, access));
        p.facets = order.map((k) => p.facets[k]!);
        const w = datasetCondition(p);
        const t = performance.now();
        n = st.raw().all(...w.params).length;
        times.push(performance.now() - t);
      }
      process.stdout.write(`   rows ${n}; ${p50(times)}\n`);
    }
  }
  db.close();
  const store = await createStore({ adapter: 'sqlite', path });
  for (const [label, access] of [
    ['anonymous', { everything: false, groups: [] }],
    ['curator', { everything: true, groups: [] }],
  ] as [string, AccessFilter][]) {
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      total = (await store.datasets.search(query(i, access))).total;
      times.push(performance.now() - t);
    }
    process.stdout.write(`\nstore.search [${label}] total ${total}: ${p50(times)}\n`);
  }
  await store.close();
}

void main();
