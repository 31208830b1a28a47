import { Logger } from '@nestjs/common';
import Bull from 'bull';
import { Redis } from 'ioredis';
import { ConflictError, DomainError, NotFoundError, UnavailableError } from '@climcat/core';
import type { JobHandler, JobInfo, JobOptions, JobQueue, JobState, QueueFactory } from './job-queue';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_KEEP_FINISHED,
  assertConcurrency,
  clampProgress,
  pageRange,
  resolveJobOptions,
  retryDelayMs,
  settleWithin,
  toError,
} from './memory-queue';

export interface BullQueueOptions {
  /** Redis key prefix (default "climcat"). */
  prefix?: string;
  /**
   * Budget for one API-facing call (add, get, list, counts, retry, ping), waiting for a connection included.
   * When Redis is down these fail with UnavailableError within this time instead of queueing up.
   */
  timeoutMs?: number;
  /** Completed and failed jobs kept per queue (each). */
  keepFinished?: number;
  closeTimeoutMs?: number;
  drainPollMs?: number;
}

/**
 * Bull's built-in "exponential" waits (2^n − 1)·delay; ours doubles from backoffMs (JobQueue contract),
 * so jobs name this strategy and every queue registers it.
 */
const BACKOFF_STRATEGY = 'climcat-doubling';

/** Resets the attempt budget of a job only while it sits in the failed set, so retry() cannot touch another state. */
const RESET_FAILED_ATTEMPTS = `
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('HSET', KEYS[1], 'attemptsMade', 0)
  return 1
end
return 0`;

/** Redis replies that mean "not now" rather than a bug in the request. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

/** Reconnect quickly and keep trying: the queue must recover on its own once Redis is back. */
function retryStrategy(times: number): number {
  return Math.min(times * 200, 2000);
}

export class BullQueueFactory implements QueueFactory {
  readonly backend = 'bull' as const;
  private readonly queues = new Set<BullJobQueue<unknown>>();
  private readonly settings: Required<BullQueueOptions>;
  private commandClient: Redis | undefined;
  private lastError = 'not connected yet';
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly redisUrl: string,
    options: BullQueueOptions = {},
  ) {
    this.settings = {
      prefix: options.prefix ?? 'climcat',
      timeoutMs: options.timeoutMs ?? 2000,
      keepFinished: options.keepFinished ?? DEFAULT_KEEP_FINISHED,
      closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      drainPollMs: options.drainPollMs ?? 100,
    };
  }

  create<T>(name: string): JobQueue<T> {
    if (this.closed) throw new UnavailableError('Queue factory is closed');
    const queue: BullJobQueue<T> = new BullJobQueue<T>(name, this, this.settings, () =>
      this.queues.delete(queue),
    );
    this.queues.add(queue);
    return queue;
  }

  async ping(): Promise<void> {
    await this.call((client) => client.ping());
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.queues].map((queue) => queue.close()));
    if (this.commandClient) await quitGracefully(this.commandClient);
  }

  /**
   * The connection every queue of this factory uses for commands. No offline queue and one retry per
   * request: while Redis is away commands fail at once instead of piling up and running minutes later.
   */
  commands(): Redis {
    if (!this.commandClient) {
      const client = new Redis(this.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy,
      });
      client.setMaxListeners(0); // every queue adds an error listener
      client.on('error', (error: Error) => {
        this.lastError = error.message;
      });
      this.commandClient = client;
    }
    return this.commandClient;
  }

  /** Blocking and subscriber connections, one of each per queue: commands wait for reconnection there. */
  connection(): Redis {
    const client = new Redis(this.redisUrl, {
      maxRetriesPerRequest: null,
      enableReadyCheck: false,
      retryStrategy,
    });
    client.on('error', noop); // bull reports through its queue; ioredis would otherwise log each reconnect failure
    return client;
  }

  /** Runs one API-facing operation within the time budget, mapping connection trouble to UnavailableError. */
  async call<R>(operation: (client: Redis) => Promise<R>): Promise<R> {
    if (this.closed) throw new UnavailableError('Queue factory is closed');
    const client = this.commands();
    const deadline = Date.now() + this.settings.timeoutMs;
    try {
      await this.ready(client, this.settings.timeoutMs);
      return await withinMs(operation(client), deadline - Date.now());
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private async ready(client: Redis, timeoutMs: number): Promise<void> {
    if (client.status === 'ready') return;
    // A connection attempt just failed: answer now rather than make the caller sit out the reconnect delay.
    if (client.status === 'reconnecting' || client.status === 'close' || client.status === 'end')
      throw new UnavailableError(`Redis is unavailable: ${this.lastError}`);
    let cleanup = noop;
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = () => reject(new UnavailableError(`Redis is unavailable: ${this.lastError}`));
        const timer = setTimeout(fail, timeoutMs);
        client.once('ready', resolve);
        client.once('close', fail);
        cleanup = () => {
          clearTimeout(timer);
          client.off('ready', resolve);
          client.off('close', fail);
        };
      });
    } finally {
      cleanup();
    }
  }

  private unavailable(error: unknown): Error {
    if (error instanceof DomainError) return error;
    const cause = toError(error);
    if (cause.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(cause.message)) return cause;
    const wrapped = new UnavailableError(`Redis is unavailable: ${cause.message}`);
    wrapped.cause = cause;
    return wrapped;
  }
}

