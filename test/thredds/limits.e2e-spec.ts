/**
 * /thredds request limits and accounting: a caller (API key, or client IP
 * when anonymous) runs at most THREDDS_MAX_CONCURRENT_PER_CALLER data
 * requests at once (429 with Retry-After, a DAP2 Error on .dods), slots come
 * back after completion, errors and client aborts; THREDDS_REQUEST_TIMEOUT
 * stops a stream, and answers 503 at once when nothing was sent yet;
 * requests and bytes actually sent are counted, each request has one log
 * line with its constraint, status, bytes and outcome, and an aborted .dods
 * closes its file. Large .dods and NCSS answers are the same bytes for a client
 * that reads slowly, and an aborted NCSS answer closes its file too. Slots are
 * held by pausing the client.
 */
import { STORE, type FileRecord, type Store } from '@climcat/core';
import { MetricsService } from '@climcat/platform';
import { MemoryByteSource, openNetcdf, writeNetcdf3 } from '@climcat/netcdf';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { RequestLimitsService } from '../../apps/thredds-proxy/src/access/request-limits.service';
import { startApp, tempDir, type LogLine, type RunningApp } from '../harness/app';
import { CMIP5_TAS_VARIABLES } from '../harness/cmip5';
import {
  basic,
  catalogArchive,
  PATHS,
  PUBLIC_ID,
  writeArchive,
  type ThreddsArchive,
} from './thredds-archive';

jest.setTimeout(120_000);

const BIG = { time: 4000, lat: 50, lon: 50 };
/** Beside the public NetCDF-3 file: about 40 MB of float data. */
const BIG_PATH = PATHS.nc3.replace(/[^/]+$/, 'tas_big.nc');
/** About 40 MB of records of 80 kB, each after its time value: sent as views of the read blocks. */
const BIG_REC = { time: 500, lat: 100, lon: 200 };
const BIG_REC_PATH = PATHS.nc3.replace(/[^/]+$/, 'tas_big_records.nc');
/** The same as a grid (time, lat and lon coordinates) for NCSS: about 40 MB of records. */
const BIG_GRID_PATH = PATHS.nc3.replace(/[^/]+$/, 'tas_big_grid.nc');
const MAX = 2;
/** A named pipe catalogued as a file: opening it for reading blocks until someone writes (a stalled storage). */
const FIFO_PATH = PATHS.nc3.replace(/[^/]+$/, 'tas_stalled.nc');

let running: RunningApp;
let slow: RunningApp;
let root: string;
let outsideDir: string;
let archive: ThreddsArchive;
let slowReaderKey: string;

interface Held {
  status: number;
  headers: IncomingMessage['headers'];
  res: IncomingMessage;
  req: ClientRequest;
  /** Bytes received until the stream was paused (more arrive only when resumed). */
  received: number;
}

