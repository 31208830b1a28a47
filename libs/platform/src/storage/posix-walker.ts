import { startWorkerEntry } from '@climcat/netcdf';
import type { Worker } from 'node:worker_threads';
import type { WalkedFile } from './posix-walk';
import type { WalkFailure, WalkReply, WalkRequest } from './posix-walk.protocol';

/** Where a walk's chunks wait until its consumer takes them. */
class Inbox {
  private readonly chunks: WalkedFile[][] = [];
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  get finished(): boolean {
    return this.done;
  }

  put(chunk: WalkedFile[]): void {
    this.chunks.push(chunk);
    this.notify();
  }

  end(failure?: Error): void {
    this.done = true;
    this.failure = failure;
    this.notify();
  }

  /** The next chunk; null at the end; throws the walk's failure after the chunks found before it. */
  async take(): Promise<WalkedFile[] | null> {
    while (!this.chunks.length && !this.done) await new Promise<void>((resolve) => (this.wake = resolve));
    const chunk = this.chunks.shift();
    if (chunk) return chunk;
    if (this.failure) throw this.failure;
    return null;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function errorOf(failure: WalkFailure): Error {
  const { message, ...fields } = failure;
  return Object.assign(new Error(message), fields);
}

/**
 * POSIX walks (see posix-walk.ts) run in one worker thread, started on the
 * first walk: the scan's event loop only takes their files in chunks, and
 * merges and compares them while the worker reads the next directories. The
 * thread holds the process open only while a walk runs; if it dies, its walks
 * fail and the next walk starts a new one.
 */
export class PosixWalker {
  private worker: Worker | undefined;
  private readonly inboxes = new Map<number, Inbox>();
  private nextId = 1;

  async *walk(base: string, relative: string): AsyncGenerator<WalkedFile[]> {
    const worker = this.ensure();
    const id = this.nextId++;
    const inbox = new Inbox();
    this.inboxes.set(id, inbox);
    worker.ref();
    const send = (request: WalkRequest) => worker.postMessage(request);
    send({ type: 'start', id, base, relative });
    try {
      for (let chunk = await inbox.take(); chunk; chunk = await inbox.take()) {
        send({ type: 'more', id });
        yield chunk;
      }
    } finally {
      if (!inbox.finished) send({ type: 'stop', id });
      this.inboxes.delete(id);
      if (this.inboxes.size === 0 && this.worker === worker) worker.unref();
    }
  }

  /** Stops the thread (walks under way fail) and waits until it has exited. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.fail(worker, new Error('the listing worker was shut down'));
    await worker.terminate();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorkerEntry(__dirname, 'posix-walk.worker');
    worker.unref();
    worker.on('message', (reply: WalkReply) => {
      const inbox = this.inboxes.get(reply.id);
      if (!inbox) return;
      if (reply.type === 'chunk') {
        const files: WalkedFile[] = new Array<WalkedFile>(reply.paths.length);
        for (let k = 0; k < files.length; k++)
          files[k] = { path: reply.paths[k]!, size: reply.sizes[k]!, mtime: reply.mtimes[k]! };
        inbox.put(files);
      } else if (reply.type === 'end') inbox.end();
      else inbox.end(errorOf(reply.error));
    });
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`the listing worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const inbox of this.inboxes.values()) inbox.end(error);
  }
}
