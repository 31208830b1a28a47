/**
 * Many small positioned reads of a local file in one worker-thread job. A
 * hyperslab of a record variable is one short read per record (the NCSS
 * bench's 10% region: 1,447 reads of 70 KB); each asynchronous read costs
 * ~4× a synchronous one (a thread-pool round trip per read, measured 65 ms
 * against 18 ms for those reads), and synchronous reads on the event loop
 * would stall every other request on a slow disk. So a worker reads a whole
 * group of blocks with `readSync` and copies the selected runs of each
 * straight into shared memory the caller reads from: one message per group.
 */
import { Worker } from 'node:worker_threads';

/**
 * One job: blocks of the file, each read whole and then copied out as
 * segments of runs. `ops` is flat: per block `offset, length, segments`, then per
 * segment `src` (in the block), `runBytes`, `step`, `runs`. The runs go to
 * `target` back to back from its start, in order.
 */
export interface RunsJob {
  ops: number[];
}

/** The worker's code (plain JavaScript, so neither a build step nor ts-node is needed to start it). */
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
let scratch = Buffer.allocUnsafe(1 << 20);
let gathered = Buffer.allocUnsafe(1 << 16);
const SMALL_RUN = 4096;
parentPort.on('message', (m) => {
  try {
    // A Buffer: fill() with a value as long as the range is one memcpy, where set() into
    // shared memory copies with relaxed atomics (io/copy-bytes.ts).
    const target = Buffer.from(m.target, m.targetOffset, m.targetLength);
    const ops = m.ops;
    let dst = 0;
    for (let i = 0; i < ops.length;) {
      const offset = ops[i++], length = ops[i++], segments = ops[i++];
      if (scratch.length < length) scratch = Buffer.allocUnsafe(length);
      for (let done = 0; done < length;) {
        const n = readSync(m.fd, scratch, done, length - done, offset + done);
        if (n === 0) throw Object.assign(new Error('file shrank while reading'), { code: 'EOF', at: offset + done });
        done += n;
      }
      for (let s = 0; s < segments; s++) {
        const src = ops[i++], runBytes = ops[i++], step = ops[i++], runs = ops[i++];
        const bytes = runs * runBytes;
        if (dst + bytes > target.length) throw new Error('runs overflow the target');
        if (runs > 1 && runBytes < SMALL_RUN) {
          // Short runs are gathered here first, then copied to shared memory in one go: each copy
          // into shared memory costs ~110 ns however short (the bench's region: 61 rows of 364 B
          // per record), one into a local buffer half that.
          if (gathered.length < bytes) gathered = Buffer.allocUnsafe(bytes);
          for (let r = 0, at = src; r < runs; r++, at += step) scratch.copy(gathered, r * runBytes, at, at + runBytes);
          target.fill(gathered.subarray(0, bytes), dst, dst + bytes);
          dst += bytes;
          continue;
        }
        for (let r = 0; r < runs; r++, dst += runBytes) {
          const run = scratch.subarray(src + r * step, src + r * step + runBytes);
          if (runBytes >= 64) target.fill(run, dst, dst + runBytes);
          else target.set(run, dst);
        }
      }
    }
    parentPort.postMessage({ id: m.id });
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: { message: String(error && error.message), code: error && error.code, at: error && error.at } });
  }
});
`;

/** Why a job failed: `code` 'EOF' when the file ended before a block did (at byte `at`). */
export class PreadError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly at?: number,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** The process's read worker: started on first use, kept unref'd while nothing is pending. */
export class PreadWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /**
   * Runs `job` on file descriptor `fd` into `target`, which must lie in a
   * SharedArrayBuffer (the worker writes there). The fd must stay open until
   * the promise settles.
   */
  run(fd: number, job: RunsJob, target: Uint8Array): Promise<void> {
    if (!(target.buffer instanceof SharedArrayBuffer))
      return Promise.reject(new PreadError('the read worker writes only into shared memory'));
    const worker = this.ensure();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({
        id,
        fd,
        ops: job.ops,
        target: target.buffer,
        targetOffset: target.byteOffset,
        targetLength: target.length,
      });
    });
  }

  /**
   * Starts the thread ahead of its first job: a thread takes a few hundred ms to start on a
   * busy machine, which would otherwise land on the first request reading a file.
   */
  warm(): void {
    this.ensure();
  }

  /** Whether the thread is running. */
  get started(): boolean {
    return this.worker !== undefined;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // No inherited execArgv: the parent's preloads (ts-node under jest and the benches) would take a second to load here.
    const worker = new Worker(SOURCE, { eval: true, execArgv: [] });
    worker.on('message', (m: { id: number; error?: { message: string; code?: string; at?: number } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error) p.reject(new PreadError(m.error.message, m.error.code, m.error.at));
      else p.resolve();
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new PreadError(`read worker failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new PreadError(`read worker exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

let shared: PreadWorker | undefined;

/** The process-wide read worker. */
export function preadWorker(): PreadWorker {
  shared ??= new PreadWorker();
  return shared;
}

/**
 * Starts the process's read worker now, for a service that will read hyperslabs of local
 * files (the THREDDS facade, at start). Not done on opening a file: the ingestor opens files
 * only for their headers and never needs the thread.
 */
export function warmReadWorker(): void {
  preadWorker().warm();
}
