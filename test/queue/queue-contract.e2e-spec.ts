import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UnavailableError } from '@climcat/core';
import {
  BullQueueFactory,
  MemoryQueueFactory,
  type JobQueue,
  type QueueFactory,
  type RunningJob,
} from '@climcat/platform/queue';
import { testEnv } from '../harness/env';
import { freePort, waitForPort, which } from '../harness/servers';

jest.setTimeout(20_000);

const backends: { backend: 'memory' | 'bull'; make: (closeTimeoutMs?: number) => QueueFactory }[] = [
  { backend: 'memory', make: (closeTimeoutMs = 2000) => new MemoryQueueFactory({ closeTimeoutMs }) },
  {
    backend: 'bull',
    make: (closeTimeoutMs = 2000) =>
      new BullQueueFactory(testEnv('TEST_REDIS_URL'), { prefix: 'contract', closeTimeoutMs }),
  },
];

function uniqueName(): string {
  return `contract-${randomUUID()}`;
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries an assertion until it passes or the time is up; returns what it returned. */
async function eventually<R>(assertion: () => Promise<R> | R, timeoutMs = 10_000): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

describe.each(backends)('$backend job queue', ({ make }) => {
  let factory: QueueFactory;

  beforeEach(() => {
    factory = make();
  });
  afterEach(async () => {
    await factory.close();
  });

  function queue<T>(): JobQueue<T> {
    return factory.create<T>(uniqueName());
  }

  it('runs a job to completion and keeps its return value', async () => {
    const q = queue<{ n: number }>();
    q.process(1, async (job) => ({ doubled: job.data.n * 2 }));

    const id = await q.add({ n: 21 });
    await q.drained();

    const info = await q.get(id);
    expect(info).toMatchObject({
      id,
      queue: q.name,
      data: { n: 21 },
      state: 'completed',
      attemptsMade: 1,
      returnValue: { doubled: 42 },
    });
    expect(info?.failedReason).toBeUndefined();
    expect(Date.parse(info?.createdAt ?? '')).not.toBeNaN();
    expect(Date.parse(info?.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(info?.createdAt ?? ''));
  });

  it('shows progress reported by a running handler', async () => {
    const q = queue<object>();
    const release = gate();
    q.process(1, async (job) => {
      await job.reportProgress(40);
      await release.promise;
      await job.reportProgress(100);
    });

    const id = await q.add({});
    await eventually(async () => expect(await q.get(id)).toMatchObject({ state: 'active', progress: 40 }));
    release.open();
    await q.drained();

    expect(await q.get(id)).toMatchObject({ state: 'completed', progress: 100 });
  });

  it('retries a failing job until it succeeds, passing the attempt number', async () => {
    const q = queue<object>();
    const attempts: number[] = [];
    q.process(1, async (job) => {
      attempts.push(job.attempt);
      if (job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
      return 'third time lucky';
    });

    const id = await q.add({}, { attempts: 3, backoffMs: 50 });
    await q.drained();

    expect(attempts).toEqual([1, 2, 3]);
    expect(await q.get(id)).toMatchObject({
      state: 'completed',
      attemptsMade: 3,
      returnValue: 'third time lucky',
    });
  });

  it('fails a job that exhausts its attempts and lists it among the failed', async () => {
    const q = queue<object>();
    q.process(1, async () => {
      throw new Error('archive unreadable');
    });

    const id = await q.add({}, { attempts: 2, backoffMs: 50 });
    await q.drained();

    const info = await q.get(id);
    expect(info).toMatchObject({ state: 'failed', attemptsMade: 2, failedReason: 'archive unreadable' });
    expect(info?.finishedAt).toBeDefined();
    expect(info?.returnValue).toBeUndefined();
    expect((await q.list('failed', 0, 10)).map((job) => job.id)).toEqual([id]);
  });

  it('records something a handler throws that is not an Error as the failure reason', async () => {
    const q = queue<object>();
    q.process(1, async () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what careless handler code does
      throw 'disk full';
    });

    const id = await q.add({}, { attempts: 1 });
    await q.drained();

    expect(await q.get(id)).toMatchObject({ state: 'failed', failedReason: 'disk full' });
  });

  it('runs a retried failed job again with a fresh attempt budget', async () => {
    const q = queue<object>();
    const attempts: number[] = [];
    q.process(1, async (job: RunningJob<object>) => {
      attempts.push(job.attempt);
      // Fails both attempts of the first budget and the first of the second.
      if (attempts.length <= 3) throw new Error(`failure ${attempts.length}`);
      return 'recovered';
    });

    const id = await q.add({}, { attempts: 2, backoffMs: 50 });
    await q.drained();
    expect(await q.get(id)).toMatchObject({ state: 'failed', attemptsMade: 2 });

    await q.retry(id);
    await q.drained();

    expect(attempts).toEqual([1, 2, 1, 2]);
    const info = await q.get(id);
    expect(info).toMatchObject({ state: 'completed', attemptsMade: 2, returnValue: 'recovered' });
  });

  it('refuses to retry a job that has not failed', async () => {
    const q = queue<object>();
    const id = await q.add({});

    await expect(q.retry(id)).rejects.toBeInstanceOf(ConflictError);
    expect(await q.get(id)).toMatchObject({ state: 'waiting' });
  });

  it('adds a job only once per jobId', async () => {
    const q = queue<{ file: string }>();

    const first = await q.add({ file: 'a.nc' }, { jobId: 'ingest:a.nc' });
    const second = await q.add({ file: 'other.nc' }, { jobId: 'ingest:a.nc' });

    expect(first).toBe('ingest:a.nc');
    expect(second).toBe('ingest:a.nc');
    expect((await q.counts()).waiting).toBe(1);
    expect(await q.get(first)).toMatchObject({ data: { file: 'a.nc' }, state: 'waiting' });
  });

  it('never runs more handlers at once than the concurrency', async () => {
    const q = queue<object>();
    const release = gate();
    let running = 0;
    let mostAtOnce = 0;
    q.process(2, async () => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await release.promise;
      running -= 1;
    });

    for (let i = 0; i < 5; i += 1) await q.add({});
    await eventually(() => expect(running).toBe(2));
    // Room for a third handler to start if the limit were not enforced.
    await sleep(200);
    expect(await q.counts()).toMatchObject({ active: 2, waiting: 3 });
    release.open();
    await q.drained();

    expect(mostAtOnce).toBe(2);
    expect((await q.counts()).completed).toBe(5);
  });

  it('shows a job as delayed while it waits out its backoff', async () => {
    const q = queue<object>();
    q.process(1, async (job) => {
      if (job.attempt === 1) throw new Error('transient');
    });

    const id = await q.add({}, { attempts: 2, backoffMs: 1000 });

    await eventually(async () =>
      expect(await q.get(id)).toMatchObject({ state: 'delayed', attemptsMade: 1, failedReason: 'transient' }),
    );
    expect((await q.counts()).delayed).toBe(1);
    expect((await q.list('delayed', 0, 10)).map((job) => job.id)).toEqual([id]);
    await q.drained();
    expect(await q.get(id)).toMatchObject({ state: 'completed', attemptsMade: 2 });
  });

  it('counts jobs per state', async () => {
    const q = queue<{ ok: boolean }>();
    await q.add({ ok: true });
    await q.add({ ok: false }, { attempts: 1 });
    await q.add({ ok: true });
    expect(await q.counts()).toEqual({ waiting: 3, active: 0, completed: 0, failed: 0, delayed: 0 });

    q.process(1, async (job) => {
      if (!job.data.ok) throw new Error('not ok');
    });
    await q.drained();

    expect(await q.counts()).toEqual({ waiting: 0, active: 0, completed: 2, failed: 1, delayed: 0 });
  });

  it('lists jobs newest first, a page at a time', async () => {
    const q = queue<{ n: number }>();
    const ids: string[] = [];
    for (let n = 0; n < 5; n += 1) ids.push(await q.add({ n }));

    const firstPage = await q.list('waiting', 0, 2);
    const secondPage = await q.list('waiting', 2, 2);

    expect(firstPage.map((job) => job.id)).toEqual([ids[4], ids[3]]);
    expect(firstPage.map((job) => job.data.n)).toEqual([4, 3]);
    expect(secondPage.map((job) => job.id)).toEqual([ids[2], ids[1]]);
    expect(await q.list('waiting', 0, 0)).toEqual([]);
    expect(await q.list('completed', 0, 10)).toEqual([]);
  });

  it('shares jobs between queues of the same name, as a producer and a worker would', async () => {
    const name = uniqueName();
    const producer = factory.create<{ n: number }>(name);
    const worker = factory.create<{ n: number }>(name);
    worker.process(1, async (job) => job.data.n * 10);

    const id = await producer.add({ n: 4 });
    await producer.drained();

    expect(await producer.get(id)).toMatchObject({ state: 'completed', returnValue: 40 });
  });

  it('lets a running handler finish when the queue closes', async () => {
    const name = uniqueName();
    const q = factory.create<object>(name);
    q.process(1, async () => {
      await sleep(300);
      return 'finished';
    });
    const id = await q.add({});
    await eventually(async () => expect(await q.get(id)).toMatchObject({ state: 'active' }));

    await q.close();

    await expect(q.add({})).rejects.toBeInstanceOf(UnavailableError);
    expect(await factory.create(name).get(id)).toMatchObject({ state: 'completed', returnValue: 'finished' });
  });

  it('stops waiting for a handler that never settles once the close timeout is up', async () => {
    const impatient = make(200);
    try {
      const q = impatient.create<object>(uniqueName());
      const started = gate();
      q.process(1, async () => {
        started.open();
        await new Promise<never>(() => {});
      });
      await q.add({});
      await started.promise;

      await expect(impatient.close()).resolves.toBeUndefined();
    } finally {
      await impatient.close();
    }
  });

  it('closes right after a worker starts without leaving a rejection unhandled', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', record);
    try {
      // Shutting down a service just after boot: the worker's start-up is still talking to the backend.
      for (let round = 0; round < 10; round++) {
        const shortLived = make();
        for (let i = 0; i < 3; i++) shortLived.create<object>(uniqueName()).process(1, async () => 'done');
        await sleep(round * 5);
        await shortLived.close();
      }
      await sleep(100);
    } finally {
      process.off('unhandledRejection', record);
    }
    expect(unhandled).toEqual([]);
  });

  it('answers null for a job it does not know', async () => {
    const q = queue<object>();
    expect(await q.get('no-such-job')).toBeNull();
  });

  it('refuses to retry a job it does not know', async () => {
    const q = queue<object>();
    await expect(q.retry('no-such-job')).rejects.toBeInstanceOf(NotFoundError);
  });
});