function noop(): void {}

/** Lets a connection answer what it was sent, then closes it; a hung or dead connection is cut after a short wait. */
async function quitGracefully(connection: Redis): Promise<void> {
  if (connection.status !== 'end') await settleWithin(connection.quit(), 500);
  connection.disconnect();
}

async function withinMs<R>(promise: Promise<R>, ms: number): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnavailableError(`Redis is unavailable: no answer within ${ms} ms`)),
      ms,
    );
  });
  promise.catch(noop); // when the timeout wins, the late rejection must not go unhandled
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The private pieces of bull used: start-up and timer cleanup (for close) and the worker naming (see process()). */
interface BullInternals {
  _clearTimers?: () => Promise<void>;
  _initializingProcess?: Promise<unknown>;
  setWorkerName?: () => Promise<void>;
}

type BullState = 'completed' | 'failed' | 'delayed' | 'active' | 'waiting';

const queueLogger = new Logger('BullQueue');

class BullJobQueue<T> implements JobQueue<T> {
  private readonly queue: Bull.Queue<T>;
  /** Connections bull asked for besides the shared command client; bull leaves closing them to us. */
  private readonly ownConnections: Redis[] = [];
  private processing = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly factory: BullQueueFactory,
    private readonly settings: Required<BullQueueOptions>,
    private readonly onClosed: () => void,
  ) {
    this.queue = new Bull<T>(name, {
      prefix: settings.prefix,
      createClient: (type) => {
        if (type === 'client') return factory.commands();
        const connection = factory.connection();
        this.ownConnections.push(connection);
        return connection;
      },
      settings: {
        // After a Redis outage the worker loop resumes within a second of reconnecting.
        retryProcessDelay: 1000,
        backoffStrategies: {
          [BACKOFF_STRATEGY]: (attemptsMade: number, _error: Error, options?: unknown) =>
            retryDelayMs(backoffOption(options), attemptsMade),
        },
      },
    });
    // Bull re-emits connection errors (e.g. "Connection is closed" while a blocking read is cut
    // by an outage or by close()); an EventEmitter 'error' without a listener would crash the process.
    this.queue.on('error', (error: Error) => {
      if (!this.closing) queueLogger.warn(`queue ${name}: ${error.message}`);
    });
  }

  async add(data: T, options?: JobOptions): Promise<string> {
    this.assertOpen();
    const resolved = resolveJobOptions(options);
    const job = await this.factory.call(() =>
      this.queue.add(data, {
        attempts: resolved.attempts,
        backoff: { type: BACKOFF_STRATEGY, options: { delay: resolved.backoffMs } },
        ...(resolved.jobId !== undefined && { jobId: resolved.jobId }),
        removeOnComplete: this.settings.keepFinished,
        removeOnFail: this.settings.keepFinished,
      }),
    );
    return String(job.id);
  }

  process(concurrency: number, handler: JobHandler<T>): void {
    this.assertOpen();
    assertConcurrency(this.name, concurrency);
    if (this.processing) throw new Error(`Queue ${this.name}: process() was already called`);
    this.processing = true;
    // bull's process() sends CLIENT SETNAME on the blocking connection and drops the promise. When close()
    // forces that connection to reconnect before the name is set (a queue closed right after boot), the
    // command fails with "Connection is closed." as an unhandled rejection. The name is cosmetic.
    const internals = this.queue as unknown as BullInternals;
    const setWorkerName = internals.setWorkerName?.bind(this.queue);
    if (setWorkerName)
      internals.setWorkerName = () =>
        setWorkerName().catch((error: unknown) => {
          if (!this.closing)
            queueLogger.warn(`queue ${this.name}: cannot name worker: ${toError(error).message}`);
        });
    void this.queue
      .process(concurrency, async (job: Bull.Job<T>) => {
        try {
          return await handler({
            id: String(job.id),
            data: job.data,
            // bull counts failed attempts only
            attempt: job.attemptsMade + 1,
            reportProgress: (percent) => job.progress(clampProgress(percent)),
          });
        } catch (thrown) {
          // bull records `thrown.message`, which is undefined for non-Error throws
          throw toError(thrown);
        }
      })
      // Settles only when the queue closes; bull reports worker errors as 'error' events and retries itself.
      .catch(noop);
  }

  async get(id: string): Promise<JobInfo<T> | null> {
    this.assertOpen();
    return this.factory.call(async () => {
      const job = await this.queue.getJob(id);
      if (!job) return null;
      const state = await this.stateOf(id);
      return state ? this.toInfo(job, state) : null;
    });
  }

  async list(state: JobState, offset: number, limit: number): Promise<JobInfo<T>[]> {
    this.assertOpen();
    const range = pageRange(offset, limit);
    if (!range) return [];
    // A globally paused bull queue keeps its waiting jobs in a separate list; only one of the two is filled.
    const types: Bull.JobStatus[] = state === 'waiting' ? ['waiting', 'paused'] : [state];
    const jobs = await this.factory.call(() => this.queue.getJobs(types, range[0], range[1], false));
    // Jobs removed between reading the index and the job come back as null.
    return jobs.filter((job): job is Bull.Job<T> => job !== null).map((job) => this.toInfo(job, state));
  }

  async counts(): Promise<Record<JobState, number>> {
    this.assertOpen();
    return this.factory.call(async (client) => {
      const results = await client
        .multi()
        .llen(this.key('wait'))
        .llen(this.key('paused'))
        .llen(this.key('active'))
        .zcard(this.key('completed'))
        .zcard(this.key('failed'))
        .zcard(this.key('delayed'))
        .exec();
      const [wait, paused, active, completed, failed, delayed] = execValues(results).map(Number);
      return {
        waiting: (wait ?? 0) + (paused ?? 0),
        active: active ?? 0,
        completed: completed ?? 0,
        failed: failed ?? 0,
        delayed: delayed ?? 0,
      };
    });
  }

  async retry(id: string): Promise<void> {
    this.assertOpen();
    await this.factory.call(async (client) => {
      const job = await this.queue.getJob(id);
      if (!job) throw new NotFoundError(`Job ${id} not found in queue ${this.name}`);
      const state = await this.stateOf(id);
      if (state !== 'failed')
        throw new ConflictError(
          `Job ${id} in queue ${this.name} is ${state ?? 'gone'}; only failed jobs can be retried`,
        );
      // job.retry() keeps attemptsMade, which would leave the job a single attempt; the contract wants a fresh budget.
      await client.eval(RESET_FAILED_ATTEMPTS, 2, this.key(id), this.key('failed'), id);
      try {
        await job.retry();
      } catch (error) {
        // Lost a race with another retry or with pruning of old failed jobs.
        const message = toError(error).message;
        if (message.includes("doesn't exist"))
          throw new NotFoundError(`Job ${id} not found in queue ${this.name}`);
        if (message.includes('already retried') || message.includes('locked'))
          throw new ConflictError(`Job ${id} in queue ${this.name} cannot be retried: ${message}`);
        throw error;
      }
    });
  }

  async drained(): Promise<void> {
    for (;;) {
      this.assertOpen();
      const counts = await this.counts();
      if (counts.waiting + counts.active + counts.delayed === 0) return;
      await new Promise((resolve) => setTimeout(resolve, this.settings.drainPollMs));
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // A queue closed right after it was created would cut bull's own start-up (script loading,
    // subscriptions, delay timer) mid-command, and bull leaves those rejections unhandled.
    const starting = (this.queue as unknown as BullInternals)._initializingProcess;
    await settleWithin(Promise.all([this.queue.isReady(), starting ?? Promise.resolve()]), 2000);
    // bull waits for running handlers; a handler that never settles must not hold shutdown forever.
    const closedInTime = await settleWithin(this.queue.close(), this.settings.closeTimeoutMs);
    // bull clears its timers (stalled-job interval, lock renewal) only once those handlers finish.
    if (!closedInTime) void (this.queue as unknown as BullInternals)._clearTimers?.();
    // QUIT rather than a hard disconnect: bull leaves commands of its own in flight without a handler
    // (CLIENT SETNAME after the reconnect close() forces on the blocking connection), and a hard
    // disconnect rejects them as unhandled "Connection is closed." errors. QUIT is answered after them.
    await Promise.all(this.ownConnections.map((connection) => quitGracefully(connection)));
    this.onClosed();
  }

  private assertOpen(): void {
    if (this.closing) throw new UnavailableError(`Queue ${this.name} is closed`);
  }

  private key(suffix: string): string {
    return this.queue.toKey(suffix);
  }

  /** One MULTI, so a job moving between lists is never seen in none of them (bull's getState checks one by one). */
  private async stateOf(id: string): Promise<BullState | null> {
    const results = await this.factory
      .commands()
      .multi()
      .zscore(this.key('completed'), id)
      .zscore(this.key('failed'), id)
      .zscore(this.key('delayed'), id)
      .lpos(this.key('active'), id)
      .lpos(this.key('wait'), id)
      .lpos(this.key('paused'), id)
      .exec();
    const [completed, failed, delayed, active, wait, paused] = execValues(results);
    if (completed !== null) return 'completed';
    if (failed !== null) return 'failed';
    if (delayed !== null) return 'delayed';
    if (active !== null) return 'active';
    if (wait !== null || paused !== null) return 'waiting';
    return null;
  }

  private toInfo(job: Bull.Job<T>, state: JobState): JobInfo<T> {
    const progress: unknown = job.progress();
    const returnValue: unknown = job.returnvalue;
    return {
      id: String(job.id),
      queue: this.name,
      data: job.data,
      state,
      // bull counts failures only; ours also counts the attempt that succeeded
      attemptsMade: state === 'completed' ? job.attemptsMade + 1 : job.attemptsMade,
      progress: typeof progress === 'number' ? progress : 0,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      ...(state === 'completed' && { returnValue: returnValue ?? null }),
      createdAt: new Date(job.timestamp).toISOString(),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
    };
  }
}

function backoffOption(options: unknown): number {
  if (
    typeof options === 'object' &&
    options !== null &&
    'delay' in options &&
    typeof options.delay === 'number'
  )
    return options.delay;
  return 0;
}

/** Values of a MULTI reply; a failed command inside it fails the whole call. */
function execValues(results: [error: Error | null, result: unknown][] | null): unknown[] {
  if (!results) throw new UnavailableError('Redis is unavailable: transaction aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
