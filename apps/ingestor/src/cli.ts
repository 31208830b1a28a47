/**
 * Operator CLI: `npm run ingest -- <dir | s3://bucket/prefix> [--dry-run]`.
 * Runs a scan in-process against the configured store (or on the bull
 * workers when REDIS_URL is set), with a progress bar and a summary table.
 */
import { NestFactory } from '@nestjs/core';
import { SYSTEM, STORE, type ScanRecord, type Store } from '@climcat/core';
import { ConfigError, loadConfig, rootModule, StorageService, type AppConfig } from '@climcat/platform';
import { SingleBar, Presets } from 'cli-progress';
import { resolve, relative, sep } from 'node:path';
import { FileIngestService } from './files/file-ingest.service';
import { IngestorModule } from './ingestor.module';
import { ScanService, unchanged } from './scans/scan.service';

interface Target {
  root: string;
  prefix: string;
}

export function parseArgs(argv: string[]): { target: string; dryRun: boolean } {
  const dryRun = argv.includes('--dry-run');
  const rest = argv.filter((a) => a !== '--dry-run');
  const unknown = rest.filter((a) => a.startsWith('--'));
  if (unknown.length) throw new Error(`unknown option ${unknown.join(', ')}`);
  if (rest.length !== 1) throw new Error('usage: npm run ingest -- <dir | s3://bucket/prefix> [--dry-run]');
  return { target: rest[0]!, dryRun };
}

/** Maps a directory or s3:// URL onto a configured root and a prefix below it. */
export function resolveTarget(config: AppConfig, target: string): Target {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(target);
  if (s3) {
    const [, bucket, key] = s3;
    // The root with the longest prefix holding the key (prefix "p" does not hold "p2/...").
    const root = config.roots
      .flatMap((r) =>
        r.kind === 's3' &&
        r.bucket === bucket &&
        (!r.prefix || key === r.prefix || key!.startsWith(`${r.prefix}/`))
          ? [r]
          : [],
      )
      .sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (!root) {
      throw new Error(
        `bucket ${bucket} is not a configured root: set S3_ENDPOINT/S3_BUCKET or ROOTS=name=s3://${bucket}`,
      );
    }
    return {
      root: root.name,
      prefix: root.prefix ? key!.slice(root.prefix.length).replace(/^\/+/, '') : key!.replace(/\/+$/, ''),
    };
  }
  const dir = resolve(target);
  for (const root of config.roots) {
    if (root.kind !== 'posix') continue;
    const rel = relative(root.dir, dir);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..')) {
      return { root: root.name, prefix: rel.split(sep).join('/') };
    }
  }
  const known = config.roots
    .map((r) => `${r.name}=${r.kind === 'posix' ? r.dir : `s3://${r.bucket}`}`)
    .join(', ');
  throw new Error(`${dir} is not under a configured root (${known}); add it with ROOTS=name=${dir}`);
}

function human(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function summary(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const valueWidth = Math.max(...rows.map(([, v]) => String(v).length));
  const line = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  return [
    line,
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${String(v).padStart(valueWidth)} |`),
    line,
  ].join('\n');
}

async function main(): Promise<number> {
  let args: { target: string; dryRun: boolean };
  let config: AppConfig;
  try {
    args = parseArgs(process.argv.slice(2));
    config = loadConfig('ingestor', { LOG_LEVEL: 'warn', ...process.env, SCAN_ON_BOOT: 'false' });
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
    return 2;
  }
  const app = await NestFactory.createApplicationContext(rootModule(config, [IngestorModule]), {
    logger: ['error', 'warn'],
  });
  try {
    await app.init();
    const target = resolveTarget(config, args.target);
    const storage = app.get(StorageService);
    const store = app.get<Store>(STORE);
    const started = Date.now();
    process.stdout.write(`Counting files under ${target.root}/${target.prefix} …\n`);
    let total = 0;
    for await (const _ of storage.list(target.root, target.prefix)) total++;
    const bar = new SingleBar(
      {
        format: ' {bar} {percentage}% | {value}/{total} files | {rate} files/s | ETA {eta_formatted}',
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    let final: Pick<ScanRecord, 'counts' | 'bytes' | 'errors'>;
    if (args.dryRun) {
      final = await dryRun(
        app.get(FileIngestService),
        storage,
        store,
        target,
        (seen) => bar.update(seen, { rate: rate(seen, started) }),
        () => bar.start(total, 0, { rate: 0 }),
      );
    } else {
      const scans = app.get(ScanService);
      const scan = await scans.start(SYSTEM, target.root, target.prefix);
      bar.start(total, 0, { rate: 0 });
      let current = scan;
      while (current.state === 'queued' || current.state === 'running') {
        await new Promise((r) => setTimeout(r, 250));
        current = (await store.scans.get(scan.id)) ?? current;
        bar.update(current.counts.seen, { rate: rate(current.counts.seen, started) });
      }
      final = current;
      if (current.state !== 'completed')
        process.stderr.write(`\nscan ${current.state}: ${current.message ?? ''}\n`);
    }
    bar.update(final.counts.seen, { rate: rate(final.counts.seen, started) });
    bar.stop();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `${summary([
        [args.dryRun ? 'would be (dry run)' : 'result', `${target.root}/${target.prefix}`],
        ['seen', final.counts.seen],
        ['new', final.counts.new],
        ['changed', final.counts.changed],
        ['unchanged', final.counts.unchanged],
        ['removed', final.counts.removed],
        ['failed', final.counts.failed],
        ['bytes', human(final.bytes)],
        ['seconds', seconds.toFixed(1)],
        ['files/s', (final.counts.seen / Math.max(seconds, 0.001)).toFixed(1)],
      ])}\n`,
    );
    for (const e of final.errors.slice(0, 20)) process.stdout.write(`  failed: ${e.path}: ${e.reason}\n`);
    return final.counts.failed > 0 ? 1 : 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  } finally {
    await app.close();
  }
}

function rate(seen: number, started: number): string {
  return (seen / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(1);
}

/** What a scan would do: compares sizes/mtimes, reads headers of new or changed files, writes nothing. */
async function dryRun(
  files: FileIngestService,
  storage: StorageService,
  store: Store,
  target: Target,
  progress: (seen: number) => void,
  begin: () => void,
): Promise<Pick<ScanRecord, 'counts' | 'bytes' | 'errors'>> {
  begin();
  const root = storage.root(target.root);
  const counts = { seen: 0, new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 };
  const errors: ScanRecord['errors'] = [];
  let bytes = 0;
  const seen = new Set<string>();
  for await (const object of storage.list(target.root, target.prefix)) {
    counts.seen++;
    bytes += object.size;
    seen.add(object.path);
    const known = await store.files.findByLocation(storage.locate(root.name, object.path));
    if (known && unchanged(known, object)) {
      counts.unchanged++;
    } else {
      try {
        await files.inspect(target.root, object);
        counts[known?.status === 'present' ? 'changed' : 'new']++;
      } catch (error) {
        counts.failed++;
        if (errors.length < 1000) errors.push({ path: object.path, reason: (error as Error).message });
      }
    }
    progress(counts.seen);
  }
  for await (const batch of store.files.iterateByRoot(root.name, target.prefix)) {
    counts.removed += batch.filter((f) => !seen.has(f.location.path)).length;
  }
  return { counts, bytes, errors };
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