/** Starts a request and pauses its response after the first chunk, so the server keeps it open. */
function hold(app: RunningApp, path: string, headers: Record<string, string> = {}): Promise<Held> {
  const { hostname, port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers, agent: false }, (res) => {
      const held: Held = { status: res.statusCode ?? 0, headers: res.headers, res, req, received: 0 };
      res.once('data', (chunk: Buffer) => {
        held.received += chunk.length;
        res.pause();
        resolve(held);
      });
      res.once('end', () => resolve(held));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a whole response. */
async function get(
  app: RunningApp,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(`${app.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The whole answer to `path`, read by a client that pauses for 20 ms every 50 chunks. */
function readSlowly(app: RunningApp, path: string): Promise<Buffer> {
  const { hostname, port } = new URL(app.url);
  return new Promise<Buffer>((resolve, reject) => {
    const req = request({ hostname, port, path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let pauses = 0;
      res.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        if (pauses++ % 50 === 0) {
          res.pause();
          setTimeout(() => res.resume(), 20);
        }
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function abort(held: Held[]): Promise<void> {
  for (const h of held) h.req.destroy();
}

async function until(what: string, test: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const limitsOf = (app: RunningApp) => app.app.get(RequestLimitsService);
/** Slots held by API-key callers (the key's id is the principal's subject). */
const keyedSlots = (app: RunningApp) =>
  [...(limitsOf(app) as unknown as { running: Map<string, number> }).running]
    .filter(([key]) => key.startsWith('api-key:'))
    .reduce((n, [, held]) => n + held, 0);

async function counter(
  app: RunningApp,
  which: 'threddsRequests' | 'threddsBytes',
  labels: Record<string, string>,
): Promise<number> {
  const metric = await app.app.get(MetricsService)[which].get();
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k as never]) === x))
    .reduce((n, v) => n + v.value, 0);
}

const dods = (path: string, ce = '') => `/thredds/dodsC/data/${path}.dods${ce ? `?${ce}` : ''}`;
const BIG_DODS = dods(BIG_PATH, 'tas');
const BIG_DATA_BYTES = BIG.time * BIG.lat * BIG.lon * 4;
const BIG_REC_DATA_BYTES = BIG_REC.time * BIG_REC.lat * BIG_REC.lon * 4;

async function noSlotsLeft(app: RunningApp): Promise<void> {
  const limits = limitsOf(app);
  await until('all slots to be released', () =>
    [...(limits as unknown as { running: Map<string, number> }).running.values()].every((n) => n === 0),
  );
}

/** A file record beside the public NetCDF-3 file, in its (public) dataset. */
async function catalogFile(app: RunningApp, rel: string, size: number): Promise<void> {
  const now = new Date().toISOString();
  const file: FileRecord = {
    id: `${PUBLIC_ID}/${rel.split('/').pop() ?? rel}`,
    datasetId: PUBLIC_ID,
    location: { root: 'data', path: rel },
    size,
    mtime: now,
    format: 'NETCDF3_CLASSIC',
    timeCoverage: { start: '2005-12-16T00:00:00', end: '2006-03-16T00:00:00', calendar: '360_day' },
    variables: ['tas'],
    status: 'present',
    createdAt: now,
    updatedAt: now,
  };
  await app.app.get<Store>(STORE).files.upsert(file);
}

/** Lets every open of the named pipe that is blocked waiting for a writer go on (it then fails: not a file). */
function releaseFifo(): void {
  if (!root) return;
  try {
    closeSync(openSync(join(root, FIFO_PATH), constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody is waiting to read it.
  }
}

/** Descriptors of this process (the apps run in it) open on `file`. */
function openHandles(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

beforeAll(async () => {
  root = tempDir('climcat-limits-archive-');
  outsideDir = tempDir('climcat-limits-outside-');
  await writeArchive(root, outsideDir);
  const n = BIG.time * BIG.lat * BIG.lon;
  await writeNetcdf3(
    join(root, BIG_PATH),
    {
      dimensions: [
        { name: 'time', length: BIG.time },
        { name: 'lat', length: BIG.lat },
        { name: 'lon', length: BIG.lon },
      ],
      variables: [{ name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [] }],
      globalAttributes: [],
      numRecords: 0,
    },
    { tas: Float32Array.from({ length: n }, (_, i) => i % 1000) },
  );
  const nRec = BIG_REC.time * BIG_REC.lat * BIG_REC.lon;
  await writeNetcdf3(
    join(root, BIG_REC_PATH),
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: BIG_REC.lat },
        { name: 'lon', length: BIG_REC.lon },
      ],
      variables: [
        { name: 'time', type: 'double', dimensions: ['time'], attributes: [] },
        { name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [] },
      ],
      globalAttributes: [],
      numRecords: BIG_REC.time,
    },
    {
      time: Float64Array.from({ length: BIG_REC.time }, (_, i) => i + 0.5),
      tas: Float32Array.from({ length: nRec }, (_, i) => i % 1000),
    },
  );
  await writeNetcdf3(
    join(root, BIG_GRID_PATH),
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: BIG_REC.lat },
        { name: 'lon', length: BIG_REC.lon },
      ],
      variables: CMIP5_TAS_VARIABLES,
      globalAttributes: [],
      numRecords: BIG_REC.time,
    },
    {
      time: Float64Array.from({ length: BIG_REC.time }, (_, i) => i + 0.5),
      lat: Float64Array.from({ length: BIG_REC.lat }, (_, j) => -89.1 + j * 1.8),
      lon: Float64Array.from({ length: BIG_REC.lon }, (_, i) => i * 1.8),
      tas: Float32Array.from({ length: nRec }, (_, i) => i % 1000),
    },
  );
  running = await startApp({
    env: { DATA_ROOT: root, THREDDS_MAX_CONCURRENT_PER_CALLER: String(MAX), THREDDS_BIN_LIMIT: '1GB' },
    logs: true,
  });
  slow = await startApp({
    env: { DATA_ROOT: root, THREDDS_REQUEST_TIMEOUT: '1s', THREDDS_BIN_LIMIT: '1GB' },
  });
  archive = { ...(await catalogArchive(running, root)), outside: '' };
  slowReaderKey = (await catalogArchive(slow, root)).readerKey;
  execFileSync('mkfifo', [join(root, FIFO_PATH)]);
  for (const app of [running, slow]) {
    await catalogFile(app, BIG_PATH, statSync(join(root, BIG_PATH)).size);
    await catalogFile(app, BIG_REC_PATH, statSync(join(root, BIG_REC_PATH)).size);
    await catalogFile(app, BIG_GRID_PATH, statSync(join(root, BIG_GRID_PATH)).size);
    await catalogFile(app, FIFO_PATH, 1000);
  }
});

afterAll(async () => {
  releaseFifo();
  await running?.close();
  await slow?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

describe('THREDDS_MAX_CONCURRENT_PER_CALLER', () => {
  afterEach(() => noSlotsLeft(running));

  it('refuses a caller over the limit with 429 and Retry-After, in the format of each route', async () => {
    const who = basic(archive.readerKey);
    const held = [await hold(running, BIG_DODS, who), await hold(running, BIG_DODS, who)];
    try {
      expect(held.map((h) => h.status)).toEqual([200, 200]);
      expect(keyedSlots(running)).toBe(MAX);

      const dap = await get(running, BIG_DODS, who);
      expect(dap.status).toBe(429);
      expect(dap.headers.get('content-description')).toBe('dods-error');
      expect(Number(dap.headers.get('retry-after'))).toBeGreaterThan(0);
      const text = dap.body.toString('utf8');
      expect(text).toMatch(
        /^Error \{\n {4}code = 429;\n {4}message = ".*THREDDS_MAX_CONCURRENT_PER_CALLER is 2/,
      );

      const ascii = await get(running, `/thredds/dodsC/data/${PATHS.nc3}.ascii?tas`, who);
      expect(ascii.status).toBe(429);
      expect(ascii.headers.get('content-type')).toContain('application/problem+json');
      expect(ascii.headers.get('retry-after')).toBeTruthy();
      expect(JSON.parse(ascii.body.toString()).detail).toContain('THREDDS_MAX_CONCURRENT_PER_CALLER is 2');

      const file = await get(running, `/thredds/fileServer/data/${PATHS.bytes}`, who);
      expect(file.status).toBe(429);
      expect(file.headers.get('content-type')).toContain('application/problem+json');

      // Metadata requests and HEAD take no slot; another caller has slots of its own.
      expect((await get(running, `/thredds/dodsC/data/${BIG_PATH}.dds`, who)).status).toBe(200);
      const head = await fetch(`${running.url}/thredds/fileServer/data/${PATHS.bytes}`, {
        method: 'HEAD',
        headers: who,
      });
      expect(head.status).toBe(200);
      expect((await get(running, dods(PATHS.nc3, 'tas'))).status).toBe(200);
    } finally {
      await abort(held);
    }
  });

  it('gives the slots back after client aborts, completions and errors', async () => {
    const who = basic(archive.readerKey);
    for (let round = 0; round < 3; round++) {
      const held = [await hold(running, BIG_DODS, who), await hold(running, BIG_DODS, who)];
      expect(held.map((h) => h.status)).toEqual([200, 200]);
      expect((await get(running, BIG_DODS, who)).status).toBe(429);
      await abort(held);
      await until('the aborted slots to be released', () => keyedSlots(running) === 0);
    }
    // Sequential requests that complete or fail never pile up.
    for (let i = 0; i < MAX + 2; i++) {
      expect((await get(running, dods(PATHS.nc3, 'tas'), who)).status).toBe(200);
      expect((await get(running, dods(PATHS.nc3, 'nosuchvariable'), who)).status).toBe(400);
      expect((await get(running, `/thredds/fileServer/data/${PATHS.bytes}`, who)).status).toBe(200);
      expect(
        (await get(running, `/thredds/fileServer/data/${PATHS.secret}`, basic(archive.otherKey))).status,
      ).toBe(404);
    }
    expect(keyedSlots(running)).toBe(0);
  });

  it('counts anonymous callers by client IP', async () => {
    const held = [await hold(running, BIG_DODS), await hold(running, BIG_DODS)];
    try {
      expect(held.map((h) => h.status)).toEqual([200, 200]);
      expect(limitsOf(running).inUse('ip:127.0.0.1')).toBe(MAX);
      expect((await get(running, BIG_DODS)).status).toBe(429);
      expect((await get(running, dods(PATHS.nc3, 'tas'), basic(archive.readerKey))).status).toBe(200);
    } finally {
      await abort(held);
    }
  });
});

describe('THREDDS_REQUEST_TIMEOUT', () => {
  it('stops a stream that runs too long, and the caller can go on', async () => {
    const who = basic(slowReaderKey);
    const held = await hold(slow, BIG_DODS, who);
    expect(held.status).toBe(200);
    // Paused past the limit: the server closes the response and releases the slot...
    await until('the time limit to release the slot', () => keyedSlots(slow) === 0);
    // ...so reading on ends early, short of the whole answer.
    const ended = new Promise<{ complete: boolean; received: number }>((resolve) => {
      held.res.on('data', (chunk: Buffer) => (held.received += chunk.length));
      held.res.once('close', () => resolve({ complete: held.res.complete, received: held.received }));
      held.res.on('error', () => undefined);
    });
    held.res.resume();
    const result = await ended;
    expect(result.complete).toBe(false);
    expect(result.received).toBeLessThan(BIG_DATA_BYTES);
    expect(await counter(slow, 'threddsRequests', { service: 'dodsC', suffix: 'dods', status: '200' })).toBe(
      1,
    );
    expect((await get(slow, dods(PATHS.nc3, 'tas'), who)).status).toBe(200);
  });
});

describe('THREDDS_REQUEST_TIMEOUT before anything was sent', () => {
  afterEach(() => releaseFifo());

  it.each([
    ['.dods, as a DAP2 Error', dods(FIFO_PATH, 'tas'), 'dods'],
    ['fileServer, as a problem', `/thredds/fileServer/data/${FIFO_PATH}`, ''],
  ])('answers 503 with Retry-After while the file is still opening: %s', async (_label, path, suffix) => {
    const who = basic(slowReaderKey);
    const before = await counter(slow, 'threddsRequests', { suffix, status: '503' });
    // The open blocks until the pipe has a writer: only the time limit can answer.
    const res = await get(slow, path, who);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const text = res.body.toString('utf8');
    if (suffix === 'dods') {
      expect(res.headers.get('content-description')).toBe('dods-error');
      expect(text).toMatch(/^Error \{\n {4}code = 503;\n {4}message = ".*THREDDS_REQUEST_TIMEOUT \(1s\)/);
    } else {
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.parse(text).detail).toContain('THREDDS_REQUEST_TIMEOUT (1s) before any data was sent');
    }
    expect(keyedSlots(slow)).toBe(0);
    // The stalled open now fails (a pipe is no file); the 503 stands and the caller goes on.
    releaseFifo();
    expect((await get(slow, dods(PATHS.nc3, 'tas'), who)).status).toBe(200);
    expect(await counter(slow, 'threddsRequests', { suffix, status: '503' })).toBe(before + 1);
  });
});

describe('requests and bytes in Prometheus', () => {
  afterEach(() => noSlotsLeft(running));

  it('counts requests by service, suffix and status, and the bytes of each answer', async () => {
    const labels = { service: 'dodsC', suffix: 'dods', status: '200' };
    const before = await counter(running, 'threddsRequests', labels);
    const bytesBefore = await counter(running, 'threddsBytes', { service: 'dodsC' });
    // identity: the counter counts bytes sent, which deflate would make fewer than the body read here.
    const answer = await get(running, dods(PATHS.nc3, 'tas'), { 'Accept-Encoding': 'identity' });
    expect(answer.status).toBe(200);
    await until(
      'the request to be counted',
      async () => (await counter(running, 'threddsRequests', labels)) === before + 1,
    );
    expect((await counter(running, 'threddsBytes', { service: 'dodsC' })) - bytesBefore).toBe(
      answer.body.length,
    );

    const catalogBefore = await counter(running, 'threddsRequests', {
      service: 'catalog',
      suffix: 'xml',
      status: '200',
    });
    expect((await get(running, '/thredds/catalog.xml')).status).toBe(200);
    await until(
      'the catalog request to be counted',
      async () =>
        (await counter(running, 'threddsRequests', { service: 'catalog', suffix: 'xml', status: '200' })) ===
        catalogBefore + 1,
    );
    const filesBefore = await counter(running, 'threddsBytes', { service: 'fileServer' });
    const file = await get(running, `/thredds/fileServer/data/${PATHS.bytes}`, { Range: 'bytes=0-999' });
    expect(file.status).toBe(206);
    await until(
      'the file bytes to be counted',
      async () => (await counter(running, 'threddsBytes', { service: 'fileServer' })) === filesBefore + 1000,
    );
    expect(
      await counter(running, 'threddsRequests', { service: 'fileServer', suffix: '', status: '206' }),
    ).toBeGreaterThan(0);
  });

  it('a .dods aborted by the client stops reading: bytes sent stay far below the full answer', async () => {
    const labels = { service: 'dodsC', suffix: 'dods', status: '200' };
    const before = await counter(running, 'threddsRequests', labels);
    const bytesBefore = await counter(running, 'threddsBytes', { service: 'dodsC' });
    const held = await hold(running, BIG_DODS);
    expect(held.status).toBe(200);
    await abort([held]);
    await until(
      'the aborted request to be counted',
      async () => (await counter(running, 'threddsRequests', labels)) === before + 1,
    );
    const sent = (await counter(running, 'threddsBytes', { service: 'dodsC' })) - bytesBefore;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(BIG_DATA_BYTES / 4);
  });
});

describe('the log line of each /thredds request', () => {
  afterEach(() => noSlotsLeft(running));

  /** The completion line of the request with this constraint, once written. */
  async function lineOf(constraint: string): Promise<LogLine> {
    let line: LogLine | undefined;
    await until(`the log line of ?${constraint}`, () => {
      line = running.logs.find(
        (l) => (l.thredds as { constraint?: string } | undefined)?.constraint === constraint,
      );
      return line !== undefined;
    });
    return line as LogLine;
  }

  it('says what a completed .dods asked for, its status and the bytes sent', async () => {
    const ce = 'tas[0:1][0:2][0:3]';
    const answer = await get(running, dods(PATHS.nc3, ce), { 'Accept-Encoding': 'identity' });
    expect(answer.status).toBe(200);
    const line = await lineOf(ce);
    expect(line).toEqual(
      expect.objectContaining({
        msg: 'request completed',
        bytes: answer.body.length,
        res: expect.objectContaining({ statusCode: 200 }) as unknown,
        thredds: { service: 'dodsC', suffix: 'dods', constraint: ce },
      }),
    );
    // One line per request: the platform's, with the thredds fields.
    expect(running.logs.filter((l) => l.thredds === line.thredds)).toHaveLength(1);
  });

  it('says that a .dods was aborted, and how much of it was sent', async () => {
    const ce = 'tas[0:3999][0:49][0:49]';
    const held = await hold(running, dods(BIG_PATH, ce));
    expect(held.status).toBe(200);
    await abort([held]);
    const line = await lineOf(ce);
    expect(line.msg).toBe('request aborted');
    expect(line.res).toEqual(expect.objectContaining({ statusCode: 200 }));
    expect(line.bytes).toBeGreaterThan(0);
    expect(line.bytes).toBeLessThan(BIG_DATA_BYTES / 4);
  });

  it('names an error answer and its status', async () => {
    expect((await get(running, dods(PATHS.nc3, 'nosuchvariable'))).status).toBe(400);
    const line = await lineOf('nosuchvariable');
    expect(line.msg).toBe('request completed');
    expect(line.res).toEqual(expect.objectContaining({ statusCode: 400 }));
    expect(line.bytes).toBeGreaterThan(0);
  });
});

describe('a .dods larger than its read buffers', () => {
  afterEach(() => noSlotsLeft(running));

  /** The data part of `path`'s answer, read by a client that pauses every 50 chunks. */
  async function slowlyRead(path: string): Promise<Buffer> {
    const body = await readSlowly(running, path);
    return body.subarray(body.indexOf('\nData:\n') + 7);
  }

  it('is the file’s values, byte for byte, for a client that reads slowly', async () => {
    // The reader reuses a few buffers, each only once the socket has written it: a client that pauses
    // keeps writes pending, and any buffer read into too early would show as wrong values here.
    const data = await slowlyRead(BIG_DODS);
    expect(data.length).toBe(8 + BIG_DATA_BYTES);
    expect([data.readUInt32BE(0), data.readUInt32BE(4)]).toEqual([BIG_DATA_BYTES / 4, BIG_DATA_BYTES / 4]);
    const want = Buffer.from(
      Float32Array.from({ length: BIG_DATA_BYTES / 4 }, (_, i) => i % 1000).buffer,
    ).swap32();
    expect(data.subarray(8).equals(want)).toBe(true);
  });

  it('is a record variable’s values, byte for byte, for a client that reads slowly', async () => {
    // Each block read holds several records apart (the time values between them), written as
    // views where they were read: a buffer given back before its last view is written shows here.
    const data = await slowlyRead(dods(BIG_REC_PATH, 'tas'));
    expect(data.length).toBe(8 + BIG_REC_DATA_BYTES);
    expect([data.readUInt32BE(0), data.readUInt32BE(4)]).toEqual([
      BIG_REC_DATA_BYTES / 4,
      BIG_REC_DATA_BYTES / 4,
    ]);
    const want = Buffer.from(
      Float32Array.from({ length: BIG_REC_DATA_BYTES / 4 }, (_, i) => i % 1000).buffer,
    ).swap32();
    expect(data.subarray(8).equals(want)).toBe(true);
  });

  it('answers HEAD with the headers of the answer and no body, reading nothing', async () => {
    const res = await fetch(`${running.url}${BIG_DODS}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-description')).toBe('dods-data');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe('an NCSS answer larger than its staging buffers', () => {
  afterEach(() => noSlotsLeft(running));
  /** A box of 40 × 150 of the 100 × 200 cells, every record (about 12 MB). */
  const BOX = { lat: [20, 59], lon: [10, 159] } as const;
  const latOf = (j: number) => -89.1 + j * 1.8;
  const ncss = `/thredds/ncss/grid/data/${BIG_GRID_PATH}?var=tas&south=${latOf(BOX.lat[0])}&north=${latOf(BOX.lat[1])}&west=${BOX.lon[0] * 1.8}&east=${BOX.lon[1] * 1.8}&accept=netcdf`;

  it('is the box of every record, byte for byte the same for a client that reads slowly', async () => {
    // Staging buffers are reused once the socket wrote them, and the writer no longer waits for
    // an empty queue: a buffer filled again too early would show as wrong values here.
    const slowBody = await readSlowly(running, ncss);
    const fast = await get(running, ncss);
    expect(fast.status).toBe(200);
    expect(Number(fast.headers.get('content-length'))).toBe(fast.body.length);
    // The same bytes but for the second of the history line ("<ISO time> climcat NetCDF Subset Service: ...").
    const stamp = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(?= climcat NetCDF Subset Service)/g;
    const unstamped = (body: Buffer) => body.toString('latin1').replace(stamp, 'TIME');
    expect(slowBody.length).toBe(fast.body.length);
    expect(unstamped(slowBody) === unstamped(fast.body)).toBe(true);
    // And the slow answer holds the box's values (what an early reuse of a buffer would break).
    const answer = await openNetcdf(new MemoryByteSource(new Uint8Array(slowBody)));
    const tas = (await answer.read('tas')) as Float32Array;
    const [ny, nx] = [BOX.lat[1] - BOX.lat[0] + 1, BOX.lon[1] - BOX.lon[0] + 1];
    expect(tas.length).toBe(BIG_REC.time * ny * nx);
    let wrong = 0;
    for (let t = 0; t < BIG_REC.time; t++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const source = (t * BIG_REC.lat + BOX.lat[0] + j) * BIG_REC.lon + BOX.lon[0] + i;
          if (tas[(t * ny + j) * nx + i] !== source % 1000) wrong++;
        }
    expect(wrong).toBe(0);
    await answer.close();
  });

  it('stopped by the client closes its file and gives its slot back', async () => {
    const file = realpathSync(join(root, BIG_GRID_PATH));
    expect((await get(running, `${ncss}&timeStride=100`)).status).toBe(200);
    const baseline = openHandles(file);
    const held = await hold(running, ncss);
    expect(held.status).toBe(200);
    expect(held.received).toBeLessThan(Number(held.headers['content-length']));
    await abort([held]);
    await until('the aborted answer to close its file', () => openHandles(file) === baseline);
  });
});

describe('a .dods aborted by the client', () => {
  afterEach(() => noSlotsLeft(running));

  it('closes its file at once', async () => {
    const file = realpathSync(join(root, BIG_PATH));
    // Whatever a complete answer leaves open (a cache of opened files, if any) is the baseline.
    expect((await get(running, dods(BIG_PATH, 'tas[0][0][0]'))).status).toBe(200);
    const baseline = openHandles(file);
    const held = await hold(running, BIG_DODS);
    expect(held.status).toBe(200);
    await abort([held]);
    await until('the aborted answer to close its file', () => openHandles(file) === baseline);
  });
});
