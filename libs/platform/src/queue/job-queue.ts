/**
 * Work queues behind one interface: bull on Redis when REDIS_URL is set,
 * an in-process runner otherwise, with the same retries and job states.
 */
export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';
export const JOB_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'failed', 'delayed'];

export interface JobOptions {
  /** Total attempts including the first (default 3). */
  attempts?: number;
  /** First retry delay; doubles on each further retry (default 1000 ms). */
  backoffMs?: number;
  /** Deduplicates: adding a job whose id already exists returns that id and adds nothing. */
  jobId?: string;
}

export interface JobInfo<T> {
  id: string;
  queue: string;
  data: T;
  state: JobState;
  attemptsMade: number;
  /** 0-100 */
  progress: number;
  failedReason?: string;
  returnValue?: unknown;
  createdAt: string;
  finishedAt?: string;
}

export interface RunningJob<T> {
  id: string;
  data: T;
  /** 1 on the first attempt. */
  attempt: number;
  reportProgress(percent: number): Promise<void>;
}

export type JobHandler<T> = (job: RunningJob<T>) => Promise<unknown>;

export interface JobQueue<T> {
  readonly name: string;
  add(data: T, options?: JobOptions): Promise<string>;
  /** Starts consuming with `concurrency` parallel handlers. Call once. */
  process(concurrency: number, handler: JobHandler<T>): void;
  get(id: string): Promise<JobInfo<T> | null>;
  /** Jobs in a state, newest first. */
  list(state: JobState, offset: number, limit: number): Promise<JobInfo<T>[]>;
  counts(): Promise<Record<JobState, number>>;
  /** Moves a failed job back to waiting with a fresh attempt budget. NotFoundError / ConflictError otherwise. */
  retry(id: string): Promise<void>;
  /** Resolves when no job is waiting, delayed or active (tests, CLI). */
  drained(): Promise<void>;
  close(): Promise<void>;
}

export interface QueueFactory {
  readonly backend: 'bull' | 'memory';
  create<T>(name: string): JobQueue<T>;
  /** Throws when the backend cannot be reached (readiness; 503 on ingest requests). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const QUEUE_FACTORY = Symbol('climcat.queue-factory');
