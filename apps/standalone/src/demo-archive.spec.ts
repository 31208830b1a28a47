import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { readCfSummary, resolveDrs } from '@climcat/netcdf';
import { writeDemoArchive } from './demo-archive';

describe('demo archive', () => {
  let root: string;
  let files: string[];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'climcat-demo-'));
    files = await writeDemoArchive(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('writes a few small files under DRS paths that parse cleanly', async () => {
    expect(files).toHaveLength(5);
    for (const f of files) {
      const s = await readCfSummary(f);
      const drs = resolveDrs(relative(root, f), s.globalAttributes, { variable: s.dataVariables[0] });
      expect(drs.problems).toEqual([]);
      expect(drs.disagreements).toEqual([]);
      expect(drs.instanceId).toBeDefined();
    }
  });

  it('decodes the 360_day CMIP5 file: coverage from bounds, global box, roles', async () => {
    const s = await readCfSummary(files[0] as string);
    expect(s.time).toMatchObject({
      variable: 'time',
      start: '2005-12-01T00:00:00',
      end: '2006-12-01T00:00:00',
      calendar: '360_day',
      fromBounds: true,
      length: 12,
    });
    expect(s.bbox).toEqual([-180, -90, 180, 90]);
    expect(s.dataVariables).toEqual(['tas']);
    expect(Object.fromEntries(s.variables.map((v) => [v.name, v.role]))).toEqual({
      time: 'coordinate',
      time_bnds: 'bounds',
      lat: 'coordinate',
      lat_bnds: 'bounds',
      lon: 'coordinate',
      lon_bnds: 'bounds',
      height: 'auxiliary',
      tas: 'data',
    });
    expect(s.variables.find((v) => v.name === 'tas')).toMatchObject({
      standardName: 'air_temperature',
      units: 'K',
      cellMethods: 'time: mean',
      fillValue: 1.0000000200408773e20,
      missingValue: [1.0000000200408773e20],
      coordinates: ['height'],
    });
  });

  it('decodes the rotated-pole CORDEX file in the 360_day calendar with a European box', async () => {
    const s = await readCfSummary(files[4] as string);
    expect(s.time).toMatchObject({
      start: '2006-02-01T00:00:00',
      end: '2006-03-01T00:00:00',
      calendar: '360_day',
    });
    expect(s.gridMapping).toEqual({
      variable: 'rotated_pole',
      name: 'rotated_latitude_longitude',
      gridNorthPoleLatitude: 39.25,
      gridNorthPoleLongitude: -162,
    });
    const [w, south, e, n] = s.bbox as number[];
    expect(w).toBeLessThan(-30);
    expect(e).toBeGreaterThan(40);
    expect(south).toBeGreaterThan(15);
    expect(n).toBeLessThan(75);
    expect(s.variables.find((v) => v.name === 'lat')?.role).toBe('auxiliary');
    expect(s.variables.find((v) => v.name === 'pr')?.gridMapping).toBe('rotated_pole');
  });
});
