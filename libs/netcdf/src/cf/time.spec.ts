import { CfError } from '../errors';
import { CfTime, timeCoverage } from './time';

describe('CfTime.parse', () => {
  it.each([
    ['days since 1949-12-1 00:00:00', 'standard', 0, '1949-12-01T00:00:00'],
    ['days since 1850-01-01', 'noleap', 365.5, '1851-01-01T12:00:00'],
    ['hours since 1-1-1 0:0:0.0', 'proleptic_gregorian', 24, '0001-01-02T00:00:00'],
    ['seconds since 1970-01-01T00:00:00Z', 'standard', 86400 * 365, '1971-01-01T00:00:00'],
    ['days since 1950-01-01 00:00:00 UTC', 'standard', 1, '1950-01-02T00:00:00'],
    ['minutes since 2000-1-1 12:00 +1:00', 'standard', 0, '2000-01-01T11:00:00'],
    ['Days Since 2000-01-01', 'standard', 31, '2000-02-01T00:00:00'],
    ['months since 2000-01-01', '360_day', 1.5, '2000-02-16T00:00:00'],
    ['years since 2000-01-01', '360_day', 1, '2001-01-01T00:00:00'],
    ['days since 19500101', 'standard', 0, '1950-01-01T00:00:00'],
    ['days since 2005-02-30', '360_day', 1, '2005-03-01T00:00:00'],
    ['hours since 1582-10-04 00:00:00', 'standard', 24, '1582-10-15T00:00:00'],
    ['days since 2000-03-01', 'julian', -1, '2000-02-29T00:00:00'],
    ['days since 2000-03-01', 'all_leap', -1, '2000-02-29T00:00:00'],
    ['days since 2001-03-01', 'all_leap', -1, '2001-02-29T00:00:00'],
    ['days since 2001-03-01', 'noleap', -1, '2001-02-28T00:00:00'],
  ])('%s (%s) + %d → %s', (units, calendar, value, iso) => {
    expect(CfTime.parse(units, calendar).decodeIso(value)).toBe(iso);
  });

  it('round-trips encode/decode', () => {
    const t = CfTime.parse('hours since 1949-12-1 00:00:00', '360_day');
    for (const v of [0, 1, 23.5, 8640, -100, 123456.25]) expect(t.encode(t.decode(v))).toBeCloseTo(v, 9);
  });

  it('rounds float noise to the millisecond instead of losing a second', () => {
    const t = CfTime.parse('days since 2000-01-01', 'noleap');
    expect(t.decodeIso(0.9999999999)).toBe('2000-01-02T00:00:00');
  });

  it.each([
    ['kelvin', 'BAD_UNITS'],
    ['days', 'BAD_UNITS'],
    ['fortnights since 2000-01-01', 'BAD_UNITS'],
    ['days since yesterday', 'BAD_UNITS'],
    ['days since 2001-02-29', 'BAD_UNITS'],
    ['months since 2000-01-01', 'UNSUPPORTED'],
  ])('rejects %j with %s', (units, code) => {
    expect(() => CfTime.parse(units, 'standard', 'time')).toThrow(CfError);
    try {
      CfTime.parse(units, 'standard', 'time');
    } catch (e) {
      expect(e).toMatchObject({ code, variable: 'time' });
    }
  });

  it('rejects missing units and unknown calendars', () => {
    expect(() => CfTime.parse(undefined, 'standard', 'time')).toThrow(/no units/);
    expect(() => CfTime.parse('days since 2000-01-01', 'martian')).toThrow(/unknown calendar/);
  });

  it('rejects values that cannot be dates', () => {
    const t = CfTime.parse('days since 2000-01-01', 'standard', 'time');
    expect(() => t.decode(NaN)).toThrow(CfError);
    expect(() => t.decode(1e20)).toThrow(/cannot be decoded/);
  });
});

describe('timeCoverage', () => {
  const t = CfTime.parse('days since 1859-12-01 00:00:00', '360_day');

  it('prefers bounds and reports 360_day month ends', () => {
    const c = timeCoverage(t, [52575, 52605], [52560, 52590, 52590, 52620]);
    expect(c).toEqual({
      start: '2005-12-01T00:00:00',
      end: '2006-02-01T00:00:00',
      calendar: '360_day',
      units: 'days since 1859-12-01 00:00:00',
      fromBounds: true,
    });
  });

  it('uses values without bounds and skips fill values', () => {
    const c = timeCoverage(t, [1e20, 52575, 52605], undefined, [1e20]);
    expect(c).toMatchObject({ start: '2005-12-16T00:00:00', end: '2006-01-16T00:00:00', fromBounds: false });
    expect(timeCoverage(t, [1e20], undefined, [1e20])).toBeUndefined();
  });
});
