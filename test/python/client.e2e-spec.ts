/**
 * The Python client (clients/python) against climcat started here: the demo
 * archive scanned into the catalog, a derived dataset with lineage, a
 * private one, a small THREDDS_BIN_LIMIT (so reads split) and small scratch
 * quotas. Runs the client's unittest suite with Debian's python3 and checks
 * that it passed and that enough tests ran (it cannot pass with none).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeDemoArchive } from '../../apps/standalone/src/demo-archive';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';
import { which } from '../harness/servers';
import { PYTHON } from '../netcdf/tools';

jest.setTimeout(300_000);

const exec = promisify(execFile);
const CLIENT = join(__dirname, '../../clients/python');
const CORDEX = 'cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas.v20131026';
const DERIVED = 'derived.eur44-tas-anomaly.v1';
const PRIVATE = 'derived.someone-elses-run.v1';
/** Small enough that one CORDEX tas field (5.8 kB) needs several OPeNDAP requests. */
const BIN_LIMIT = 4000;
/** test_offline.py + test_server.py; raise it when adding tests. */
const MIN_TESTS = 45;

let running: RunningApp;
let root: string;
let home: string;
let readerKey: string;

async function scanArchive(): Promise<void> {
  const started = await api(running, 'POST', '/ingest/v1/scans', { headers: ADMIN, body: { root: 'data' } });
  if (started.status !== 202) throw new Error(`scan refused: ${JSON.stringify(started.body)}`);
  for (const deadline = Date.now() + 60_000; ;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${started.body.id}`, { headers: ADMIN });
    if (res.body.state === 'completed') return;
    if (['failed', 'cancelled'].includes(res.body.state) || Date.now() > deadline)
      throw new Error(`scan did not complete: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function created(body: Record<string, unknown>): Promise<void> {
  const res = await api(running, 'POST', '/api/v1/datasets', { headers: ADMIN, body });
  if (res.status !== 201) throw new Error(`dataset creation failed: ${JSON.stringify(res.body)}`);
}

function derived(id: string, ownerGroup: string, provenance?: Record<string, unknown>) {
  const [datasetId, version] = [id.replace(/\.v\d+$/, ''), id.split('.v').pop()];
  return {
    datasetId,
    version,
    kind: 'derived',
    project: 'other',
    facets: { variable: ['tas'] },
    access: { public: false, ownerGroup, accessGroups: [] },
    title: `${id} for the Python client`,
    ...(provenance ? { provenance } : {}),
  };
}

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: apt-get install python3`);
  try {
    await exec(PYTHON, ['-c', 'import xarray, netCDF4, pandas, numpy']);
  } catch {
    throw new Error(
      `${PYTHON} cannot import xarray/netCDF4/pandas: apt-get install python3-xarray python3-netcdf4 python3-pandas`,
    );
  }
  root = tempDir('climcat-py-archive-');
  home = tempDir('climcat-py-home-');
  await writeDemoArchive(root);
  running = await startApp({
    env: {
      DATA_ROOT: root,
      THREDDS_BIN_LIMIT: String(BIN_LIMIT),
      SCRATCH_SOFT_BYTES: '1MB',
      SCRATCH_HARD_BYTES: '2MB',
    },
  });
  await scanArchive();
  await created(derived(DERIVED, 'eucp', { derivedFrom: [CORDEX], software: 'xarray', author: 'alice' }));
  await created(derived(PRIVATE, 'someone-else'));
  const key = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'notebook', user: 'alice', roles: ['reader'], groups: ['eucp'] },
  });
  if (key.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(key.body)}`);
  readerKey = key.body.key as string;
});

afterAll(async () => {
  await running?.close();
  for (const dir of [root, home]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The environment the Python processes get: the server, the reader key, nothing of the machine's. */
function pythonEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // A clean HOME: no ~/.netrc or pip config of the machine leaks in.
    HOME: home,
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    CLIMCAT_URL: running.url,
    CLIMCAT_TOKEN: readerKey,
    CLIMCAT_ROOTS: `data=${root}`,
    CLIMCAT_TEST_BIN_LIMIT: String(BIN_LIMIT),
    CLIMCAT_TEST_DERIVED_ID: DERIVED,
    CLIMCAT_TEST_PRIVATE_ID: PRIVATE,
    CLIMCAT_TEST_REQUIRE: '1',
  };
}

describe('Python client (clients/python) against the standalone server', () => {
  it('passes its unittest suite with /usr/bin/python3, nothing skipped', async () => {
    const env = pythonEnv();
    let output: string;
    try {
      const { stdout, stderr } = await exec(
        PYTHON,
        ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'],
        { cwd: join(CLIENT, '../..'), env, maxBuffer: 16 << 20 },
      );
      output = stdout + stderr;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      throw new Error(`python3 -m unittest exited ${e.code}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    const ran = /^Ran (\d+) tests? in /m.exec(output);
    expect(ran).not.toBeNull();
    expect(Number(ran?.[1])).toBeGreaterThanOrEqual(MIN_TESTS);
    expect(output).toMatch(/^OK$/m);
    expect(output).not.toMatch(/skipped/);
  });

  it('is typed: mypy --strict finds nothing in the package (Python 3.9 rules)', async () => {
    const mypy = which('mypy');
    if (!mypy) throw new Error('mypy not found on PATH: apt-get install mypy');
    try {
      // Settings in clients/python/pyproject.toml ([tool.mypy]: strict, Python 3.9).
      await exec(mypy, ['--no-incremental', '--cache-dir', join(home, 'mypy-cache'), 'climcat'], {
        cwd: CLIENT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
      });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`mypy found problems:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  });

  it('runs examples/climcat-quickstart.ipynb (outputs stripped in the repository) with nbclient', async () => {
    const notebook = join(CLIENT, '../../examples/climcat-quickstart.ipynb');
    const stored = JSON.parse(readFileSync(notebook, 'utf8')) as {
      cells: { cell_type: string; outputs?: unknown[]; execution_count?: number | null }[];
    };
    const code = stored.cells.filter((c) => c.cell_type === 'code');
    expect(code.length).toBeGreaterThanOrEqual(6);
    for (const cell of code) {
      expect(cell.outputs).toEqual([]);
      expect(cell.execution_count).toBeNull();
    }
    const run = [
      'import sys, nbformat, nbclient',
      'nb = nbformat.read(sys.argv[1], as_version=4)',
      "nbclient.NotebookClient(nb, timeout=240, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()",
      // A stream's pieces hold their own newlines: one print may arrive as two pieces ("shared as", " derived...").
      "print(''.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.get('output_type') == 'stream'))",
    ].join('\n');
    let output: string;
    try {
      const { stdout } = await exec(PYTHON, ['-c', run, notebook, home], {
        cwd: home,
        env: { ...pythonEnv(), PYTHONPATH: CLIENT },
        maxBuffer: 16 << 20,
      });
      output = stdout;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      throw new Error(`the notebook failed (exit ${e.code}):\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    expect(output).toContain('signed in as alice');
    expect(output).toContain(`time 2006-01..2006-12: 12 of 12 steps`);
    expect(output).toMatch(/wrote quickstart\/tas_anomaly_eur44\.nc \d+ bytes; scratch state ok/);
    expect(output).toMatch(/shared as derived\./);
    expect(output).toContain('quickstart done');
  });
});
