/**
 * Scratch usage accounting on a generated tree (default 200,000 files in
 * 2,000 directories), as ratios against baselines measured in the same run:
 * - full scan vs `du -s` on the same (warm) tree, goal ≤ 1.5×;
 * - after 1% of the files change, time until the live view (watcher, no
 *   rescan) shows du's new total, goal ≤ 2 s;
 * - memory while scanning, against the number of directories;
 * - purge planning (half the files 100 days old) vs `find -atime +49`, goal ≤ 1.5×.
 * Usage: bench/scratch.bench.ts [files] [directories]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TreeScanner } from '../apps/scratch-quota/src/usage/tree-scan';
import { UsageService } from '../apps/scratch-quota/src/usage/usage.service';
import { SYSTEM_CLOCK } from '../apps/scratch-quota/src/clock';
import { loadConfig, StorageService } from '@climcat/platform';
import { createStore } from '@climcat/store';
import { planPurge } from '../apps/scratch-quota/src/purge/purge-planner';
import { fmt, prng } from './lib';

const FILES = Number(process.argv[2] ?? 200_000);
const DIRS = Number(process.argv[3] ?? 2_000);

function du(path: string): number {
  return Number(execFileSync('du', ['-s', '-B1', path]).toString().split('\t')[0]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const out = fn();
  return [out, performance.now() - t];
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'climcat-bench-scratch-'));
  const random = prng(7);
  const perDir = Math.ceil(FILES / DIRS);
  const dirs: string[] = [];
  process.stdout.write(`generating ${FILES} files in ${DIRS} directories under ${root}…\n`);
  for (let d = 0; d < DIRS; d++) {
    const dir = join(root, `user${d % 50}`, `run${Math.floor(d / 50) % 8}`, `d${d}`);
    mkdirSync(dir, { recursive: true });
    dirs.push(dir);
    for (let f = 0; f < perDir && d * perDir + f < FILES; f++)
      writeFileSync(join(dir, `f${f}.nc`), Buffer.alloc(Math.floor(random() * 12_000)));
  }
  const scanner = new TreeScanner();
  try {
    du(root); // warm the inode cache for both
    await scanner.scan(root);
    const duTimes: number[] = [];
    const scanTimes: number[] = [];
    let duBytes = 0;
    let scanBytes = 0;
    let peakRss = 0;
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) {
      const [b, t] = timed(() => du(root));
      duBytes = b;
      duTimes.push(t);
      const watch = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
      const start = performance.now();
      const result = await scanner.scan(root);
      scanTimes.push(performance.now() - start);
      clearInterval(watch);
      scanBytes = result.totals.bytes;
    }
    const scanMs = median(scanTimes);
    const duMs = median(duTimes);
    process.stdout.write(
      `full scan: ${fmt(scanMs, 0)} ms vs du -s ${fmt(duMs, 0)} ms → ${fmt(scanMs / duMs, 2)}× du (goal ≤ 1.5×); ` +
        `bytes ${scanBytes === duBytes ? 'equal to du' : `DIFFER: ${scanBytes} vs ${duBytes}`}\n`,
    );
    process.stdout.write(
      `memory while scanning: RSS +${fmt((peakRss - rssBefore) / 2 ** 20)} MB over ${DIRS} directories ` +
        `(${fmt((peakRss - rssBefore) / DIRS / 1024, 2)} KB per directory)\n`,
    );

    // The live view as the service runs it: UsageService (one UsageTree over SCRATCH_ROOT), asked as /me asks.
    const state = mkdtempSync(join(tmpdir(), 'climcat-bench-state-'));
    const config = loadConfig('scratch-quota', { SCRATCH_ROOT: root, STATE_DIR: state, LOG_LEVEL: 'silent' });
    const store = await createStore({ adapter: 'sqlite', path: join(state, 'bench.db') });
    const usage = new UsageService(config, new StorageService(config), SYSTEM_CLOCK, store);
    usage.onModuleInit();
    await usage.current('user0');
    const changes = Math.max(1, Math.floor(FILES / 100));
    const start = performance.now();
    for (let i = 0; i < changes; i++) {
      const dir = dirs[Math.floor(random() * dirs.length)]!;
      writeFileSync(join(dir, `f${Math.floor(random() * perDir)}.nc`), Buffer.alloc(20_000 + i));
    }
    const written = performance.now() - start;
    const expected = du(root);
    for (;;) {
      await usage.current('user0');
      if (usage.tree.totals().bytes === expected) break;
      if (performance.now() - start > 60_000)
        throw new Error(`live view never matched du (${usage.tree.totals().bytes} vs ${expected})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const seen = performance.now() - start;
    const me = await usage.current('user0');
    if (me.bytes !== du(join(root, 'user0'))) throw new Error(`/me of user0 ${me.bytes} differs from du`);
    process.stdout.write(
      `live view (UsageService, as /me): ${changes} files (1%) rewritten in ${fmt(written, 0)} ms; usage equal to du ${fmt(seen, 0)} ms after the first write ` +
        `(${fmt((seen - written) / 1000, 2)} s after the last; goal ≤ 2 s, no rescan)\n`,
    );
    await usage.onModuleDestroy();
    await usage.onApplicationShutdown();
    await store.close();
    rmSync(state, { recursive: true, force: true });

    // Purge planning: the older half of the run directories, 100 days unused.
    execFileSync('sh', [
      '-c',
      `find '${root}' -path '*/run[0-3]/*' -type f -exec touch -d '100 days ago' {} +`,
    ]);
    const policy = { maxIdleDays: 56, noticeDays: 7, noatime: false };
    const findArgs = [root, '-type', 'f', '-atime', '+49'];
    execFileSync('find', findArgs, { maxBuffer: 1 << 28 });
    const findTimes: number[] = [];
    const planTimes: number[] = [];
    let found = 0;
    let planned = 0;
    for (let i = 0; i < 3; i++) {
      const [out, t] = timed(() => execFileSync('find', findArgs, { maxBuffer: 1 << 28 }).toString());
      findTimes.push(t);
      found = out.split('\n').filter(Boolean).length;
      const start = performance.now();
      const plan = await planPurge(scanner, root, policy, () => undefined, new Date());
      planTimes.push(performance.now() - start);
      planned = plan.files.length;
    }
    process.stdout.write(
      `purge plan: ${fmt(median(planTimes), 0)} ms vs find -atime ${fmt(median(findTimes), 0)} ms → ` +
        `${fmt(median(planTimes) / median(findTimes), 2)}× find (goal ≤ 1.5×); ${planned} files planned, find lists ${found}\n`,
    );
  } finally {
    await scanner.close();
    rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
