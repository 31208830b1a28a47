import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { freePort, waitForPort, which } from '../harness/servers';
import { ADMIN, startApp, tempDir, TEST_ADMIN_KEY } from '../harness/app';
import { api } from '../catalog/seed';
import { plainFile } from './archive';
import { getJson, standalone } from './standalone';

jest.setTimeout(120_000);

describe('a worker killed mid-scan', () => {
  it('resumes on restart and ends with every file once', async () => {
    const state = tempDir();
    const data = tempDir('climcat-archive-');
    const count = 400;
    for (let i = 0; i < count; i++)
      await plainFile(data, `beamline/run1/frame_${String(i).padStart(4, '0')}.nc`);
    const port = await freePort();
    const env = {
      PORT: String(port),
      STATE_DIR: state,
      DATA_ROOT: data,
      DEMO_DATA: 'false',
      SCAN_ON_BOOT: 'true',
      INGEST_CONCURRENCY: '1',
      ADMIN_API_KEY: TEST_ADMIN_KEY,
    };
    const first = standalone(env);
    try {
      await waitForPort(port, 60_000, 'standalone');
      // Kill hard once the boot scan is partway through.
      const deadline = Date.now() + 60_000;
      let scan: any;
      do {
        await new Promise((r) => setTimeout(r, 20));
        scan = (await getJson(port, '/ingest/v1/scans')).items[0];
      } while ((!scan || scan.counts.seen < 20) && Date.now() < deadline);
      expect(scan.state).toBe('running');
      expect(scan.counts.seen).toBeLessThan(count);
    } finally {
      first.kill('SIGKILL');
    }
    await new Promise((r) => first.once('exit', r));

    const second = standalone({ ...env, SCAN_ON_BOOT: 'false' });
    try {
      await waitForPort(port, 60_000, 'standalone');
      const deadline = Date.now() + 60_000;
      let scans: any;
      do {
        await new Promise((r) => setTimeout(r, 200));
        scans = await getJson(port, '/ingest/v1/scans');
      } while (scans.items[0].state !== 'completed' && Date.now() < deadline);
      expect(scans.total).toBe(1);
      expect(scans.items[0]).toMatchObject({ state: 'completed', counts: { seen: count, failed: 0 } });
      const dataset = await getJson(port, '/api/v1/datasets/other.beamline.run1');
      expect(dataset).toMatchObject({ fileCount: count });
      const files = await getJson(port, '/api/v1/datasets/other.beamline.run1/files?limit=1000');
      expect(files.total).toBe(count);
      expect(new Set(files.items.map((f: { path: string }) => f.path)).size).toBe(count);
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
      rmSync(state, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('Redis unavailable', () => {
  function startRedisOn(bin: string, port: number): ChildProcess {
    return spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
  }

  it('answers 503 for ingest, keeps catalog reads working, and recovers when Redis returns', async () => {
    const redisBin = which('redis-server');
    if (!redisBin) throw new Error('redis-server not found: apt-get install redis-server');
    const port = await freePort();
    const data = tempDir('climcat-archive-');
    await plainFile(data, 'beamline/run2/frame_0001.nc');
    let redis = startRedisOn(redisBin, port);
    await waitForPort(port, 10_000, 'redis-server');
    const running = await startApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, DATA_ROOT: data } });
    try {
      expect((await api(running, 'GET', '/health/ready')).status).toBe(200);
      // Outage.
      redis.kill('SIGKILL');
      await new Promise((r) => redis.once('exit', r));
      const refused = await api(running, 'POST', '/ingest/v1/scans', {
        headers: ADMIN,
        body: { root: 'data' },
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
      expect(refused.body.detail).toMatch(/Redis is unavailable/);
      const record = await api(running, 'POST', '/ingest/v1/records', {
        headers: ADMIN,
        body: { root: 'data', path: 'beamline/run2/frame_0001.nc' },
      });
      expect(record.status).toBe(503);
      expect((await api(running, 'GET', '/api/v1/datasets')).status).toBe(200);
      expect((await api(running, 'GET', '/health/ready')).status).toBe(503);

      // Redis returns: ingestion works again without a restart.
      redis = startRedisOn(redisBin, port);
      await waitForPort(port, 10_000, 'redis-server');
      const deadline = Date.now() + 20_000;
      let started = refused;
      while (started.status !== 202 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
      }
      expect(started.status).toBe(202);
      let scan: any;
      do {
        await new Promise((r) => setTimeout(r, 100));
        scan = (await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN })).body;
      } while (scan.state !== 'completed' && Date.now() < deadline + 20_000);
      expect(scan.counts).toMatchObject({ seen: 1, new: 1 });
      expect((await api(running, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      await running.close();
      redis.kill('SIGTERM');
      rmSync(data, { recursive: true, force: true });
    }
  });
});
