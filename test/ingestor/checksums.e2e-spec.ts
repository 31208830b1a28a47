/**
 * The checksum stage of ingestion: SHA256 per file after a scan, in the
 * background, paced, resumable, skipped for unchanged files; S3 objects with
 * their own SHA256 metadata are not read; a verifying rescan warns on the
 * dataset when an unchanged file hashes differently.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { s3TestClient, testEnv } from '../harness/env';
import { api } from '../catalog/seed';
import { demoArchive } from './archive';

jest.setTimeout(120_000);

const TAS_ID = 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Starts a scan and waits until the scan and its checksum stage are done. */
async function scanWithChecksums(running: RunningApp, body: Record<string, unknown>): Promise<any> {
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body });
  expect(started.status).toBe(202);
  return waitChecksums(running, started.body.id as string);
}

async function waitChecksums(running: RunningApp, id: string, until = (_scan: any) => false): Promise<any> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${id}`, { headers: ADMIN });
    const state = res.body.checksums?.state;
    if (until(res.body) || ['completed', 'failed', 'cancelled'].includes(state)) return res.body;
    if (Date.now() > deadline) throw new Error(`checksums did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function allFiles(running: RunningApp): Promise<{ path: string; sha256?: string }[]> {
  const datasets = await api(running, 'GET', '/api/v1/datasets?limit=100', { headers: ADMIN });
  const out: { path: string; sha256?: string }[] = [];
  for (const d of datasets.body.items as { id: string }[]) {
    const files = await api(running, 'GET', `/api/v1/datasets/${d.id}/files?limit=100`, { headers: ADMIN });
    out.push(...(files.body.items as { path: string; sha256?: string }[]));
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Overwrites a file's bytes in place keeping its size and mtime (what bit rot looks like to a scan). */
function rot(path: string, at: number): void {
  const { atime, mtime } = statSync(path);
  const fd = openSync(path, 'r+');
  const byte = Buffer.alloc(1);
  const original = readFileSync(path)[at]!;
  byte[0] = original ^ 0xff;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
  utimesSync(path, atime, mtime);
}

describe('checksum stage on a POSIX root', () => {
  let running: RunningApp;
  let dataRoot: string;
  let demo: string[];

  beforeAll(async () => {
    dataRoot = tempDir('climcat-checksums-');
    demo = await demoArchive(dataRoot);
    running = await startApp({ env: { DATA_ROOT: dataRoot } });
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it('hashes every file after the scan, reports it apart, and skips unchanged files on a rescan', async () => {
    const first = await scanWithChecksums(running, { root: 'data' });
    expect(first).toMatchObject({ state: 'completed', counts: { seen: demo.length, failed: 0 } });
    const bytes = demo.reduce((n, p) => n + statSync(join(dataRoot, p)).size, 0);
    expect(first.checksums).toMatchObject({
      state: 'completed',
      verify: false,
      pending: demo.length,
      files: demo.length,
      hashed: demo.length,
      current: 0,
      failed: 0,
      mismatched: 0,
      bytes,
    });
    const files = await allFiles(running);
    expect(files.map((f) => [f.path, f.sha256])).toEqual(
      [...demo].sort().map((p) => [p, sha(join(dataRoot, p))]),
    );
    // ESGF File documents carry it too.
    const esgf = await api(
      running,
      'GET',
      '/esg-search/search?type=File&format=application/solr%2Bjson&limit=1',
      {
        headers: ADMIN,
      },
    );
    expect(esgf.body.response.docs[0]).toMatchObject({ checksum_type: ['SHA256'] });

    const again = await scanWithChecksums(running, { root: 'data' });
    expect(again.checksums).toMatchObject({
      state: 'completed',
      pending: 0,
      files: demo.length,
      hashed: 0,
      current: demo.length,
      bytes: 0,
    });
  });

  it('warns on the dataset when a verifying rescan finds an unchanged file with another SHA256', async () => {
    await scanWithChecksums(running, { root: 'data' });
    const tas = demo.find((p) => p.startsWith('cmip5/') && p.includes('/tas/'))!;
    const path = join(dataRoot, tas);
    const before = sha(path);
    rot(path, 100);
    const rotted = sha(path);

    // A plain rescan trusts size and mtime: nothing is read.
    expect((await scanWithChecksums(running, { root: 'data' })).checksums).toMatchObject({ hashed: 0 });

    const verified = await scanWithChecksums(running, { root: 'data', verifyChecksums: true });
    expect(verified.checksums).toMatchObject({
      state: 'completed',
      verify: true,
      hashed: demo.length,
      mismatched: 1,
    });
    const dataset = await api(running, 'GET', `/api/v1/datasets/${TAS_ID}`, { headers: ADMIN });
    expect(dataset.body.checksumWarnings).toEqual([
      { code: 'checksum-mismatch', file: `data/${tas}`, message: expect.stringContaining(rotted) },
    ]);
    // The catalog keeps the checksum it published.
    const files = await api(running, 'GET', `/api/v1/datasets/${TAS_ID}/files`, { headers: ADMIN });
    expect(files.body.items[0].sha256).toBe(before);
    // The intake-esm CSV shows the checksum and the warning of the file.
    const csv = await api(running, 'GET', '/api/v1/exports/intake-esm.csv?project=CMIP5&variable=tas', {
      headers: ADMIN,
    });
    expect(csv.status).toBe(200);
    const [header, ...lines] = String(csv.body).trim().split('\n');
    const rows = lines.map((line) =>
      Object.fromEntries(header!.split(',').map((c, i) => [c, line.split(',')[i] ?? ''])),
    );
    const cells = rows.find((r) => r.path!.endsWith(tas.split('/').pop()!));
    expect(cells).toMatchObject({ checksum_type: 'SHA256', checksum: before });
    expect(cells!.checksum_warning).toMatch(/checksum-mismatch/);

    // Restored: the next verification clears the warning.
    rot(path, 100);
    expect(sha(path)).toBe(before);
    const clean = await scanWithChecksums(running, { root: 'data', verifyChecksums: true });
    expect(clean.checksums).toMatchObject({ mismatched: 0, failed: 0 });
    const after = await api(running, 'GET', `/api/v1/datasets/${TAS_ID}`, { headers: ADMIN });
    expect(after.body.checksumWarnings).toBeUndefined();
  });

  it('rejects a verifyChecksums that is not a boolean', async () => {
    const res = await api(running, 'POST', '/ingest/v1/scans', {
      headers: ADMIN,
      body: { root: 'data', verifyChecksums: 'sometimes' },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/verifyChecksums/);
  });
});

describe('checksum stage across a restart', () => {
  it('resumes with the files still lacking a checksum and hashes none twice', async () => {
    const dataRoot = tempDir('climcat-checksums-resume-');
    const demo = await demoArchive(dataRoot);
    const sizes = demo.map((p) => statSync(join(dataRoot, p)).size);
    // Slow enough that the stage is cut short after the first file or two.
    const slow = String(Math.ceil(Math.max(...sizes) / 2));
    let running = await startApp({
      env: { DATA_ROOT: dataRoot, CHECKSUM_BYTES_PER_SECOND: slow, CHECKSUM_CONCURRENCY: '1' },
    });
    try {
      const started = await api(running, 'POST', '/ingest/v1/scans', {
        headers: ADMIN,
        body: { root: 'data' },
      });
      const cut = await waitChecksums(running, started.body.id, (s) => s.checksums?.hashed >= 1);
      expect(cut.checksums).toMatchObject({ state: 'running', pending: demo.length });
      await running.close({ keepState: true });

      // Same state, unpaced: the stage goes on by itself.
      running = await startApp({
        stateDir: running.stateDir,
        env: { DATA_ROOT: dataRoot, SCAN_ON_BOOT: 'false' },
      });
      const resumed = await waitChecksums(running, started.body.id);
      const { hashed, current } = resumed.checksums;
      expect(resumed.checksums).toMatchObject({ state: 'completed', files: demo.length, failed: 0 });
      // What the first run stored counts as current; only the rest was read.
      expect(current).toBeGreaterThanOrEqual(1);
      expect(hashed).toBeGreaterThanOrEqual(1);
      expect(hashed + current).toBe(demo.length);
      expect(resumed.checksums.pending).toBe(hashed);
      const files = await allFiles(running);
      expect(files.map((f) => [f.path, f.sha256])).toEqual(
        [...demo].sort().map((p) => [p, sha(join(dataRoot, p))]),
      );
    } finally {
      await running.close();
      rmSync(dataRoot, { recursive: true, force: true });
    }
  });
});

describe('checksum stage on an S3 root', () => {
  const BUCKET = `checksums-${process.pid}`;
  let running: RunningApp;
  let archive: string;
  let demo: string[];

  beforeAll(async () => {
    const s3 = s3TestClient();
    await s3.makeBucket(BUCKET);
    archive = tempDir('climcat-checksums-s3-');
    demo = (await demoArchive(archive)).slice(0, 2);
    const [withMeta, without] = demo;
    // One object carries its SHA256 (as `mc cp --attr` or boto3 Metadata would); a wrong-looking value is ignored.
    await s3.putObject(BUCKET, withMeta!, readFileSync(join(archive, withMeta!)), undefined, {
      'x-amz-meta-sha256': sha(join(archive, withMeta!)),
    });
    await s3.putObject(BUCKET, without!, readFileSync(join(archive, without!)), undefined, {
      'x-amz-meta-sha256': 'not-a-checksum',
    });
    running = await startApp({
      env: {
        ROOTS: `obj=s3://${BUCKET}`,
        S3_ENDPOINT: new URL(testEnv('TEST_S3_ENDPOINT')).origin,
        S3_ACCESS_KEY: 'S3RVER',
        S3_SECRET_KEY: 'S3RVER',
      },
    });
  });
  afterAll(async () => {
    await running?.close();
    rmSync(archive, { recursive: true, force: true });
  });

  it("takes an object's own SHA256 without reading it and streams the others", async () => {
    const result = await scanWithChecksums(running, { root: 'obj' });
    expect(result.checksums).toMatchObject({
      state: 'completed',
      files: 2,
      fromObject: 1,
      hashed: 1,
      failed: 0,
      bytes: statSync(join(archive, demo[1]!)).size,
    });
    const files = await allFiles(running);
    expect(files.map((f) => [f.path, f.sha256])).toEqual(
      [...demo].sort().map((p) => [p, sha(join(archive, p))]),
    );
  });
});
