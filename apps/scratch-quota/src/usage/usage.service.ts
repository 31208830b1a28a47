import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, StorageService, type AppConfig } from '@climcat/platform';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { largestDirectories, TreeScanner } from './tree-scan';

export interface UserUsage {
  bytes: number;
  files: number;
  largest: { path: string; bytes: number }[];
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
  /** One scan per user at a time: a second caller waits for the running one. */
  private readonly running = new Map<string, Promise<UserUsage>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
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

  scan(user: string): Promise<UserUsage> {
    const running = this.running.get(user);
    if (running) return running;
    const scan = this.measure(user).finally(() => this.running.delete(user));
    this.running.set(user, scan);
    return scan;
  }

  private async measure(user: string): Promise<UserUsage> {
    const dir = await this.userDirectory(user);
    this.scanner ??= new TreeScanner({ workers: 2 });
    const result = await this.scanner.scan(dir);
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
    return { bytes, files, largest: largest.slice(0, 10) };
  }

  async onModuleDestroy(): Promise<void> {
    await this.scanner?.close();
  }
}
