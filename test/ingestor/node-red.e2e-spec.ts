/**
 * Embedded Node-RED: admin auth in front of /red, the climcat nodes in a
 * deployed watch flow (good and bad files), and headless mode.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { api } from '../catalog/seed';
import { ADMIN, bearer, startApp, tempDir, TEST_ADMIN_KEY, type RunningApp } from '../harness/app';
import { plainFile } from './archive';

const V2 = { 'Node-RED-API-Version': 'v2' };
/** Starting the app with Node-RED, and flows that wait for queue retries, take longer than jest's default 5 s. */
const SLOW = 30_000;

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** Polls `probe` until it returns a value (bounded: the flows involved settle within a few seconds). */
async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Status of a WebSocket handshake on the editor's comms channel: 101 upgraded, 0 closed without an answer. */
function commsHandshake(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}/red/comms`, {
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

const at = (x: number, y: number) => ({ x, y });

/** Function node that appends `entry` (JS expression over msg) to a flow-context list. */
function remember(z: string, id: string, list: string, entry: string, position: { x: number; y: number }) {
  return {
    id,
    type: 'function',
    z,
    name: `remember ${list}`,
    func: `const list = flow.get('${list}') || [];\nlist.push(${entry});\nflow.set('${list}', list);\nreturn null;`,
    outputs: 1,
    libs: [],
    ...position,
    wires: [[]],
  };
}

/**
 * watch → .nc → file ready → catalog upsert → wait for job, plus netcdf
 * metadata on the side and a catch; outcomes are kept in flow context and
 * served at GET /red/api/outcomes.
 */
function beamlineFlow(dir: string): unknown[] {
  return [
    { id: 'testflow', type: 'tab', label: 'beamline test', disabled: false, info: '' },
    {
      id: 'watch',
      type: 'watch',
      z: 'testflow',
      name: '',
      files: dir,
      recursive: false,
      ...at(100, 100),
      wires: [['only-nc']],
    },
    {
      id: 'only-nc',
      type: 'switch',
      z: 'testflow',
      name: '',
      property: 'filename',
      propertyType: 'msg',
      rules: [{ t: 'regex', v: '\\.nc$', vt: 'str', case: true }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      ...at(250, 100),
      wires: [['ready']],
    },
    {
      id: 'ready',
      type: 'climcat file ready',
      z: 'testflow',
      name: '',
      interval: 150,
      timeout: 30,
      ...at(400, 100),
      wires: [['upsert', 'inspect']],
    },
    {
      id: 'upsert',
      type: 'climcat catalog upsert',
      z: 'testflow',
      name: '',
      root: '',
      ...at(550, 100),
      wires: [['wait']],
    },
    {
      id: 'wait',
      type: 'climcat wait for job',
      z: 'testflow',
      name: '',
      interval: 150,
      timeout: 30,
      ...at(700, 100),
      wires: [['completed'], ['failed']],
    },
    remember('testflow', 'completed', 'completed', '{ file: msg.file, result: msg.payload }', at(900, 80)),
    remember('testflow', 'failed', 'failed', '{ file: msg.file, reason: msg.payload.reason }', at(900, 120)),
    {
      id: 'inspect',
      type: 'climcat netcdf metadata',
      z: 'testflow',
      name: '',
      root: '',
      ...at(550, 160),
      wires: [['inspected']],
    },
    remember(
      'testflow',
      'inspected',
      'inspected',
      '{ path: msg.file.path, dataset: msg.payload.grouping.id }',
      at(750, 160),
    ),
    {
      id: 'catch',
      type: 'catch',
      z: 'testflow',
      name: '',
      scope: null,
      uncaught: false,
      ...at(100, 220),
      wires: [['caught']],
    },
    remember(
      'testflow',
      'caught',
      'caught',
      '{ source: msg.error.source.type, message: msg.error.message, reason: msg.reason }',
      at(300, 220),
    ),
    {
      id: 'outcomes-in',
      type: 'http in',
      z: 'testflow',
      name: '',
      url: '/outcomes',
      method: 'get',
      upload: false,
      ...at(100, 280),
      wires: [['outcomes']],
    },
    {
      id: 'outcomes',
      type: 'function',
      z: 'testflow',
      name: '',
      func: "msg.payload = Object.fromEntries(['completed', 'failed', 'inspected', 'caught'].map((k) => [k, flow.get(k) || []]));\nreturn msg;",
      outputs: 1,
      libs: [],
      ...at(300, 280),
      wires: [['outcomes-out']],
    },
    {
      id: 'outcomes-out',
      type: 'http response',
      z: 'testflow',
      name: '',
      statusCode: '',
      headers: {},
      ...at(500, 280),
      wires: [],
    },
    // POST /red/api/scan { prefix } → climcat scan → wait for job → the finished scan as the answer.
    {
      id: 'scan-in',
      type: 'http in',
      z: 'testflow',
      name: '',
      url: '/scan',
      method: 'post',
      upload: false,
      ...at(100, 340),
      wires: [['scan']],
    },
    {
      id: 'scan',
      type: 'climcat scan',
      z: 'testflow',
      name: '',
      root: '',
      prefix: '',
      ...at(300, 340),
      wires: [['scan-wait']],
    },
    {
      id: 'scan-wait',
      type: 'climcat wait for job',
      z: 'testflow',
      name: '',
      interval: 100,
      timeout: 30,
      ...at(500, 340),
      wires: [['scan-out'], ['scan-out']],
    },
    {
      id: 'scan-out',
      type: 'http response',
      z: 'testflow',
      name: '',
      statusCode: '',
      headers: {},
      ...at(700, 340),
      wires: [],
    },
  ];
}

describe('Node-RED at /red', () => {
  let running: RunningApp;
  let dataRoot: string;
  let readerKey: string;

  beforeAll(async () => {
    dataRoot = tempDir('climcat-beamline-');
    mkdirSync(join(dataRoot, 'beamline'));
    running = await startApp({
      env: { DATA_ROOT: dataRoot, SCAN_ON_BOOT: 'false', NODE_RED_ENABLED: 'true' },
    });
    const key = await api(running, 'POST', '/api/v1/auth/keys', {
      headers: ADMIN,
      body: { name: 'reader', roles: ['reader'], groups: [] },
    });
    readerKey = key.body.key;
    // Node-RED starts in the background once the app listens: the editor and its channel answer 503 until then.
    await eventually('Node-RED started', async () =>
      (await commsHandshake(running.url, ADMIN)) === 101 ? true : undefined,
    );
  }, SLOW);
  afterAll(async () => {
    await running?.close();
    rmSync(dataRoot, { recursive: true, force: true });
  }, SLOW);

  describe('admin auth', () => {
    it('challenges a caller without credentials with 401 problem+json and a Basic realm', async () => {
      const res = await api(running, 'GET', '/red/');
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="climcat Node-RED"');
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized', instance: '/red/' });
    });

    it('refuses a reader with 403', async () => {
      const res = await api(running, 'GET', '/red/', { headers: bearer(readerKey) });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toMatch(/admin role/);
    });

    it('rejects a wrong key with 401', async () => {
      const res = await api(running, 'GET', '/red/', { headers: basic('operator', 'not-a-key-0123456789') });
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/unknown, revoked or expired/);
    });

    it('serves the editor to an admin Bearer key, /red redirecting to /red/', async () => {
      const res = await fetch(`${running.url}/red`, { headers: ADMIN });
      expect(res.status).toBe(200);
      expect(res.url).toBe(`${running.url}/red/`);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('<title>climcat Node-RED</title>');
    });

    it('serves the editor to HTTP Basic with any user name and the admin key as password', async () => {
      const res = await fetch(`${running.url}/red/`, { headers: basic('beamline-operator', TEST_ADMIN_KEY) });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<title>climcat Node-RED</title>');
    });

    it("guards the admin API and the editor's WebSocket channel alike", async () => {
      expect((await api(running, 'GET', '/red/flows', { headers: V2 })).status).toBe(401);
      expect((await api(running, 'GET', '/red/settings', { headers: bearer(readerKey) })).status).toBe(403);
      expect(await commsHandshake(running.url)).toBe(401);
      expect(await commsHandshake(running.url, bearer(readerKey))).toBe(403);
      expect(await commsHandshake(running.url, ADMIN)).toBe(101);
    });

    it('lists the climcat nodes and keeps everything that would phone home off', async () => {
      const nodes = await api(running, 'GET', '/red/nodes', {
        headers: { ...ADMIN, Accept: 'application/json' },
      });
      const types = (nodes.body as { types: string[] }[]).flatMap((set) => set.types);
      expect(types).toEqual(
        expect.arrayContaining([
          'climcat netcdf metadata',
          'climcat catalog upsert',
          'climcat scan',
          'climcat wait for job',
          'climcat file ready',
        ]),
      );
      const settings = await api(running, 'GET', '/red/settings', { headers: ADMIN });
      expect(settings.body).toMatchObject({
        telemetryEnabled: false,
        diagnostics: { enabled: false },
        runtimeState: { enabled: false },
        externalModules: { palette: { allowInstall: false, allowUpload: false } },
        editorTheme: { palette: { catalogues: [] }, projects: { enabled: false } },
      });
      expect(JSON.stringify(settings.body)).not.toContain('credentialSecret');
      // The editor cannot opt in to telemetry either.
      await api(running, 'POST', '/red/settings/user', { headers: ADMIN, body: { telemetryEnabled: true } });
      expect((await api(running, 'GET', '/red/settings', { headers: ADMIN })).body.telemetryEnabled).toBe(
        false,
      );
    });

    it('leaves flow endpoints under /red/api to the flows: an unknown one is a plain 404', async () => {
      const res = await api(running, 'GET', '/red/api/no-such-endpoint');
      expect(res.status).toBe(404);
      expect(res.headers.get('www-authenticate')).toBeNull();
    });

    it('installed the beamline example on first start, disabled, watching DATA_ROOT/beamline', async () => {
      const res = await api(running, 'GET', '/red/flows', { headers: { ...ADMIN, ...V2 } });
      expect(res.status).toBe(200);
      const flows = res.body.flows as {
        type: string;
        label?: string;
        disabled?: boolean;
        files?: string;
        env?: unknown;
      }[];
      expect(flows.find((n) => n.type === 'tab')).toMatchObject({
        label: 'Beamline example',
        disabled: true,
      });
      expect(flows.find((n) => n.type === 'watch')?.files).toBe('${CLIMCAT_BEAMLINE_DIR}');
      expect(flows.find((n) => n.type === 'global-config')?.env).toEqual([
        { name: 'CLIMCAT_BEAMLINE_DIR', value: join(dataRoot, 'beamline'), type: 'str' },
      ]);
    });
  });

  describe('a watch flow deployed through the admin API', () => {
    const outcomes = async () => (await api(running, 'GET', '/red/api/outcomes')).body;

    beforeAll(async () => {
      const deployed = await api(running, 'POST', '/red/flows', {
        headers: { ...ADMIN, ...V2 },
        body: { flows: beamlineFlow(join(dataRoot, 'beamline')) },
      });
      expect(deployed.status).toBe(200);
      // Flows start after the deploy answers; the flow's endpoint appears once its nodes (the watch too) run.
      await eventually('the deployed flow running', async () =>
        (await api(running, 'GET', '/red/api/outcomes')).status === 200 ? true : undefined,
      );
    }, SLOW);

    it(
      'registers a NetCDF file written into the watched directory',
      async () => {
        await plainFile(dataRoot, 'beamline/run-0001.nc');
        const dataset = await eventually('dataset other.beamline in the catalog', async () => {
          const res = await api(running, 'GET', '/api/v1/datasets?limit=100', { headers: ADMIN });
          return (res.body.items as { id: string }[]).find((d) => d.id === 'other.beamline');
        });
        expect(dataset).toMatchObject({ kind: 'derived', fileCount: 1 });
        const seen = await eventually('completed job on the first output', async () => {
          const o = await outcomes();
          return o.completed.length && o.inspected.length ? o : undefined;
        });
        expect(seen.completed).toEqual([
          {
            file: { root: 'data', path: 'beamline/run-0001.nc' },
            result: { datasetId: 'other.beamline', files: 1 },
          },
        ]);
        expect(seen.inspected).toEqual([{ path: 'beamline/run-0001.nc', dataset: 'other.beamline' }]);
        expect(seen.failed).toEqual([]);
      },
      SLOW,
    );

    it(
      'reports an HTML page saved as .nc as a failed job with the reason, at /ingest/v1/errors and in the flow',
      async () => {
        writeFileSync(
          join(dataRoot, 'beamline', 'saved-page.nc'),
          '<!DOCTYPE html><html><body>Login</body></html>',
        );
        const error = await eventually('failed record job in /ingest/v1/errors', async () => {
          const res = await api(running, 'GET', '/ingest/v1/errors', { headers: ADMIN });
          return (res.body.items as { source: string; path: string; reason: string }[]).find(
            (e) => e.path === 'beamline/saved-page.nc',
          );
        });
        expect(error.source).toMatch(/^records:/);
        expect(error.reason).toMatch(/not (a )?NetCDF|signature/i);
        const seen = await eventually('failure on the second output and the catch', async () => {
          const o = await outcomes();
          return o.failed.length && o.caught.length ? o : undefined;
        });
        expect(seen.failed).toEqual([
          { file: { root: 'data', path: 'beamline/saved-page.nc' }, reason: error.reason },
        ]);
        // netcdf metadata raised the same file to the Catch node with a typed reason.
        expect(seen.caught).toEqual([
          {
            source: 'climcat netcdf metadata',
            message: expect.stringContaining('saved-page.nc'),
            reason: expect.objectContaining({ kind: 'invalid', code: 'NOT_NETCDF' }),
          },
        ]);
      },
      SLOW,
    );

    it(
      'scans a prefix through the scan and wait-for-job nodes',
      async () => {
        await plainFile(dataRoot, 'scanned/a.nc');
        await plainFile(dataRoot, 'scanned/b.nc');
        const res = await api(running, 'POST', '/red/api/scan', { body: { prefix: 'scanned' } });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          root: 'data',
          prefix: 'scanned',
          state: 'completed',
          requestedBy: 'node-red',
          counts: { seen: 2, new: 2, failed: 0 },
        });
      },
      SLOW,
    );
  });
});

describe('headless Node-RED (NODE_RED_EDITOR=false)', () => {
  let running: RunningApp;
  let dataRoot: string;

  beforeAll(async () => {
    dataRoot = tempDir('climcat-headless-');
    await plainFile(dataRoot, 'headless/run.nc');
    const stateDir = tempDir();
    mkdirSync(join(stateDir, 'node-red'));
    // A flow deployed earlier (or mounted from a ConfigMap): register one file at start, report at /red/api/status.
    const flows = [
      { id: 'headless', type: 'tab', label: 'headless', disabled: false, info: '' },
      {
        id: 'once',
        type: 'inject',
        z: 'headless',
        name: '',
        props: [{ p: 'payload' }],
        repeat: '',
        crontab: '',
        once: true,
        onceDelay: 0.1,
        topic: '',
        payload: JSON.stringify({ root: 'data', path: 'headless/run.nc' }),
        payloadType: 'json',
        ...at(100, 100),
        wires: [['upsert']],
      },
      {
        id: 'upsert',
        type: 'climcat catalog upsert',
        z: 'headless',
        name: '',
        root: '',
        ...at(300, 100),
        wires: [['wait']],
      },
      {
        id: 'wait',
        type: 'climcat wait for job',
        z: 'headless',
        name: '',
        interval: 100,
        timeout: 30,
        ...at(500, 100),
        wires: [['done'], ['done']],
      },
      remember('headless', 'done', 'done', 'msg.payload', at(700, 100)),
      {
        id: 'status-in',
        type: 'http in',
        z: 'headless',
        name: '',
        url: '/status',
        method: 'get',
        upload: false,
        ...at(100, 200),
        wires: [['status']],
      },
      {
        id: 'status',
        type: 'function',
        z: 'headless',
        name: '',
        func: "msg.payload = flow.get('done') || [];\nreturn msg;",
        outputs: 1,
        libs: [],
        ...at(300, 200),
        wires: [['status-out']],
      },
      {
        id: 'status-out',
        type: 'http response',
        z: 'headless',
        name: '',
        statusCode: '',
        headers: {},
        ...at(500, 200),
        wires: [],
      },
    ];
    writeFileSync(join(stateDir, 'node-red', 'flows.json'), JSON.stringify(flows));
    running = await startApp({
      stateDir,
      env: { DATA_ROOT: dataRoot, SCAN_ON_BOOT: 'false', NODE_RED_EDITOR: 'false', NODE_RED_ENABLED: 'true' },
    });
  }, SLOW);
  afterAll(async () => {
    await running?.close();
    rmSync(dataRoot, { recursive: true, force: true });
  }, SLOW);

  it('has no editor, admin API or editor channel', async () => {
    for (const path of ['/red', '/red/', '/red/flows']) {
      const res = await api(running, 'GET', path, { headers: ADMIN });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    expect(await commsHandshake(running.url, ADMIN)).toBe(0);
  });

  it(
    'still runs the deployed flows, with their HTTP endpoints at /red/api',
    async () => {
      const done = await eventually('the flow registered headless/run.nc', async () => {
        const res = await api(running, 'GET', '/red/api/status');
        return res.status === 200 && res.body.length ? res.body : undefined;
      });
      expect(done).toEqual([{ datasetId: 'other.headless', files: 1 }]);
      const dataset = await api(running, 'GET', '/api/v1/datasets/other.headless', { headers: ADMIN });
      expect(dataset.status).toBe(200);
    },
    SLOW,
  );
});
