/**
 * Real netCDF-C tools for the NetCDF compatibility suites: ncgen/ncdump
 * (Debian netcdf-bin), ncks (nco) and netCDF4-python under /usr/bin/python3
 * (python3-netcdf4). A missing tool fails the suite with what to install.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { which } from '../harness/servers';

const exec = promisify(execFile);

export const FIXTURES = join(__dirname, '../../libs/netcdf/test-fixtures');
export const PYTHON = '/usr/bin/python3';
export const ORACLE = join(__dirname, 'oracle.py');

export type NcgenKind = 'classic' | '64-bit-offset' | 'cdf5' | 'nc4' | 'nc7';

export function requireTool(binary: 'ncgen' | 'ncdump' | 'nccopy' | 'ncks' | 'cdo'): string {
  const path = which(binary);
  if (!path) {
    const pkg = { ncks: 'nco', cdo: 'cdo', ncgen: 'netcdf-bin', ncdump: 'netcdf-bin', nccopy: 'netcdf-bin' }[
      binary
    ];
    throw new Error(`${binary} not found on PATH: install it with "apt-get install ${pkg}"`);
  }
  return path;
}

let pythonChecked: Promise<void> | undefined;
/** Fails unless /usr/bin/python3 can import netCDF4 and cftime. */
export function requirePythonNetcdf(): Promise<void> {
  pythonChecked ??= (async () => {
    if (!existsSync(PYTHON))
      throw new Error(`${PYTHON} missing: install it with "apt-get install python3 python3-netcdf4"`);
    try {
      await exec(PYTHON, ['-c', 'import netCDF4, cftime, numpy']);
    } catch {
      throw new Error(
        `${PYTHON} cannot import netCDF4/cftime: install them with "apt-get install python3-netcdf4"`,
      );
    }
  })();
  return pythonChecked;
}

export async function run(cmd: string, args: string[], maxBuffer = 64 * 1024 * 1024): Promise<string> {
  const { stdout } = await exec(cmd, args, { maxBuffer, encoding: 'utf8' });
  return stdout;
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** ncgen's output for a fixture in `kind`, written to `dir`. */
export async function ncgen(fixture: string, kind: NcgenKind, dir: string): Promise<string> {
  const out = join(dir, `${basename(fixture, '.cdl')}.${kind}.nc`);
  await run(requireTool('ncgen'), ['-k', kind, '-o', out, join(FIXTURES, fixture)]);
  return out;
}

export interface OracleVariable {
  name: string;
  type: string;
  dimensions: string[];
  shape: number[];
  attributes: Record<string, OracleValue>;
  values: OracleValue;
}
export type OracleValue = string | number | (string | number)[];
export interface OracleGroup {
  /** Full path without the leading slash; names of its dimensions and variables are full too. */
  name: string;
  dimensions: [string, number, boolean][];
  attributes: Record<string, OracleValue>;
  variables: OracleVariable[];
}
export interface Oracle {
  data_model: string;
  dimensions: [string, number, boolean][];
  global: Record<string, OracleValue>;
  variables: OracleVariable[];
  /** NetCDF-4 subgroups, depth first. */
  groups: OracleGroup[];
}

/** What netCDF-C (through netCDF4-python) sees in a file. */
export async function oracle(path: string): Promise<Oracle> {
  await requirePythonNetcdf();
  return JSON.parse(await run(PYTHON, [ORACLE, path])) as Oracle;
}

/** What netCDF4-python reads for `variable[start:start+count*stride:stride]`, flattened. */
export async function oracleHyperslab(
  path: string,
  variable: string,
  start: readonly number[],
  count: readonly number[],
  stride: readonly number[],
): Promise<OracleValue> {
  await requirePythonNetcdf();
  return JSON.parse(
    await run(PYTHON, [ORACLE, path, variable, start.join(','), count.join(','), stride.join(',')]),
  ) as OracleValue;
}

/** Python's spelling of numbers JSON cannot hold, to compare with ours. */
export function normalizeNumber(v: number | bigint): number | string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return v;
}
