import { ConflictError, InvalidError, NotFoundError, UnavailableError } from '@climcat/core';
import {
  JOB_STATES,
  type JobHandler,
  type JobInfo,
  type JobOptions,
  type JobQueue,
  type JobState,
  type QueueFactory,
} from './job-queue';

/*
 * The in-process runner doubles as the reference for the semantics both backends share; the helpers
 * below are exported for bull-queue.ts so the two cannot drift apart.
 */

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1000;
/** Completed and failed jobs kept per queue (each); older ones are forgotten, as bull's removeOnComplete/removeOnFail do. */
export const DEFAULT_KEEP_FINISHED = 10_000;
/** How long close() waits for running handlers before giving up on them. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export interface ResolvedJobOptions {
  attempts: number;
  backoffMs: number;
  jobId?: string;
}

export function resolveJobOptions(options: JobOptions = {}): ResolvedJobOptions {
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw InvalidError.field('attempts', 'must be an integer of at least 1');
  if (!Number.isFinite(backoffMs) || backoffMs < 0)
    throw InvalidError.field('backoffMs', 'must be a non-negative number of milliseconds');
  if (options.jobId === '') throw InvalidError.field('jobId', 'must not be empty');
  return options.jobId === undefined
    ? { attempts, backoffMs }
    : { attempts, backoffMs, jobId: options.jobId };
}

/** Delay before the next attempt after `failedAttempts` failures: backoffMs, 2·backoffMs, 4·backoffMs, … */
export function retryDelayMs(backoffMs: number, failedAttempts: number): number {
  return Math.round(backoffMs * 2 ** Math.max(0, failedAttempts - 1));
}

export function clampProgress(percent: number): number {
  return Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
}

/** Handlers may throw anything; the job's failedReason is always an Error message. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

export function assertConcurrency(queue: string, concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`Queue ${queue}: concurrency must be a positive integer, got ${concurrency}`);
}

/** Start and inclusive end index of a page; null when the page is empty by construction. */
export function pageRange(offset: number, limit: number): [number, number] | null {
  const start = Math.max(0, Math.floor(offset));
  const count = Math.floor(limit);
  return count > 0 ? [start, start + count - 1] : null;
}

/** Waits for `promise` to settle, at most `ms`; false when time ran out first. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(settled, settled), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function settled(): boolean {
  return true;
}

/** Bull stores data and return values as JSON; doing the same here keeps both backends observably equal. */
function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

export interface MemoryQueueOptions {
  keepFinished?: number;
  closeTimeoutMs?: number;
}

export class MemoryQueueFactory implements QueueFactory {
  readonly backend = 'memory' as const;
  private readonly stores = new Map<string, MemoryStore>();
  private readonly queues = new Set<MemoryJobQueue<unknown>>();
  private readonly keepFinished: number;
  private readonly closeTimeoutMs: number;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryQueueOptions = {}) {
    this.keepFinished = options.keepFinished ?? DEFAULT_KEEP_FINISHED;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  /** Queues of the same name share their jobs, as they would in Redis (e.g. an API producer and a worker). */
  create<T>(name: string): JobQueue<T> {
    if (this.closed) throw new UnavailableError('Queue factory is closed');
    let store = this.stores.get(name);
    if (!store) {
      store = new MemoryStore(name, this.keepFinished);
      this.stores.set(name, store);
    }
    const queue = new MemoryJobQueue<T>(name, store, this.closeTimeoutMs, () => this.queues.delete(queue));
    this.queues.add(queue);
    return queue;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new UnavailableError('Queue factory is closed');
  }

  close(): Promise<void> {
    this.closed = true;
    this.closing ??= Promise.all([...this.queues].map((queue) => queue.close())).then(() => undefined);
    return this.closing;
  }
}

interface StoredJob {
  id: string;
  dataJson: string;
  state: JobState;
  attempts: number;
  backoffMs: number;
  /** Finished attempts: failures so far, plus the successful one once completed. */
  attemptsMade: number;
  progress: number;
  failedReason?: string;
  returnValueJson?: string;
  createdAt: number;
  finishedAt?: number;
  /** When a delayed job becomes waiting again. */
  dueAt?: number;
}

interface Worker {
  concurrency: number;
  handler: JobHandler<unknown>;
  running: Set<Promise<void>>;
}

