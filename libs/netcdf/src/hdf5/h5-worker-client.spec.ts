import { join } from 'node:path';
import { Hdf5Worker, Hdf5WorkerFailure } from './h5-worker-client';
import type { OpenResult } from './h5-protocol';

const FIXTURES = join(__dirname, '../../test-fixtures');

describe('Hdf5Worker', () => {
  it('starts the worker thread from its entry file on first use and stops it on shutdown', async () => {
    const worker = new Hdf5Worker({ timeoutMs: 30_000 });
    expect(worker.liveWorkers).toBe(0);
    const opened = await worker.request<OpenResult>({
      op: 'open',
      path: join(FIXTURES, 'hdf5_scales_groups.h5'),
    });
    expect(opened.meta.variables.map((v) => v.name)).toEqual(['x', 'sub/y', 'sub/v']);
    expect(worker.liveWorkers).toBe(1);
    await worker.shutdown();
    expect(worker.liveWorkers).toBe(0);
    // Handles of the stopped thread are gone: a new thread answers, without the file.
    const e = await worker
      .request({
        op: 'slice',
        handle: opened.handle,
        name: 'x',
        type: 'double',
        start: [0],
        count: [1],
        stride: [1],
      })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Hdf5WorkerFailure);
    expect((e as Hdf5WorkerFailure).failure).toMatchObject({ code: 'HDF5', fatal: false });
    await worker.shutdown();
    expect(worker.liveWorkers).toBe(0);
  }, 60_000);
});
