import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CLOCK, type Clock } from '../clock';
import { idleCriterion, planFromIdle, planPurge, type PurgePlan } from '../purge/purge-planner';
import { largestDirectories, TreeScanner } from './tree-scan';

export interface PurgeSummary {
  files: number;
  bytes: number;
  next: string | null;
}

export interface UserUsage {
  bytes: number;
  files: number;
  largest: { path: string; bytes: number }[];
  /** What the fair-use purge plan holds for the directory (POSIX only), from the same walk. */
  purge: PurgeSummary;
}

/** S3 key prefix of a user's scratch objects in the configured bucket. */
export function s3ScratchPrefix(user: string): string {
  return `scratch/${user}/`;
}

/** Measures a user's scratch use: their POSIX directory (du-exact) plus their S3 prefix, if any. */
@Injectable()
export class UsageService implements OnModuleDestroy {
  private scanner?: TreeScanner;
  /** Largest directories of each user's last scan in this process (the scan keeps only per-directory totals). */
  private readonly largest = new Map<string, { path: string; bytes: number }[]>();
  private readonly purgeSummaries = new Map<string, PurgeSummary>();
  /** One scan per user at a time: a second caller waits for the running one. */
  private readonly running = new Map<string, Promise<UserUsage>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** SCRATCH_ROOT/<user>, created (mode 0700) on first use. */
  async userDirectory(user: string): Promise<string> {
    const dir = join(this.config.scratchRoot, user);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  lastLargest(user: string): { path: string; bytes: number }[] | undefined {
    return this.largest.get(user);
  }

  lastPurgeSummary(user: string): PurgeSummary | undefined {
    return this.purgeSummaries.get(user);
  }

  /**
   * The user's purge plan now, from a fresh walk. Plans are not stored yet,
   * so every file's notice counts from now: nothing becomes due without a
   * full notice period on the plan.
   */
  async purgePlan(user: string): Promise<PurgePlan> {
    const dir = await this.userDirectory(user);
    return planPurge(this.treeScanner(), dir, this.config.scratch.purge, () => undefined, this.clock.now());
  }

  private treeScanner(): TreeScanner {
    return (this.scanner ??= new TreeScanner({ workers: 2 }));
  }

  scan(user: string): Promise<UserUsage> {
    const running = this.running.get(user);
    if (running) return running;
    const scan = this.measure(user).finally(() => this.running.delete(user));
    this.running.set(user, scan);
    return scan;
  }

  private async measure(user: string): Promise<UserUsage> {
    const dir = await this.userDirectory(user);
    const now = this.clock.now();
    const policy = this.config.scratch.purge;
    const result = await this.treeScanner().scan(dir, '', { idle: idleCriterion(policy, now) });
    const plan = planFromIdle(result.idle, policy, () => undefined, now);
    const purge = { files: plan.files.length, bytes: plan.bytes, next: plan.next?.toISOString() ?? null };
    this.purgeSummaries.set(user, purge);
    let { bytes, files } = result.totals;
    const largest = largestDirectories(result.directories.values(), { limit: 10 }).map((d) => ({
      path: d.path,
      bytes: d.bytes,
    }));
    const bucket = this.config.s3?.bucket;
    if (bucket) {
      let s3Bytes = 0;
      const stream = this.storage.s3().listObjectsV2(bucket, s3ScratchPrefix(user), true);
      for await (const item of stream as AsyncIterable<{ name?: string; size?: number }>) {
        if (!item.name) continue;
        s3Bytes += item.size ?? 0;
        files++;
      }
      bytes += s3Bytes;
      if (s3Bytes > 0) largest.push({ path: `s3://${bucket}/${s3ScratchPrefix(user)}`, bytes: s3Bytes });
      largest.sort((a, b) => b.bytes - a.bytes);
    }
    this.largest.set(user, largest.slice(0, 10));
    return { bytes, files, largest: largest.slice(0, 10), purge };
  }

  async onModuleDestroy(): Promise<void> {
    await this.scanner?.close();
  }
}
