/**
 * OPeNDAP DAP2 at /thredds/dodsC checked with real clients: netCDF-C's
 * ncdump, NCO's ncks, CDO, netCDF4-python and xarray, against the same tools on
 * the local files. Tools run in a working directory of their own (NCO
 * downloads URLs it cannot open into a tree named after the URL).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeNetcdf3 } from '@climcat/netcdf';
import { ADMIN, startApp, tempDir, type RunningApp } from '../harness/app';
import { api, bearer } from '../catalog/seed';
import { FIXTURES, PYTHON, requirePythonNetcdf, requireTool } from '../netcdf/tools';
import { scanData } from './thredds-archive';
import { comparable, expectedOverDap, parseCdl } from './cdl';

jest.setTimeout(120_000);

const exec = promisify(execFile);

let running: RunningApp;
let root: string;
let work: string;
let secretKey: string;
let otherKey: string;

const FILES = {
  classic: 'fixtures/types.nc',
  offset64: 'fixtures/types64.nc',
  cmip5: 'fixtures/cmip5_tas_amon.nc',
  cordex: 'fixtures/cordex_rotated.nc',
  lone: 'fixtures/lone_byte_record.nc',
  nc4: 'fixtures/nc4_features.nc',
  groups: 'fixtures/groups.nc',
  big: 'big/tas_big.nc',
  secret: 'restricted/tas_secret.nc',
  victim: 'fixtures/victim.nc',
};

const BIG = { time: 1200, lat: 10, lon: 10 };
const BIN_LIMIT = 200_000;

const local = (rel: string) => join(root, rel);
const dapUrl = (rel: string) => `${running.url}/thredds/dodsC/data/${rel}`;

async function tool(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await exec(cmd, args, {
      cwd: work,
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
      encoding: 'utf8',
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

const ncdump = async (target: string, args: string[] = [], env: Record<string, string> = {}) =>
  tool(requireTool('ncdump'), [...args, target], env);

async function ncgen(cdl: string, kind: string, rel: string): Promise<void> {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  await exec(requireTool('ncgen'), ['-k', kind, '-o', local(rel), join(FIXTURES, cdl)]);
}

async function apiKey(groups: string[]): Promise<string> {
  const res = await api(running, 'POST', '/api/v1/auth/keys', {
    headers: ADMIN,
    body: { name: 'dap', roles: ['reader'], groups },
  });
  return res.body.key as string;
}

function basic(key: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`someone:${key}`).toString('base64')}` };
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

beforeAll(async () => {
  requireTool('ncdump');
  root = tempDir('climcat-dap-archive-');
  work = tempDir('climcat-dap-work-');
  await ncgen('types.cdl', 'classic', FILES.classic);
  await ncgen('types.cdl', '64-bit-offset', FILES.offset64);
  await ncgen('cmip5_tas_amon.cdl', 'classic', FILES.cmip5);
  await ncgen('cordex_rotated.cdl', 'classic', FILES.cordex);
  await ncgen('lone_byte_record.cdl', 'classic', FILES.lone);
  await ncgen('nc4_features.cdl', 'nc4', FILES.nc4);
  await ncgen('groups.cdl', 'nc4', FILES.groups);
  await ncgen('lone_byte_record.cdl', 'classic', FILES.victim);
  // Not DRS (no CMIP5 attributes), so it has a dataset of its own: other.restricted.
  await ncgen('types.cdl', 'classic', FILES.secret);
  mkdirSync(join(root, 'big'), { recursive: true });
  const n = BIG.time * BIG.lat * BIG.lon;
  await writeNetcdf3(
    local(FILES.big),
    {
      dimensions: [
        { name: 'time', length: 0, unlimited: true },
        { name: 'lat', length: BIG.lat },
        { name: 'lon', length: BIG.lon },
      ],
      variables: [
        {
          name: 'time',
          type: 'double',
          dimensions: ['time'],
          attributes: [
            { name: 'units', type: 'char', value: 'days since 2000-01-01' },
            { name: 'calendar', type: 'char', value: '360_day' },
          ],
        },
        { name: 'lat', type: 'double', dimensions: ['lat'], attributes: [] },
        { name: 'lon', type: 'double', dimensions: ['lon'], attributes: [] },
        { name: 'tas', type: 'float', dimensions: ['time', 'lat', 'lon'], attributes: [] },
      ],
      globalAttributes: [],
      numRecords: BIG.time,
    },
    {
      time: Float64Array.from({ length: BIG.time }, (_, i) => i * 30),
      lat: Float64Array.from({ length: BIG.lat }, (_, i) => i),
      lon: Float64Array.from({ length: BIG.lon }, (_, i) => i),
      tas: Float32Array.from({ length: n }, (_, i) => i % 1000),
    },
  );
  running = await startApp({
    env: { DATA_ROOT: root, THREDDS_BIN_LIMIT: String(BIN_LIMIT), THREDDS_ASC_LIMIT: '100000' },
  });
  await scanData(running);
  const patched = await api(running, 'PATCH', '/api/v1/datasets/other.restricted', {
    headers: ADMIN,
    body: { access: { public: false, ownerGroup: 'secret-team', accessGroups: [] } },
  });
  expect(patched.status).toBe(200);
  secretKey = await apiKey(['secret-team']);
  otherKey = await apiKey(['other-team']);
});

afterAll(async () => {
  await running?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('ncdump over OPeNDAP equals ncdump of the local file', () => {
  it.each([
    ['NetCDF-3 classic, every type', FILES.classic],
    ['NetCDF-3 64-bit offset', FILES.offset64],
    ['CMIP5 360_day with fill values', FILES.cmip5],
    ['CORDEX rotated pole with 2-D lat/lon', FILES.cordex],
    ['a lone byte record variable', FILES.lone],
  ])('%s: header and all values', async (_label, rel) => {
    const mine = await ncdump(dapUrl(rel));
    expect(mine.stderr).toBe('');
    const theirs = await ncdump(local(rel));
    expect(comparable(parseCdl(mine.stdout))).toEqual(comparable(expectedOverDap(parseCdl(theirs.stdout))));
  });

  it('ncdump -v tas prints the same values, fill values included', async () => {
    const mine = parseCdl((await ncdump(dapUrl(FILES.cmip5), ['-v', 'tas'])).stdout);
    const theirs = parseCdl((await ncdump(local(FILES.cmip5), ['-v', 'tas'])).stdout);
    expect(mine.data.get('tas')).toBe(theirs.data.get('tas'));
    expect(mine.data.get('tas')).toContain('_');
  });

  it('NetCDF-4 deflated: values equal; ubyte as Byte with _Unsigned "true"; int64 named in the DAS', async () => {
    const mine = parseCdl((await ncdump(dapUrl(FILES.nc4))).stdout);
    const theirs = parseCdl((await ncdump(local(FILES.nc4))).stdout);
    for (const v of ['tas', 'time', 'time_bnds', 'lat', 'lon', 'big_endian'])
      expect([v, mine.data.get(v)]).toEqual([v, theirs.data.get(v)]);
    expect(mine.variables.get('ub')?.attributes).toContain('ub:_Unsigned = "true" ;');
    expect(mine.variables.has('i64')).toBe(false);
    const omitted = mine.globals.find((g) => g.startsWith(':DAP2_omitted_variables'));
    expect(omitted).toMatch(/i64\(lon\) int64; u64\(lon\) uint64/);
    expect(omitted).toContain(`/thredds/fileServer/data/${FILES.nc4}`);
    expect(mine.globals).toContain(':ubyte_att = 255s ;');
    expect(mine.data.get('names')).toBe('"first", "", "third with spaces" ;');
  });

  it('NetCDF-4 groups are flattened under their full paths, "/" escaped as %2F', async () => {
    const mine = parseCdl((await ncdump(dapUrl(FILES.groups))).stdout);
    const theirs = await ncdump(local(FILES.groups), ['-v', 'forecast/tas']);
    const localTas = /group: forecast[\s\S]*?\n\s*tas =([\s\S]*?);/.exec(theirs.stdout)?.[1];
    expect(localTas).toBeDefined();
    expect(mine.variables.get('forecast%2Ftas')?.declaration).toBe(
      'float forecast%2Ftas(forecast%2Fmember, lat) ;',
    );
    expect(mine.data.get('forecast%2Ftas')).toBe(`${localTas?.replace(/\s+/g, ' ').trim()} ;`);
    expect(mine.globals).toContain(':forecast%2Finstitution = "climcat test centre" ;');
    expect(mine.dimensions).toContain('forecast%2Fstep%2Flat = 3 ;');
  });
});

describe('DAP2 wire format', () => {
  it('serves the DDS with Grids, and a partly projected Grid as a Structure', async () => {
    const full = await fetch(`${dapUrl(FILES.cmip5)}.dds`);
    expect(full.headers.get('content-description')).toBe('dods-dds');
    expect(full.headers.get('xdods-server')).toMatch(/opendap/);
    const dds = await full.text();
    expect(dds).toContain('    Float64 height;\n');
    expect(dds).toContain(
      '    Grid {\n      ARRAY:\n        Float32 tas[time = 4][lat = 3][lon = 4];\n      MAPS:\n' +
        '        Float64 time[time = 4];\n        Float64 lat[lat = 3];\n        Float64 lon[lon = 4];\n    } tas;\n',
    );
    const part = await (
      await fetch(`${dapUrl(FILES.cmip5)}.dds?tas.tas[0][1:2][0:2:3],tas.time[1:3]`)
    ).text();
    expect(part).toBe(
      'Dataset {\n    Structure {\n        Float32 tas[time = 1][lat = 2][lon = 2];\n' +
        '        Float64 time[time = 3];\n    } tas;\n} cmip5_tas_amon.nc;\n',
    );
  });

  it('has a DAS table for every variable, NC_GLOBAL and DODS_EXTRA', async () => {
    const res = await fetch(`${dapUrl(FILES.classic)}.das`);
    expect(res.headers.get('content-description')).toBe('dods-das');
    const das = await res.text();
    expect(das).toContain('    scalar_b {\n    }\n');
    expect(das).not.toContain('_Unsigned');
    expect(das).toContain('    rs {\n    }\n');
    expect(das).toContain('        Byte _FillValue 255;\n');
    expect(das).toContain('        Int16 byte_att -128, 0, 127;\n');
    expect(das).toContain('        Float32 scale_factor 0.01;\n');
    expect(das).toContain('    DODS_EXTRA {\n        String Unlimited_Dimension "rec";\n    }\n');
    expect(das).toMatch(/ {4}NC_GLOBAL \{\n/);
  });

  it('writes XDR: counts twice, Byte padded to 4, Int16 widened, strings with lengths', async () => {
    const res = await fetch(`${dapUrl(FILES.classic)}.dods?b[0][0:4],s,c[1:2],scalar_b`);
    expect(res.headers.get('content-description')).toBe('dods-data');
    const body = Buffer.from(await res.arrayBuffer());
    const at = body.indexOf('\nData:\n') + 7;
    expect(at).toBeGreaterThan(7);
    const data = body.subarray(at);
    // b[0][0:4] = -100, -50, 0, 50, 100: count, count, 5 bytes, 3 bytes padding
    expect([...data.subarray(0, 16)]).toEqual([0, 0, 0, 5, 0, 0, 0, 5, 156, 206, 0, 50, 100, 0, 0, 0]);
    // Data go in dataset order (b, c, s, scalar_b), whatever the order of the projections.
    // c[1:2] = "BERGEN", "CÖRK": count once, then length + bytes + padding
    expect(data.readUInt32BE(16)).toBe(2);
    expect(data.readUInt32BE(20)).toBe(6);
    expect(data.subarray(24, 30).toString()).toBe('BERGEN');
    expect(data.readUInt32BE(32)).toBe(5);
    expect(data.subarray(36, 41).toString()).toBe('CÖRK');
    // s = 0, 1000, -1000, fill, 32767 as 4-byte integers
    expect(data.readUInt32BE(44)).toBe(5);
    expect(data.readUInt32BE(48)).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => data.readInt32BE(52 + 4 * i))).toEqual([0, 1000, -1000, -32768, 32767]);
    // scalar_b = -5: a scalar has no count, an XDR char is 4 bytes
    expect(data.readInt32BE(72) & 0xff).toBe(251);
    expect(data.length).toBe(76);
  });

  it('deflates .dods only for clients that accept it', async () => {
    const url = `${dapUrl(FILES.cmip5)}.dods?tas`;
    const plain = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    const deflated = await fetch(url, { headers: { 'Accept-Encoding': 'deflate' } });
    expect(deflated.headers.get('content-encoding')).toBe('deflate');
    // fetch inflates it: the same bytes arrive
    expect(Buffer.from(await deflated.arrayBuffer())).toEqual(Buffer.from(await plain.arrayBuffer()));
  });

  it('decodes percent-encoded brackets once, never twice', async () => {
    const once = await fetch(`${dapUrl(FILES.cmip5)}.dds?tas%5B0%5D`);
    expect(await once.text()).toContain('Float32 tas[time = 1][lat = 3][lon = 4];');
    const twice = await fetch(`${dapUrl(FILES.cmip5)}.dds?tas%255B0%255D`);
    expect(twice.status).toBe(400);
    expect(await twice.text()).toContain('no variable \\"tas%5B0%5D\\"');
  });
});

describe('python3 netCDF4 and xarray over OPeNDAP', () => {
  async function compare(rel: string, variable: string, slices: string, decodeTimes = true): Promise<any> {
    await requirePythonNetcdf();
    const args = [join(__dirname, 'dap_compare.py'), local(rel), dapUrl(rel), variable, slices];
    if (!decodeTimes) args.push('decode_times=0');
    const out = await tool(PYTHON, args);
    if (out.code !== 0) throw new Error(out.stderr);
    return JSON.parse(out.stdout);
  }

  it('strided hyperslab with a masked value, 360_day times', async () => {
    const r = await compare(FILES.cmip5, 'tas', '0:4:1,::2,1:4');
    expect(r).toMatchObject({
      values_equal: true,
      mask_equal: true,
      xarray_equal: true,
      calendar: '360_day',
    });
    expect(r.masked).toBeGreaterThan(0);
    expect(r.dtype).toEqual(['float32', 'float32']);
    expect(r.times[1]).toEqual(r.times[0]);
    expect(r.xarray_times[1]).toEqual(r.xarray_times[0]);
    expect(r.times[0][1]).toBe('2006-01-16 00:00:00');
  });

  it('NetCDF-4 deflated, strided, noleap times', async () => {
    const r = await compare(FILES.nc4, 'tas', '1:5:3,:,0:3:2');
    expect(r).toMatchObject({ values_equal: true, mask_equal: true, xarray_equal: true, calendar: 'noleap' });
    expect(r.times[1]).toEqual(r.times[0]);
    expect(r.xarray_times[1]).toEqual(r.xarray_times[0]);
  });

  it.each([
    ['f', '0:3:2,::2,1:5:2'],
    ['s', '::2'],
    ['i', '1:3,0:5:3'],
    ['b', ':,::2'],
  ])('NetCDF-3 %s[%s]: values, mask and dtype', async (variable, slices) => {
    const r = await compare(FILES.classic, variable, slices, false);
    expect(r).toMatchObject({ values_equal: true, mask_equal: true });
    expect(r.dtype[1]).toBe(r.dtype[0]);
  });
});

describe('NCO', () => {
  it('ncks -d time,0,2 -v tas over OPeNDAP equals ncks on the local file', async () => {
    const ncks = requireTool('ncks');
    const a = await tool(ncks, ['-O', '-h', '-d', 'time,0,2', '-v', 'tas', dapUrl(FILES.cmip5), 'dap.nc']);
    expect(a.stderr).toBe('');
    await tool(ncks, ['-O', '-h', '-d', 'time,0,2', '-v', 'tas', local(FILES.cmip5), 'local.nc']);
    const mine = parseCdl((await ncdump(join(work, 'dap.nc'))).stdout);
    const theirs = parseCdl((await ncdump(join(work, 'local.nc'))).stdout);
    expect(Object.fromEntries(mine.data)).toEqual(Object.fromEntries(theirs.data));
    expect(mine.variables.get('tas')).toEqual(theirs.variables.get('tas'));
    expect(mine.dimensions).toEqual(theirs.dimensions);
  });
});

describe('CDO', () => {
  /** cdo in a working directory of its own (it may write temporary files there). */
  async function cdo(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    const dir = join(work, 'cdo');
    mkdirSync(dir, { recursive: true });
    const bin = requireTool('cdo');
    try {
      const { stdout, stderr } = await exec(bin, args, { cwd: dir, encoding: 'utf8', maxBuffer: 16 << 20 });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      return {
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
        code: typeof e.code === 'number' ? e.code : 1,
      };
    }
  }

  it.each([
    ['CMIP5 360_day', FILES.cmip5],
    ['CORDEX rotated pole (curvilinear)', FILES.cordex],
  ])('cdo sinfo over OPeNDAP equals cdo sinfo of the local file: %s', async (_label, rel) => {
    const mine = await cdo(['sinfo', dapUrl(rel)]);
    expect([mine.code, mine.stderr]).toEqual([0, '']);
    expect(mine.stdout).toContain('File format : NetCDF');
    expect(mine.stdout).toMatch(/Time coordinate :\s+time : \d steps/);
    expect(mine.stdout).toBe((await cdo(['sinfo', local(rel)])).stdout);
  });

  it('cdo info and outputtab of tas over OPeNDAP equal those of the local file, missing values included', async () => {
    for (const op of ['info', '-outputtab,date,lon,lat,value']) {
      const mine = await cdo([op, '-selname,tas', dapUrl(FILES.cmip5)]);
      expect([op, mine.code, mine.stderr]).toEqual([op, 0, '']);
      expect(mine.stdout).toBe((await cdo([op, '-selname,tas', local(FILES.cmip5)])).stdout);
    }
    const table = (await cdo(['-outputtab,date,lon,lat,value', '-selname,tas', dapUrl(FILES.cmip5)])).stdout;
    expect(table).toMatch(/2006-01-16 +90 +-60 +1e\+20/);
  });

  it('cdo timmean of an OPeNDAP URL writes the file cdo writes from the local one', async () => {
    expect((await cdo(['-s', 'timmean', '-selname,tas', dapUrl(FILES.cmip5), 'dap_mean.nc'])).code).toBe(0);
    expect((await cdo(['-s', 'timmean', '-selname,tas', local(FILES.cmip5), 'local_mean.nc'])).code).toBe(0);
    expect((await cdo(['-s', 'ntime', 'dap_mean.nc'])).stdout.trim()).toBe('1');
    // diffn prints and exits 1 when records differ, says nothing when none does.
    expect(await cdo(['diffn', 'dap_mean.nc', 'local_mean.nc'])).toEqual({ stdout: '', stderr: '', code: 0 });
  });
});

