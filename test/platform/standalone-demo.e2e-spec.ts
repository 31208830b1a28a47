/**
 * The demo archive standalone writes on first start: netCDF-C reads every
 * file, cftime agrees with our time coverage, and the DRS paths are clean.
 */
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { readCfSummary, resolveDrs } from '@climcat/netcdf';
import { writeDemoArchive } from '../../apps/standalone/src/demo-archive';
import { makeTempDir, PYTHON, requirePythonNetcdf, requireTool, run } from '../netcdf/tools';

describe('demo archive', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let files: string[];
  beforeAll(async () => {
    requireTool('ncdump');
    await requirePythonNetcdf();
    tmp = await makeTempDir('climcat-demo-');
    files = await writeDemoArchive(tmp.dir);
  });
  afterAll(() => tmp?.cleanup());

  it('writes small files that ncdump reads', async () => {
    for (const f of files) {
      await run(requireTool('ncdump'), [f]);
      const { size } = await stat(f);
      expect(size).toBeLessThan(16 * 1024);
    }
  });

  it('has time coverage that cftime agrees with and clean DRS paths', async () => {
    const script = [
      'import json, sys, netCDF4, cftime',
      'out = {}',
      'for p in sys.argv[1:]:',
      '    ds = netCDF4.Dataset(p)',
      "    if 'time_bnds' not in ds.variables: continue",
      "    t, b = ds['time'], ds['time_bnds'][:]",
      '    d = cftime.num2date([b.min(), b.max()], t.units, t.calendar)',
      "    out[p] = [x.strftime('%Y-%m-%dT%H:%M:%S') for x in d] + [t.calendar]",
      'print(json.dumps(out))',
    ].join('\n');
    const expected = JSON.parse(await run(PYTHON, ['-c', script, ...files])) as Record<string, string[]>;
    expect(Object.keys(expected)).toHaveLength(4);
    for (const f of files) {
      const s = await readCfSummary(f);
      const e = expected[f];
      if (e) expect([s.time?.start, s.time?.end, s.time?.calendar]).toEqual(e);
      const drs = resolveDrs(relative(tmp.dir, f), s.globalAttributes, { variable: s.dataVariables[0] });
      expect(drs.problems).toEqual([]);
    }
    expect(Object.values(expected).map((e) => e[2])).toEqual(
      expect.arrayContaining(['360_day', 'noleap', 'standard']),
    );
  });
});
