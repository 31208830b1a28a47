import { open, type FileHandle } from 'node:fs/promises';
import { ByteSourceError, ByteSourceNotFoundError } from '../errors';
import { checkReadArgs, DEFAULT_MAX_READ_BYTES, type ByteSource } from './byte-source';
import { PreadError, preadWorker, type RunsJob } from './pread-worker';

/** Positioned reads on a local file through one file handle. */
export class FileByteSource implements ByteSource {
  readonly description: string;
  readonly localPath: string;
  /** 1 MiB blocks stay in CPU cache between read and decode; 1 MiB gaps keep readahead sequential. */
  readonly readHints = { blockBytes: 1024 * 1024, maxGapBytes: 1024 * 1024 };
  private closed = false;
  /** Worker jobs reading through this file's descriptor: close waits for them. */
  private readonly jobs = new Set<Promise<void>>();

  private constructor(
    private readonly handle: FileHandle,
    path: string,
    private readonly fileSize: number,
    readonly maxReadBytes: number,
  ) {
    this.description = path;
    this.localPath = path;
  }

  static async open(path: string, options: { maxReadBytes?: number } = {}): Promise<FileByteSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ByteSourceNotFoundError(path);
      throw new ByteSourceError('IO', `cannot open: ${(err as Error).message}`, path);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new ByteSourceError('IO', 'not a regular file', path);
      const source = new FileByteSource(
        handle,
        path,
        stat.size,
        options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES,
      );
      return source;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async size(): Promise<number> {
    return this.fileSize;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadArgs(this.description, offset, length, this.maxReadBytes, this.fileSize);
    // Its own ArrayBuffer (not the Buffer pool), uninitialised: the read fills it.
    const buf = Buffer.allocUnsafeSlow(length);
    const out = new Uint8Array(buf.buffer, buf.byteOffset, length);
    await this.readInto(out, offset);
    return out;
  }

  /** Fills `target` from `offset` (used by the hyperslab reader to avoid an extra copy). */
  async readInto(target: Uint8Array, offset: number): Promise<void> {
    checkReadArgs(this.description, offset, target.length, Number.MAX_SAFE_INTEGER, this.fileSize);
    if (this.closed) throw new ByteSourceError('IO', 'read after close', this.description, offset);
    let done = 0;
    while (done < target.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(target, done, target.length - done, offset + done));
      } catch (err) {
        throw new ByteSourceError(
          'IO',
          `read failed: ${(err as Error).message}`,
          this.description,
          offset + done,
        );
      }
      if (bytesRead === 0)
        throw new ByteSourceError(
          'OUT_OF_RANGE',
          'file shrank while reading',
          this.description,
          offset + done,
        );
      done += bytesRead;
    }
  }

  /** Reads the job's blocks in the read worker (see ByteSource.readRuns). */
  async readRuns(job: RunsJob, target: Uint8Array): Promise<void> {
    if (this.closed) throw new ByteSourceError('IO', 'read after close', this.description, job.ops[0]);
    for (let i = 0; i < job.ops.length;) {
      checkReadArgs(
        this.description,
        job.ops[i] as number,
        job.ops[i + 1] as number,
        Number.MAX_SAFE_INTEGER,
        this.fileSize,
      );
      i += 3 + 4 * (job.ops[i + 2] as number);
    }
    const running = preadWorker().run(this.handle.fd, job, target);
    const tracked = running.then(
      () => undefined,
      () => undefined,
    );
    this.jobs.add(tracked);
    void tracked.then(() => this.jobs.delete(tracked));
    try {
      await running;
    } catch (err) {
      const e = err as PreadError;
      if (e.code === 'EOF')
        throw new ByteSourceError('OUT_OF_RANGE', 'file shrank while reading', this.description, e.at);
      throw new ByteSourceError('IO', `read failed: ${e.message}`, this.description, job.ops[0]);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The worker reads through the descriptor's number: it must not be closed (and reused) under it.
    await Promise.all(this.jobs);
    await this.handle.close();
  }
}