/** A Redis of our own on a fixed port, so it can be killed and brought back where the queue expects it. */
class OwnRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'climcat-queue-redis-'));

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const bin = which('redis-server');
    if (!bin) throw new Error('redis-server not found: install it with "apt-get install redis-server"');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    this.child = spawn(bin, [...args, '--dir', this.dir], { stdio: 'ignore' });
    await waitForPort(this.port, 10_000, 'redis-server');
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('bull job queue when Redis goes away', () => {
  let redis: OwnRedis;
  let factory: BullQueueFactory;

  beforeEach(async () => {
    redis = new OwnRedis(await freePort());
    await redis.start();
    factory = new BullQueueFactory(`redis://127.0.0.1:${redis.port}`, {
      timeoutMs: 2000,
      closeTimeoutMs: 2000,
    });
  });
  afterEach(async () => {
    await factory.close();
    await redis.dispose();
  });

  it('answers UnavailableError promptly while Redis is down and recovers when it is back', async () => {
    const q = factory.create<{ n: number }>(uniqueName());
    q.process(1, async (job) => job.data.n + 1);
    const before = await q.add({ n: 1 });
    await q.drained();
    expect(await q.get(before)).toMatchObject({ state: 'completed', returnValue: 2 });

    await redis.stop();

    for (const call of [() => factory.ping(), () => q.add({ n: 2 }), () => q.counts()]) {
      const started = Date.now();
      await expect(call()).rejects.toBeInstanceOf(UnavailableError);
      // The budget is timeoutMs (2 s); anything close to that would still let an API answer 503 in time.
      expect(Date.now() - started).toBeLessThan(3000);
    }
    await expect(factory.ping()).rejects.toThrow(/^Redis is unavailable: /);

    await redis.start();

    await eventually(() => factory.ping(), 15_000);
    const after = await q.add({ n: 41 });
    await eventually(async () =>
      expect(await q.get(after)).toMatchObject({ state: 'completed', returnValue: 42 }),
    );
  });
});
