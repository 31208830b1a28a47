import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteSourceError } from '../errors';
import type { ByteSource } from './byte-source';

export interface LocalFileCacheOptions {
  /** Directory holding cached copies (created when missing). */
  dir: string;
  /** Total bytes the cache may hold; least recently used files are evicted first. */
  maxBytes: number;
  /** Bytes per read while copying (default 8 MiB, capped by the source's maxReadBytes). */
  copyChunkBytes?: number;
}

/**
 * Size-bounded local copies of remote objects, for readers that need a local
 * file (h5wasm reads HDF5 through the filesystem). Objects larger than the
 * whole cache are refused rather than copied.
 */
export class LocalFileCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly options: LocalFileCacheOptions) {}

  /** Path of a local copy of `source`, copying it in bounded reads when not cached yet. */
  async materialize(source: ByteSource): Promise<string> {
    if (source.localPath) return source.localPath;
    const size = await source.size();
    if (size > this.options.maxBytes)
      throw new ByteSourceError(
        'TOO_LARGE',
        `object of ${size} bytes exceeds the ${this.options.maxBytes}-byte local cache`,
        source.description,
      );
    const key = createHash('sha256').update(`${source.description}\n${size}`).digest('hex').slice(0, 32);
    const path = join(this.options.dir, `${key}.bin`);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const job = this.fill(source, path, size).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
    return job;
  }

  private async fill(source: ByteSource, path: string, size: number): Promise<string> {
    await mkdir(this.options.dir, { recursive: true });
    const existing = await stat(path).catch(() => undefined);
    if (existing?.size === size) {
      const now = new Date();
      await utimes(path, now, now);
      return path;
    }
    await this.evict(size);
    const tmp = `${path}.${process.pid}.${Date.now()}.part`;
    const handle = await open(tmp, 'w');
    try {
      const chunk = Math.min(this.options.copyChunkBytes ?? 8 * 1024 * 1024, source.maxReadBytes);
      for (let offset = 0; offset < size; offset += chunk) {
        const bytes = await source.read(offset, Math.min(chunk, size - offset));
        await handle.write(bytes, 0, bytes.length, offset);
      }
    } catch (err) {
      await handle.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    await rename(tmp, path);
    return path;
  }

  /** Removes least recently used entries until `incoming` more bytes fit. */
  private async evict(incoming: number): Promise<void> {
    const names = await readdir(this.options.dir);
    const entries: { path: string; size: number; mtime: number }[] = [];
    for (const name of names) {
      if (!name.endsWith('.bin')) continue;
      const s = await stat(join(this.options.dir, name)).catch(() => undefined);
      if (s) entries.push({ path: join(this.options.dir, name), size: s.size, mtime: s.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((a, b) => a.mtime - b.mtime);
    for (const e of entries) {
      if (total + incoming <= this.options.maxBytes) break;
      await rm(e.path, { force: true });
      total -= e.size;
    }
  }
}
