import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The status file in each user directory (notebooks read it; the usage scan does not count it). */
export const STATUS_FILE = '.climcat-quota.json';

/** What the status file holds: the user's /me answer, condensed, plus when it was written. */
export interface StatusFileContent {
  user: string;
  usage: { bytes: number; files: number };
  limits: {
    softBytes?: number;
    hardBytes?: number;
    softFiles?: number;
    hardFiles?: number;
    graceSeconds: number;
  };
  state: string;
  graceUntil?: string;
  purge: { files: number; bytes: number; next: string | null };
  scannedAt?: string;
  advice?: string;
  updatedAt: string;
  /** Where the live answer is. */
  details: string;
}

/**
 * Replaces `dir/name` with `text` atomically: a reader sees the old file or
 * the new one, never part of one. The temporary file is created with
 * O_EXCL, so a symlink planted under its (random) name is never followed;
 * rename replaces a symlink at `name` itself rather than writing through it.
 * No fsync: the file is rewritten on every evaluation, losing one to a crash is harmless.
 */
export async function writeFileAtomically(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `${name}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    await rename(tmp, join(dir, name));
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/** Writes users' status files, one write at a time per user (the last evaluation wins). */
@Injectable()
export class StatusFileService {
  private readonly logger = new Logger(StatusFileService.name);
  private readonly queues = new Map<string, Promise<void>>();

  /** Never fails the request that evaluated the state: a write problem is logged. */
  write(directory: string, content: StatusFileContent): Promise<void> {
    const previous = this.queues.get(directory) ?? Promise.resolve();
    const next = previous
      .then(() => writeFileAtomically(directory, STATUS_FILE, `${JSON.stringify(content, null, 2)}\n`))
      .catch((error: unknown) => this.logger.warn(`status file in ${directory}: ${(error as Error).message}`))
      .finally(() => {
        if (this.queues.get(directory) === next) this.queues.delete(directory);
      });
    this.queues.set(directory, next);
    return next;
  }
}
