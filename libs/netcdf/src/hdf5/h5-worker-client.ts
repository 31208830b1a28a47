/**
 * Runs h5wasm in a worker thread with a memory cap and per-request
 * timeouts. When HDF5 aborts, hangs or runs out of memory on a damaged file,
 * the pending requests fail with a typed error and the worker is replaced;
 * the service's event loop never blocks on HDF5.
 */
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { startWorkerEntry } from '../io/worker-entry';
import { findH5wasm } from './h5-handler';
import type { RequestBody, WorkerFailure, WorkerInit, WorkerResponse } from './h5-protocol';

export interface Hdf5WorkerOptions {
  /** Per-request timeout (default 60 s: a damaged file must not hang a service). */
  timeoutMs?: number;
  /** V8 old-generation cap of the worker in MB (default 1024). */
  maxOldGenerationSizeMb?: number;
}

/** A request the worker could not serve; `generation` tells whether the worker was replaced. */
export class Hdf5WorkerFailure extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(failure.message);
  }
}

type Pending = {
  resolve: (value: unknown) => void;
  reject: (err: Hdf5WorkerFailure) => void;
  timer: NodeJS.Timeout;
};

/** Starts the HDF5 worker thread (h5-worker.js when compiled, h5-worker.ts under ts-node/jest). */
export function startWorkerThread(options: WorkerOptions & { workerData: WorkerInit }): Worker {
  return startWorkerEntry(__dirname, 'h5-worker', options);
}

export class Hdf5Worker {
  private worker: Worker | undefined;
  private readonly threads = new Set<Worker>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Increases whenever the worker is replaced; file handles of older generations are gone. */
  generation = 0;
  private h5wasmPath: string | undefined;

  constructor(private readonly options: Hdf5WorkerOptions = {}) {}

  async request<T>(body: RequestBody, timeoutMs = this.options.timeoutMs ?? 60_000): Promise<T> {
    const worker = this.ensure();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.replace({
            code: 'HDF5',
            message: `HDF5 did not answer within ${timeoutMs} ms (damaged or pathological file?)`,
            fatal: true,
          }),
        timeoutMs,
      );
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      worker.ref();
      worker.postMessage({ ...body, id });
    });
  }

  /** Worker threads that have not exited yet, including replaced ones still terminating. */
  get liveWorkers(): number {
    return this.threads.size;
  }

  /** Stops the worker (pending requests fail) and waits until every thread has exited; a later request starts a new one. */
  async shutdown(): Promise<void> {
    this.replace({ code: 'HDF5', message: 'HDF5 worker shut down', fatal: true });
    await Promise.all([...this.threads].map((t) => t.terminate()));
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    this.h5wasmPath ??= findH5wasm();
    const worker = startWorkerThread({
      workerData: { h5wasmPath: this.h5wasmPath },
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb ?? 1024 },
    });
    worker.on('message', (msg: WorkerResponse) => this.settle(worker, msg));
    worker.on('error', (err) => {
      if (this.worker !== worker) return;
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.replace({
        code: 'HDF5',
        message: oom ? 'HDF5 worker ran out of memory (damaged file?)' : `HDF5 worker failed: ${err.message}`,
        fatal: true,
      });
    });
    this.threads.add(worker);
    worker.on('exit', (code) => {
      this.threads.delete(worker);
      if (this.worker === worker)
        this.replace({ code: 'HDF5', message: `HDF5 worker exited with code ${code}`, fatal: true });
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(worker: Worker, msg: WorkerResponse): void {
    const p = this.pending.get(msg.id);
    if (!p || this.worker !== worker) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) worker.unref();
    if (msg.ok) p.resolve(msg.result);
    else {
      p.reject(new Hdf5WorkerFailure(msg.failure));
      if (msg.failure.fatal) this.replace(undefined);
    }
  }

  /** Fails every pending request with `failure` and drops the current worker. */
  private replace(failure: WorkerFailure | undefined): void {
    const worker = this.worker;
    this.worker = undefined;
    this.generation++;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(
        new Hdf5WorkerFailure(failure ?? { code: 'HDF5', message: 'HDF5 worker was restarted', fatal: true }),
      );
      this.pending.delete(id);
    }
    if (worker) void worker.terminate();
  }
}

let shared: Hdf5Worker | undefined;

/** The process-wide HDF5 worker. */
export function hdf5Worker(): Hdf5Worker {
  shared ??= new Hdf5Worker();
  return shared;
}

/** Stops the process-wide HDF5 worker (e.g. on application shutdown). */
export async function shutdownHdf5Worker(): Promise<void> {
  await shared?.shutdown();
}
