import type { DatasetRecord } from '@climcat/core';
import { lonIntervals, searchKeys } from './search-index';

describe('lonIntervals', () => {
  it('keeps an ordinary box as one interval', () => {
    expect(lonIntervals(-10, 30)).toEqual([{ min: -10, max: 30 }]);
  });

  it('splits a box whose west is east of its east at the antimeridian', () => {
    expect(lonIntervals(170, -170)).toEqual([
      { min: 170, max: 180 },
      { min: -180, max: -170 },
    ]);
  });

  it('treats a box spanning 360 degrees as the whole globe', () => {
    expect(lonIntervals(0, 360)).toEqual([{ min: -180, max: 180 }]);
    expect(lonIntervals(-180, 180)).toEqual([{ min: -180, max: 180 }]);
  });

  it('maps 0..360 longitudes onto -180..180', () => {
    expect(lonIntervals(200, 220)).toEqual([{ min: -160, max: -140 }]);
    expect(lonIntervals(0, 359.5)).toEqual([
      { min: 0, max: 180 },
      { min: -180, max: -0.5 },
    ]);
  });

  it('keeps a box that ends at 180 in one piece', () => {
    expect(lonIntervals(170, 180)).toEqual([{ min: 170, max: 180 }]);
  });
});

describe('searchKeys', () => {
  const record: Omit<DatasetRecord, 'revision'> = {
    id: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1.v20111128',
    datasetId: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1',
    version: '20111128',
    kind: 'standard',
    project: 'CMIP5',
    facets: { model: 'HadGEM2-ES', variable: ['tas', 'tas', 'pr'] },
    variables: [{ name: 'tas', standardName: 'air_temperature', longName: 'Near-Surface Air Temperature' }],
    timeCoverage: { start: '2005-12-01T00:00:00', end: '2030-11-30T00:00:00', calendar: '360_day' },
    bbox: [-10, 35, 30, 70],
    size: 1,
    fileCount: 1,
    access: { public: true, ownerGroup: 'cmip5', accessGroups: [] },
    status: 'latest',
    availability: 'online',
    title: 'Monthly means',
    description: 'Scenario run',
    keywords: ['Europe'],
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
  };

  it('lists each facet value once', () => {
    expect(searchKeys(record).facets).toEqual([
      { name: 'model', value: 'HadGEM2-ES' },
      { name: 'variable', value: 'tas' },
      { name: 'variable', value: 'pr' },
    ]);
  });

  it('tokenises ids, text, keywords, variables and facet values', () => {
    const tokens = searchKeys(record).tokens;
    for (const token of [
      'mohc',
      'hadgem2-es',
      'hadgem2',
      'es',
      'monthly',
      'scenario',
      'europe',
      'air_temperature',
    ])
      expect(tokens).toContain(token);
    expect(tokens).toContain('near-surface');
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('derives latitude, longitude and time keys, or nulls without coverage', () => {
    expect(searchKeys(record)).toMatchObject({
      south: 35,
      north: 70,
      lon: [{ min: -10, max: 30 }],
      timeStart: '2005-12-01T00:00:00',
      timeEnd: '2030-11-30T00:00:00',
    });
    expect(searchKeys({ ...record, bbox: null, timeCoverage: null })).toMatchObject({
      south: null,
      north: null,
      lon: [],
      timeStart: null,
      timeEnd: null,
    });
  });
});
