import type { DatasetRecord, FieldProblem } from '@climcat/core';
import type { CfSummary } from '@climcat/netcdf';
import { combineSummaries, sharedFacets, slug, unionBBox } from './promotion-metadata';

function summary(over: Partial<CfSummary>): CfSummary {
  return {
    format: 'classic',
    dimensions: [],
    recordCount: 0,
    variables: [],
    dataVariables: [],
    globalAttributes: {},
    problems: [],
    ...over,
  };
}

const time = (start: string, end: string, calendar = '360_day') =>
  ({
    start,
    end,
    calendar,
    units: 'days since 2006-01-01',
    fromBounds: true,
    variable: 'time',
    length: 2,
  }) as never;

const variable = (name: string, extra: Record<string, string> = {}) =>
  ({ name, role: 'data', type: 'float', dimensions: [], shape: [], ...extra }) as never;

describe('combineSummaries', () => {
  it('unites data variables in first-seen order, time coverage and boxes', () => {
    const problems: FieldProblem[] = [];
    const out = combineSummaries(
      [
        {
          field: 'body.paths[0]',
          summary: summary({
            variables: [variable('tas', { standardName: 'air_temperature', units: 'K' }), variable('lat')],
            dataVariables: ['tas'],
            time: time('2006-03-01T00:00:00', '2006-05-01T00:00:00'),
            bbox: [10, 40, 30, 50],
          }),
        },
        {
          field: 'body.paths[1]',
          summary: summary({
            variables: [variable('pr'), variable('tas')],
            dataVariables: ['pr', 'tas'],
            time: time('2006-01-01T00:00:00', '2006-02-30T00:00:00'),
            bbox: [0, 35, 20, 45],
          }),
        },
      ],
      problems,
    );
    expect(problems).toEqual([]);
    expect(out.variables).toEqual([
      { name: 'tas', standardName: 'air_temperature', units: 'K' },
      { name: 'pr' },
    ]);
    expect(out.timeCoverage).toEqual({
      start: '2006-01-01T00:00:00',
      end: '2006-05-01T00:00:00',
      calendar: '360_day',
    });
    expect(out.bbox).toEqual([0, 35, 30, 50]);
  });

  it('refuses files in different calendars, naming the one that disagrees', () => {
    const problems: FieldProblem[] = [];
    combineSummaries(
      [
        {
          field: 'body.paths[0]',
          summary: summary({ time: time('2006-01-01T00:00:00', '2006-02-01T00:00:00') }),
        },
        {
          field: 'body.paths[1]',
          summary: summary({ time: time('2006-01-01T00:00:00', '2006-02-01T00:00:00', 'noleap') }),
        },
      ],
      problems,
    );
    expect(problems).toEqual([{ field: 'body.paths[1]', message: expect.stringMatching(/noleap.*360_day/) }]);
  });
});

describe('unionBBox', () => {
  it('is null without boxes and global in longitude when a box crosses the antimeridian', () => {
    expect(unionBBox([])).toBeNull();
    expect(
      unionBBox([
        [170, -10, -170, 10],
        [0, 0, 10, 20],
      ]),
    ).toEqual([-180, -10, 180, 20]);
  });
});

describe('sharedFacets', () => {
  const ds = (facets: Record<string, unknown>) => ({ facets }) as unknown as DatasetRecord;
  it('keeps single values every source shares, never project or version', () => {
    expect(
      sharedFacets([
        ds({ project: 'CMIP5', model: 'HadGEM2-ES', experiment: 'rcp45', version: '1', variable: ['tas'] }),
        ds({ project: 'CMIP5', model: 'HadGEM2-ES', experiment: 'rcp85', version: '1' }),
      ]),
    ).toEqual({ model: 'HadGEM2-ES' });
    expect(sharedFacets([])).toEqual({});
  });
});

describe('slug', () => {
  it('makes a path segment of free text', () => {
    expect(slug('  Yearly mean: tas / HadGEM2-ES ')).toBe('Yearly_mean_tas_HadGEM2-ES');
    expect(slug('../..')).toBe('x');
    expect(slug('.hidden')).toBe('hidden');
  });
});