interface DrainWaiter {
  owner: object;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** The jobs of one queue name, shared by every JobQueue of that name created by one factory. */
class MemoryStore {
  private readonly jobs = new Map<string, StoredJob>();
  /** Per state, ids in the order they entered it (oldest first); waiting is consumed from the front. */
  private readonly byState: Record<JobState, Set<string>> = {
    waiting: new Set(),
    active: new Set(),
    completed: new Set(),
    failed: new Set(),
    delayed: new Set(),
  };
  private readonly workers = new Set<Worker>();
  private readonly drainWaiters = new Set<DrainWaiter>();
  private nextId = 1;
  private openQueues = 0;
  private delayTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly keepFinished: number,
  ) {}

  attach(): void {
    this.openQueues += 1;
    this.scheduleDelayTimer();
  }

  detach(owner: object, worker: Worker | undefined): void {
    if (worker) this.workers.delete(worker);
    for (const waiter of this.drainWaiters) {
      if (waiter.owner !== owner) continue;
      this.drainWaiters.delete(waiter);
      waiter.reject(new UnavailableError(`Queue ${this.name} was closed before it drained`));
    }
    this.openQueues -= 1;
    if (this.openQueues === 0) this.scheduleDelayTimer();
  }

  add(data: unknown, options: ResolvedJobOptions): string {
    if (options.jobId !== undefined && this.jobs.has(options.jobId)) return options.jobId;
    const id = options.jobId ?? this.newId();
    const job: StoredJob = {
      id,
      dataJson: toJson(data),
      state: 'waiting',
      attempts: options.attempts,
      backoffMs: options.backoffMs,
      attemptsMade: 0,
      progress: 0,
      createdAt: Date.now(),
    };
    this.jobs.set(id, job);
    this.byState.waiting.add(id);
    this.pump();
    return id;
  }

  get(id: string): StoredJob | undefined {
    return this.jobs.get(id);
  }

  /** Newest first: most recently entered the state; delayed ones by due time, latest first (as bull's sorted sets). */
  list(state: JobState, start: number, end: number): StoredJob[] {
    const jobs = [...this.byState[state]].reverse().map((id) => this.mustGet(id));
    if (state === 'delayed') jobs.sort((a, b) => (b.dueAt ?? 0) - (a.dueAt ?? 0));
    return jobs.slice(start, end + 1);
  }

  counts(): Record<JobState, number> {
    const counts = {} as Record<JobState, number>;
    for (const state of JOB_STATES) counts[state] = this.byState[state].size;
    return counts;
  }

  retry(id: string): void {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`Job ${id} not found in queue ${this.name}`);
    if (job.state !== 'failed')
      throw new ConflictError(
        `Job ${id} in queue ${this.name} is ${job.state}; only failed jobs can be retried`,
      );
    job.attemptsMade = 0;
    delete job.failedReason;
    delete job.finishedAt;
    this.move(job, 'waiting');
    this.pump();
  }

  whenDrained(owner: object): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.add({ owner, resolve, reject }));
  }

  startWorker(worker: Worker): void {
    this.workers.add(worker);
    this.pump();
  }

  private pump(): void {
    for (const worker of this.workers) {
      while (worker.running.size < worker.concurrency) {
        const next = this.byState.waiting.values().next();
        if (next.done) return;
        this.run(worker, this.mustGet(next.value));
      }
    }
  }

  private run(worker: Worker, job: StoredJob): void {
    this.move(job, 'active');
    const running = this.attempt(worker, job).finally(() => {
      worker.running.delete(running);
      this.pump();
      this.notifyIfDrained();
    });
    worker.running.add(running);
  }

  private async attempt(worker: Worker, job: StoredJob): Promise<void> {
    let outcome: { ok: true; returnValueJson: string } | { ok: false; error: Error };
    try {
      const value = await worker.handler({
        id: job.id,
        data: JSON.parse(job.dataJson),
        attempt: job.attemptsMade + 1,
        reportProgress: async (percent) => {
          job.progress = clampProgress(percent);
        },
      });
      // A value JSON cannot hold fails the attempt, as it does in bull.
      outcome = { ok: true, returnValueJson: toJson(value) };
    } catch (thrown) {
      outcome = { ok: false, error: toError(thrown) };
    }
    if (!this.jobs.has(job.id)) return;
    if (outcome.ok) {
      job.attemptsMade += 1;
      job.returnValueJson = outcome.returnValueJson;
      job.finishedAt = Date.now();
      this.move(job, 'completed');
      this.trim('completed');
      return;
    }
    job.attemptsMade += 1;
    job.failedReason = outcome.error.message;
    if (job.attemptsMade >= job.attempts) {
      job.finishedAt = Date.now();
      this.move(job, 'failed');
      this.trim('failed');
      return;
    }
    const delay = retryDelayMs(job.backoffMs, job.attemptsMade);
    if (delay > 0) {
      job.dueAt = Date.now() + delay;
      this.move(job, 'delayed');
      this.scheduleDelayTimer();
    } else {
      this.move(job, 'waiting');
    }
  }

  /** One timer for the earliest due delayed job; none while no queue of this name is open. */
  private scheduleDelayTimer(): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    if (this.openQueues === 0) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const id of this.byState.delayed) earliest = Math.min(earliest, this.mustGet(id).dueAt ?? 0);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.delayTimer = setTimeout(() => this.promoteDueJobs(), Math.max(0, earliest - Date.now()));
  }

  private promoteDueJobs(): void {
    const now = Date.now();
    const due = [...this.byState.delayed]
      .map((id) => this.mustGet(id))
      .filter((job) => (job.dueAt ?? 0) <= now)
      .sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0));
    for (const job of due) {
      delete job.dueAt;
      this.move(job, 'waiting');
    }
    this.scheduleDelayTimer();
    this.pump();
  }

  private move(job: StoredJob, to: JobState): void {
    this.byState[job.state].delete(job.id);
    this.byState[to].add(job.id);
    job.state = to;
  }

  private trim(state: 'completed' | 'failed'): void {
    const ids = this.byState[state];
    for (const id of ids) {
      if (ids.size <= this.keepFinished) break;
      ids.delete(id);
      this.jobs.delete(id);
    }
  }

  private isDrained(): boolean {
    return this.byState.waiting.size + this.byState.active.size + this.byState.delayed.size === 0;
  }

  private notifyIfDrained(): void {
    if (!this.isDrained()) return;
    for (const waiter of this.drainWaiters) waiter.resolve();
    this.drainWaiters.clear();
  }

  private newId(): string {
    let id = String(this.nextId++);
    // A caller-chosen jobId may look like a generated one; never hand out an id already taken.
    while (this.jobs.has(id)) id = String(this.nextId++);
    return id;
  }

  private mustGet(id: string): StoredJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`Queue ${this.name}: job ${id} is indexed but missing`);
    return job;
  }
}

