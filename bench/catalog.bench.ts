/**
 * Catalog search benchmark on the sqlite adapter (standalone store):
 * 100k datasets / 1M files of CMIP5 / CORDEX shape, then over HTTP:
 * facet search (3 filters + 8 facet counts), free text, get-by-id p50/p95,
 * and get-by-id requests/s against a bare Node HTTP server returning the
 * same JSON in the same run. For scale, the same requests/s of the bare
 * framework (Nest on Fastify, one route answering the same JSON, nothing
 * else) show how much of the gap the framework alone takes, and those of
 * climcat's own HTTP stack (every hook, the auth guard, pipe and filter)
 * with a handler that answers the same JSON without reading the store show
 * what is left for the handler itself.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/catalog.bench.ts [datasets] [filesPerDataset]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Module, Param, Res, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { Caller } from '@climcat/platform';
import type { Principal } from '@climcat/core';
import { catalogQueries, serveCatalog } from './catalog-data';
import { seededCatalog } from './catalog-seed';
import { bareJsonServer, fmt, interleavedThroughput, latencies, peakRssMb } from './lib';

const DATASETS = Number(process.argv[2] ?? 100_000);
const FILES_PER = Number(process.argv[3] ?? 10);

async function main(): Promise<void> {
  const { state, ids, cleanup } = await seededCatalog(DATASETS, FILES_PER);
  // The bench's own share: the seeding (or regenerating the ids of a kept store) and the ids.
  global.gc?.();
  const rssBeforeApp = process.memoryUsage().rss / 2 ** 20;
  const peakBeforeApp = peakRssMb();
  const { app, admin, get } = await serveCatalog({ STATE_DIR: state, LOG_LEVEL: 'silent' });
  const { facet, text, byId } = catalogQueries(ids);

  const results: Record<string, unknown> = {};
  // BENCH_CATALOG_ONLY=byid measures only the get-by-id throughput (to iterate on per-request cost).
  const onlyById = process.env.BENCH_CATALOG_ONLY === 'byid';
  const none = { p50: NaN, p95: NaN, p99: NaN, mean: NaN };
  results.facetSearchAnonymous = onlyById ? none : await latencies(200, (i) => get(facet(i)));
  results.facetSearchAdmin = onlyById ? none : await latencies(200, (i) => get(facet(i), admin));
  results.freeText = onlyById ? none : await latencies(200, (i) => get(text(i)));
  results.getById = onlyById ? none : await latencies(500, (i) => get(byId(i), admin));
  const sample = await get(byId(1), admin);
  const bare = await bareJsonServer(sample);
  const floor = await NestFactory.create(frameworkFloor(JSON.parse(sample)), new FastifyAdapter(), {
    logger: false,
  });
  await floor.listen(0, '127.0.0.1');
  const floorBase = `http://127.0.0.1:${(floor.getHttpServer().address() as { port: number }).port}`;
  const stackState = mkdtempSync(join(tmpdir(), 'climcat-bench-stack-'));
  const stack = await serveCatalog({ STATE_DIR: stackState, LOG_LEVEL: 'silent' }, [
    stackCeiling(JSON.parse(sample)),
  ]);
  // The same client code and the same request (path and Authorization header) for every server;
  // alternating slices so that load from other processes hits all alike.
  const same = async (base: string, i: number) =>
    (await fetch(`${base}${byId(i)}`, { headers: admin })).text();
  const rps = await interleavedThroughput(
    {
      climcat: (i) => get(byId(i), admin),
      bareNode: (i) => same(bare.base, i),
      framework: (i) => same(floorBase, i),
      stack: (i) => same(stack.base, i),
    },
    10,
    0.5,
    16,
  );
  const appRps = rps.climcat;
  const bareRps = rps.bareNode;
  results.getByIdRps = {
    ...rps,
    ratio: appRps / bareRps,
    frameworkRatio: rps.framework / bareRps,
    stackRatio: rps.stack / bareRps,
  };
  await stack.app.close();
  rmSync(stackState, { recursive: true, force: true });
  await floor.close();
  bare.server.close();
  global.gc?.();
  const rssAfter = process.memoryUsage().rss / 2 ** 20;
  await app.close();

  const lat = (name: string) => results[name] as { p50: number; p95: number };
  process.stdout.write(
    [
      '',
      `catalog bench: ${DATASETS} datasets, ${DATASETS * FILES_PER} files, sqlite adapter, 2 cores`,
      `  facet search (3 filters + 8 facet counts), anonymous: p50 ${fmt(lat('facetSearchAnonymous').p50)} ms, p95 ${fmt(lat('facetSearchAnonymous').p95)} ms (goal p95 ≤ 100 ms)`,
      `  facet search, admin (no access filter):              p50 ${fmt(lat('facetSearchAdmin').p50)} ms, p95 ${fmt(lat('facetSearchAdmin').p95)} ms`,
      `  free text (2 terms):                                 p50 ${fmt(lat('freeText').p50)} ms, p95 ${fmt(lat('freeText').p95)} ms`,
      `  get by id:                                           p50 ${fmt(lat('getById').p50)} ms, p95 ${fmt(lat('getById').p95)} ms`,
      `  get by id throughput: ${fmt(appRps, 0)} req/s vs bare Node ${fmt(bareRps, 0)} req/s = ${fmt(appRps / bareRps, 2)}× (goal ≥ 0.7)`,
      `    bare framework (Nest on Fastify, one route, same JSON): ${fmt(rps.framework, 0)} req/s = ${fmt(rps.framework / bareRps, 2)}×`,
      `    climcat's stack (hooks, auth guard, pipe, filter), handler reading nothing: ${fmt(rps.stack, 0)} req/s = ${fmt(rps.stack / bareRps, 2)}×`,
      `    per request, client included (1 / rate): bare ${us(bareRps)} µs, framework ${us(rps.framework)}, stack ${us(rps.stack)}, climcat ${us(appRps)};`,
      `    at 0.7× a request may take ${fmt(1e6 / (0.7 * bareRps), 0)} µs: ${fmt(1e6 / (0.7 * bareRps) - 1e6 / rps.stack, 0)} µs for the handler (store read, access check, mapping), which takes ${fmt(1e6 / appRps - 1e6 / rps.stack, 0)} µs`,
      `  peak RSS ${fmt(peakRssMb(), 0)} MB (${fmt(peakBeforeApp, 0)} MB before the app started; RSS then ${fmt(rssBeforeApp, 0)} MB, after the queries ${fmt(rssAfter, 0)} MB)`,
      '',
    ].join('\n'),
  );
  cleanup();
}

/** Microseconds per request at `rate` requests/s. */
const us = (rate: number) => fmt(1e6 / rate, 0);

/** Nest on Fastify with one route answering `body` at the get-by-id path: no hook, guard, pipe or store. */
function frameworkFloor(body: unknown): Type {
  @Controller('api/v1/datasets')
  class FloorController {
    @Get(':id')
    get(@Param('id') _id: string): unknown {
      return body;
    }
  }
  @Module({ controllers: [FloorController] })
  class FloorModule {}
  return FloorModule;
}

/**
 * The get-by-id route as climcat declares it (caller, id, ETag) answering `body` without a store
 * read, access check or mapping: served by createApp, so every hook, guard, pipe and filter of
 * the catalog runs as for the real route.
 */
function stackCeiling(body: unknown): Type {
  @Controller('api/v1/datasets')
  class CeilingController {
    @Get(':id')
    get(
      @Caller() _caller: Principal,
      @Param('id') _id: string,
      @Res({ passthrough: true }) res: FastifyReply,
    ): unknown {
      void res.header('ETag', '"1"');
      return body;
    }
  }
  @Module({ controllers: [CeilingController] })
  class CeilingModule {}
  return CeilingModule;
}

void main();