describe('size limits', () => {
  it('refuses an oversized .dods with 413, the size, the limit and a split that works', async () => {
    const res = await fetch(`${dapUrl(FILES.big)}.dods?tas`);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-description')).toBe('dods-error');
    const text = await res.text();
    expect(text).toMatch(/^Error \{\n {4}code = 413;\n {4}message = ".*";\n\};\n$/s);
    expect(text).toContain(`(${BIN_LIMIT} bytes)`);
    expect(text).toMatch(/about 4\d\d kB \(\d+ bytes\)/);
    const pieces = [...text.matchAll(/tas\[(\d+):(\d+)\]/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(pieces[0]?.[0]).toBe(0);
    expect(pieces.length).toBeGreaterThan(1);
    const [first, second] = pieces as [number[], number[]];
    expect(second[0]).toBe((first[1] as number) + 1);
    const piece = await fetch(`${dapUrl(FILES.big)}.dods?tas[${first[0]}:${first[1]}]`);
    expect(piece.status).toBe(200);
    expect((await piece.arrayBuffer()).byteLength).toBeLessThan(BIN_LIMIT);
  });

  it('netCDF-C prints the 413 message to a client reading the whole variable', async () => {
    await requirePythonNetcdf();
    const out = await tool(PYTHON, [
      '-c',
      `import netCDF4\nnetCDF4.Dataset(${JSON.stringify(dapUrl(FILES.big))})['tas'][:]`,
    ]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/code=413 message="The response would be about .*split it along time/);
  });

  it('applies the ASCII limit to .ascii as problem+json', async () => {
    const res = await fetch(`${dapUrl(FILES.big)}.ascii?tas`);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/THREDDS_ASC_LIMIT.*tas\[0:\d+\]/);
  });
});

describe('access', () => {
  const dds = (headers: Record<string, string> = {}) => fetch(`${dapUrl(FILES.secret)}.dds`, { headers });

  it('asks anonymous callers for Basic credentials, with a DAP2 error', async () => {
    const res = await dds();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/Basic realm="climcat"/);
    expect(await res.text()).toMatch(/^Error \{\n {4}code = 401;/);
    const missing = await fetch(`${dapUrl('restricted/none.nc')}.dds`);
    expect(missing.status).toBe(401);
  });

  it('answers 404 to another group and 200 to the owner group (Bearer or Basic)', async () => {
    expect((await dds(basic(otherKey))).status).toBe(404);
    expect((await dds(bearer(secretKey))).status).toBe(200);
    expect((await dds(basic(secretKey))).status).toBe(200);
  });

  it('opens with ncdump through ~/.netrc and HTTP.NETRC in ~/.ncrc', async () => {
    const home = join(work, 'home');
    mkdirSync(home, { recursive: true });
    const host = new URL(running.url).hostname;
    writeFileSync(join(home, '.netrc'), `machine ${host} login someone password ${secretKey}\n`, {
      mode: 0o600,
    });
    writeFileSync(join(home, '.ncrc'), `HTTP.NETRC=${join(home, '.netrc')}\n`);
    const withNetrc = await ncdump(dapUrl(FILES.secret), ['-h'], { HOME: home });
    expect(withNetrc.stderr).toBe('');
    expect(withNetrc.stdout).toContain('float f(rec, y, x)');
    const without = await ncdump(dapUrl(FILES.secret), ['-h'], { HOME: join(work, 'nohome') });
    expect(without.code).not.toBe(0);
  });
});

describe('other suffixes', () => {
  it('.ascii prints the DDS, a separator and rows', async () => {
    const res = await fetch(`${dapUrl(FILES.cmip5)}.ascii?tas[1][0:1][0:3],time[0:1]`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('---------------------------------------------\n');
    expect(text).toContain('tas.tas[1][2][4]\n[0][0], 249.9, 1e+20, 252.7, 253.1\n');
    expect(text).toContain('time[2]\n52575, 52605\n');
  });

  it('.html is a request form, .info shows DDS and DAS, .ver the version', async () => {
    const html = await (await fetch(`${dapUrl(FILES.cmip5)}.html`)).text();
    expect(html).toContain('OPeNDAP Dataset Access Form');
    expect(html).toContain('data-var="tas.tas"');
    const info = await (await fetch(`${dapUrl(FILES.cmip5)}.info`)).text();
    expect(info).toContain('NC_GLOBAL');
    const ver = await fetch(`${dapUrl(FILES.cmip5)}.ver`);
    expect(await ver.text()).toContain('DAP/2.0');
    expect((await fetch(`${running.url}/thredds/dodsC/version`)).status).toBe(200);
  });
});

describe('bad input', () => {
  it.each([
    ['unbalanced brackets', 'tas[0:1', /unbalanced brackets/],
    ['a stray "]"', 'tas[0]]', /\]\\" without \\"\[/],
    ['a negative index', 'tas[-1]', /negative index/],
    ['reversed indices', 'tas[3:1]', /start 3 is after stop 1/],
    [
      'an index out of range',
      'tas[0:9]',
      /dimension time \(size 4, indices 0\.\.3\): index 9 is out of range/,
    ],
    ['stride 0', 'tas[0:0:3]', /stride 0 must be at least 1/],
    ['too many ranges', 'lat[0][0]', /lat has 1 dimension \(lat=3\) but 2 index ranges/],
    [
      'an unknown variable',
      'nope',
      /no variable \\"nope\\".*it has time, time_bnds, lat, lat_bnds, lon, lon_bnds, height, tas/,
    ],
    [
      'an unknown Grid member',
      'tas.nope',
      /Grid \\"tas\\" has no member \\"nope\\"; its members are tas, time, lat, lon/,
    ],
    ['a selection', 'tas&tas>300', /selections .* are not supported/],
    ['a function', 'geogrid(tas)', /server functions .* are not supported/],
  ])('%s: 400 DAP2 error', async (_label, constraint, message) => {
    for (const suffix of ['dds', 'dods']) {
      const res = await fetch(`${dapUrl(FILES.cmip5)}.${suffix}?${constraint}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-description')).toBe('dods-error');
      expect(await res.text()).toMatch(message);
    }
  });

  it('answers a catalogued file that no longer parses with a 400 naming its /thredds path only', async () => {
    writeFileSync(local(FILES.victim), '<!DOCTYPE html><html>not NetCDF</html>');
    const res = await fetch(`${dapUrl(FILES.victim)}.dds`);
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(
      /^Error \{\n {4}code = 400;\n {4}message = "data\/fixtures\/victim\.nc cannot be read as NetCDF/,
    );
    expect(text).not.toContain(root);
  });

  it('answers a bad constraint on .ascii as problem+json', async () => {
    const res = await fetch(`${dapUrl(FILES.cmip5)}.ascii?tas[0:9]`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('refuses a 1 MB query with a 4xx and keeps serving', async () => {
    const query = `${'tas,'.repeat(250_000)}tas`;
    for (const suffix of ['dds', 'das', 'dods']) {
      const res = await fetch(`${dapUrl(FILES.cmip5)}.${suffix}?${query}`);
      expect(res.status).toBe(414);
      expect(res.headers.get('content-description')).toBe('dods-error');
      expect(await res.text()).toMatch(
        new RegExp(
          `^Error \\{\\n {4}code = 414;\\n {4}message = "The query is ${query.length} bytes long .*` +
            'reads at most 16384 bytes \\(16 KiB\\); ask for fewer variables',
        ),
      );
    }
    // Other suffixes answer what the rest of the API answers.
    const ascii = await fetch(`${dapUrl(FILES.cmip5)}.ascii?${query}`);
    expect(ascii.status).toBe(431);
    expect(ascii.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await fetch(`${dapUrl(FILES.cmip5)}.dds`)).status).toBe(200);
  });

  it('netCDF-C prints why a URL with an overlong constraint is refused', async () => {
    // About 52 kB: over the server's 16 KiB, under the 128 KiB Linux allows one command-line argument.
    // (netCDF-C rewrites the projections into a longer query of its own.)
    const ce = Array.from({ length: 4000 }, (_, i) => `tas[0][0][${i % 7}]`).join(',');
    const out = await ncdump(`${dapUrl(FILES.cmip5)}?${ce}`);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(
      /code=414 message="The query is \d{5,} bytes long .*reads at most 16384 bytes \(16 KiB\); ask for fewer/,
    );
  });

  it('accepts many projections of one variable (as many as a URL carries)', async () => {
    const res = await fetch(`${dapUrl(FILES.cmip5)}.dds?${Array(2000).fill('lat').join(',')}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Dataset {\n    Float64 lat[lat = 3];\n} cmip5_tas_amon.nc;\n');
  });

  it('leaks no file descriptors across many requests and aborted streams', async () => {
    await fetch(`${dapUrl(FILES.cmip5)}.dods`).then((r) => r.arrayBuffer());
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      await (await fetch(`${dapUrl(FILES.nc4)}.dds`)).text();
      await (await fetch(`${dapUrl(FILES.cmip5)}.dods?tas[0:3:3]`)).arrayBuffer();
      await (await fetch(`${dapUrl(FILES.cmip5)}.dods?nope`)).text();
      const controller = new AbortController();
      const res = await fetch(`${dapUrl(FILES.big)}.dods?tas[0:400]`, { signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      // (cancel, not read: undici never settles a read of an aborted deflated body)
      await reader.cancel().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(openFds()).toBeLessThanOrEqual(before + 2);
  });
});