class MemoryJobQueue<T> implements JobQueue<T> {
  private worker: Worker | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly store: MemoryStore,
    private readonly closeTimeoutMs: number,
    private readonly onClosed: () => void,
  ) {
    store.attach();
  }

  async add(data: T, options?: JobOptions): Promise<string> {
    this.assertOpen();
    return this.store.add(data, resolveJobOptions(options));
  }

  process(concurrency: number, handler: JobHandler<T>): void {
    this.assertOpen();
    assertConcurrency(this.name, concurrency);
    if (this.worker) throw new Error(`Queue ${this.name}: process() was already called`);
    this.worker = { concurrency, handler: handler as JobHandler<unknown>, running: new Set() };
    this.store.startWorker(this.worker);
  }

  async get(id: string): Promise<JobInfo<T> | null> {
    this.assertOpen();
    const job = this.store.get(id);
    return job ? this.toInfo(job) : null;
  }

  async list(state: JobState, offset: number, limit: number): Promise<JobInfo<T>[]> {
    this.assertOpen();
    const range = pageRange(offset, limit);
    return range ? this.store.list(state, ...range).map((job) => this.toInfo(job)) : [];
  }

  async counts(): Promise<Record<JobState, number>> {
    this.assertOpen();
    return this.store.counts();
  }

  async retry(id: string): Promise<void> {
    this.assertOpen();
    this.store.retry(id);
  }

  drained(): Promise<void> {
    if (this.closing) return Promise.reject(new UnavailableError(`Queue ${this.name} is closed`));
    return this.store.whenDrained(this);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const worker = this.worker;
    this.store.detach(this, worker);
    if (worker) await settleWithin(Promise.all(worker.running), this.closeTimeoutMs);
    this.onClosed();
  }

  private assertOpen(): void {
    if (this.closing) throw new UnavailableError(`Queue ${this.name} is closed`);
  }

  private toInfo(job: StoredJob): JobInfo<T> {
    return {
      id: job.id,
      queue: this.name,
      data: JSON.parse(job.dataJson) as T,
      state: job.state,
      attemptsMade: job.attemptsMade,
      progress: job.progress,
      ...(job.failedReason !== undefined && { failedReason: job.failedReason }),
      ...(job.state === 'completed' &&
        job.returnValueJson !== undefined && { returnValue: JSON.parse(job.returnValueJson) as unknown }),
      createdAt: new Date(job.createdAt).toISOString(),
      ...(job.finishedAt !== undefined && { finishedAt: new Date(job.finishedAt).toISOString() }),
    };
  }
}
