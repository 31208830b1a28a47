import { InvalidError } from '@climcat/core';
import { toEpochMs, parseCalendarDate } from '../cf/calendar';
import { addDuration, parseIsoDuration, parseNcssQuery, resolveTimeWindow } from './params';

function problems(query: string): string[] {
  try {
    parseNcssQuery(query);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidError);
    return (error as InvalidError).errors.map((e) => `${e.field}: ${e.message}`);
  }
  throw new Error(`${query} was accepted`);
}

const ms = (text: string, cal: Parameters<typeof toEpochMs>[0]) =>
  toEpochMs(cal, parseCalendarDate(text, cal));

describe('parseNcssQuery', () => {
  it('reads a box, strides, a range and the accept type (TDS names)', () => {
    expect(
      parseNcssQuery(
        'var=tas,pr&var=ts&north=60&south=30&east=200&west=170&horizStride=2&time_start=2006-01-01&time_end=present&timeStride=3&accept=netcdf3',
      ),
    ).toEqual({
      vars: ['tas', 'pr', 'ts'],
      bbox: { north: 60, south: 30, east: 200, west: 170 },
      point: undefined,
      horizStride: 2,
      time: { kind: 'range', start: '2006-01-01', end: 'present', duration: undefined },
      timeStride: 3,
      vertCoord: undefined,
      addLatLon: false,
      accept: 'netcdf',
    });
  });

  it('var=all, time=all, time nearest, a point with csv', () => {
    expect(parseNcssQuery('var=all&time=all').vars).toBe('all');
    expect(parseNcssQuery('var=all&time=all').time).toEqual({ kind: 'all' });
    expect(parseNcssQuery('var=tas&time=2006-01-16T12:00:00').time).toEqual({
      kind: 'nearest',
      at: '2006-01-16T12:00:00',
    });
    const q = parseNcssQuery('var=tas&latitude=40&longitude=-105&accept=csv&vertCoord=850&addLatLon=true');
    expect([q.point, q.accept, q.vertCoord, q.addLatLon]).toEqual([
      { latitude: 40, longitude: -105 },
      'csv',
      850,
      true,
    ]);
  });

  it('reports every problem at once, each under its parameter', () => {
    expect(problems('north=1&south=2&east=x&west=0&horizStride=0&timeStride=1.5&accept=grib&foo=1')).toEqual([
      expect.stringMatching(/^query\.foo: is not an NCSS grid parameter/),
      'query.var: is required: a comma-separated list of grid variables, or "all"',
      'query.east: "x" is not a number',
      'query.north: north, south, east and west must be given together',
      'query.horizStride: "0" must be a whole number >= 1',
      'query.timeStride: "1.5" must be a whole number >= 1',
      'query.accept: "grib" is not one of netcdf, netcdf4, csv, xml',
    ]);
  });

  it('refuses north < south, latitudes past the poles, a lone time bound, time with a range, csv for a box', () => {
    expect(problems('var=a&north=-1&south=1&east=1&west=0')).toEqual([
      'query.north: north (-1) is less than south (1)',
    ]);
    expect(problems('var=a&north=91&south=1&east=1&west=0')).toEqual(['query.north: 91 is outside -90..90']);
    expect(problems('var=a&time_end=2000-01-01')[0]).toMatch(/^query\.time_end: a time range needs two of/);
    expect(problems('var=a&time=2000-01-01&time_start=2000-01-01&time_end=2001-01-01')[0]).toMatch(
      /^query\.time: give either/,
    );
    expect(problems('var=a&accept=csv')[0]).toMatch(/^query\.accept: csv is for a point request/);
    expect(problems('var=a&time_start=2000-01-01&time_duration=1 day')[0]).toMatch(
      /^query\.time_duration: .*ISO 8601/,
    );
  });
});

describe('durations and time windows in CF calendars', () => {
  it('parses ISO 8601 durations', () => {
    expect(parseIsoDuration('P1Y2M3W4DT5H6M7.5S')).toEqual({
      text: 'P1Y2M3W4DT5H6M7.5S',
      years: 1,
      months: 2,
      days: 25,
      milliseconds: ((5 * 60 + 6) * 60 + 7.5) * 1000,
    });
    expect(() => parseIsoDuration('P')).toThrow();
    expect(() => parseIsoDuration('P1.5M')).toThrow(/whole/);
  });

  it('adds months on the calendar fields: Jan 31 + 1 month is Feb 28 (noleap), Feb 30 (360_day)', () => {
    const d = parseIsoDuration('P1M');
    expect(addDuration('noleap', ms('2001-01-31', 'noleap'), d, 1)).toBe(ms('2001-02-28', 'noleap'));
    expect(addDuration('360_day', ms('2001-01-30', '360_day'), d, 1)).toBe(ms('2001-02-30', '360_day'));
    expect(addDuration('proleptic_gregorian', ms('2000-03-31', 'proleptic_gregorian'), d, -1)).toBe(
      ms('2000-02-29', 'proleptic_gregorian'),
    );
  });

  it('resolves any two of start, end and duration; the third must agree', () => {
    const d = parseIsoDuration('P10D');
    expect(resolveTimeWindow({ kind: 'range', end: '2000-03-01', duration: d }, 'noleap')).toEqual({
      startMs: ms('2000-02-19', 'noleap'),
      endMs: ms('2000-03-01', 'noleap'),
    });
    expect(() =>
      resolveTimeWindow({ kind: 'range', start: '2000-01-01', end: '2000-01-05', duration: d }, 'noleap'),
    ).toThrow(/not time_end 2000-01-05/);
    expect(() =>
      resolveTimeWindow({ kind: 'range', start: '2000-02-29', end: '2000-03-05' }, 'noleap'),
    ).toThrow(/noleap calendar/);
    expect(() =>
      resolveTimeWindow({ kind: 'range', start: '2000-03-05', end: '2000-03-01' }, '360_day'),
    ).toThrow(/before time_start/);
  });

  it('present is today in the calendar (day cut to the month)', () => {
    const now = new Date(Date.UTC(2024, 0, 31, 6));
    const w = resolveTimeWindow({ kind: 'range', start: '2024-01-01', end: 'present' }, '360_day', now);
    expect(w.endMs).toBe(ms('2024-01-30T06:00:00', '360_day'));
  });
});
