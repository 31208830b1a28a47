/** Small helpers shared by the benchmarks: timing, percentiles, load loops, output. */
import { prng } from '../test/harness/random';
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Sequential latency of `count` calls (ms), after `warmup` unmeasured ones. */
export async function latencies(
  count: number,
  call: (i: number) => Promise<unknown>,
  warmup = 20,
): Promise<{ p50: number; p95: number; p99: number; mean: number }> {
  for (let i = 0; i < warmup; i++) await call(i);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

/** Requests per second with `concurrency` loops for `seconds`. */
export async function throughput(
  seconds: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        await call(i);
        i += concurrency;
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

/**
 * Requests per second of several targets measured in alternating slices of
 * `sliceSeconds` (each target first gets one unmeasured slice), so that load
 * from other processes drifting during the run hits every target alike.
 * Returns each target's median over `rounds` slices.
 */
export async function interleavedThroughput<K extends string>(
  targets: Record<K, (i: number) => Promise<unknown>>,
  rounds: number,
  sliceSeconds: number,
  concurrency: number,
): Promise<Record<K, number>> {
  const names = Object.keys(targets) as K[];
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  for (const name of names) await throughput(sliceSeconds, concurrency, targets[name]);
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so no target always runs right after the same other one.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!;
      samples.get(name)!.push(await throughput(sliceSeconds, concurrency, targets[name]));
    }
  }
  return Object.fromEntries(
    names.map((name) => [
      name,
      percentile(
        [...samples.get(name)!].sort((a, b) => a - b),
        50,
      ),
    ]),
  ) as Record<K, number>;
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export { prng };

// The CMIP5 tas fixture is shared with the e2e suites.
export { CMIP5_TAS_VARIABLES, cmip5Globals } from '../test/harness/cmip5';

/** The median of a list of numbers (any order). */
export const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** Alternates `a` and `b` `reps` times (after one unmeasured run of each); the medians of their results. */
export async function alternateMedians(
  reps: number,
  a: () => Promise<number> | number,
  b: () => Promise<number> | number,
): Promise<[number, number]> {
  await a();
  await b();
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  return [median(as), median(bs)];
}

/**
 * A bare Node HTTP server answering `body` as JSON to every request, whatever its path and
 * headers: the baseline of request rates. Send it the very request the measured server gets
 * (`base` + the same path, the same headers), so that the client's share is the same for both.
 */
export async function bareJsonServer(body: string): Promise<{ base: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}
