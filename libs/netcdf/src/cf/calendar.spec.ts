import { CfError } from '../errors';
import {
  CALENDARS,
  compareDates,
  dateFromDayNumber,
  dayNumber,
  daysInMonth,
  formatIso,
  invalidDateReason,
  normalizeCalendar,
  parseCalendarDate,
  type Calendar,
} from './calendar';

describe('normalizeCalendar', () => {
  it.each([
    ['gregorian', 'standard'],
    ['Standard', 'standard'],
    ['365_day', 'noleap'],
    ['366_day', 'all_leap'],
    ['360_day', '360_day'],
    ['proleptic_gregorian', 'proleptic_gregorian'],
    ['julian', 'julian'],
    [undefined, 'standard'],
  ])('maps %s to %s', (name, expected) => {
    expect(normalizeCalendar(name)).toBe(expected);
  });

  it('rejects an unknown calendar with a CfError naming the variable', () => {
    const err = (() => {
      try {
        normalizeCalendar('lunar', 'time');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(CfError);
    expect(err).toMatchObject({ code: 'UNKNOWN_CALENDAR', variable: 'time', attribute: 'calendar' });
  });
});

describe('calendar dates', () => {
  it('accepts 2005-02-30 only in the 360_day calendar', () => {
    expect(invalidDateReason('360_day', 2005, 2, 30)).toBeUndefined();
    expect(invalidDateReason('noleap', 2005, 2, 30)).toMatch(/day 30/);
    expect(invalidDateReason('standard', 2005, 2, 29)).toMatch(/day 29/);
    expect(invalidDateReason('all_leap', 2005, 2, 29)).toBeUndefined();
    expect(invalidDateReason('noleap', 2004, 2, 29)).toMatch(/day 29/);
  });

  it('knows the Julian/Gregorian switch of the standard calendar', () => {
    expect(invalidDateReason('standard', 1582, 10, 10)).toMatch(/does not exist/);
    expect(invalidDateReason('proleptic_gregorian', 1582, 10, 10)).toBeUndefined();
    expect(dayNumber('standard', 1582, 10, 15) - dayNumber('standard', 1582, 10, 4)).toBe(1);
    expect(daysInMonth('standard', 1500, 2)).toBe(29); // Julian leap rule before 1582
    expect(daysInMonth('proleptic_gregorian', 1500, 2)).toBe(28);
    expect(daysInMonth('julian', 1900, 2)).toBe(29);
    expect(daysInMonth('standard', 1900, 2)).toBe(28);
  });

  it('has no year 0 in standard and julian', () => {
    expect(invalidDateReason('standard', 0, 1, 1)).toMatch(/year 0/);
    expect(invalidDateReason('julian', 0, 1, 1)).toMatch(/year 0/);
    expect(invalidDateReason('proleptic_gregorian', 0, 1, 1)).toBeUndefined();
    expect(dayNumber('standard', 1, 1, 1) - dayNumber('standard', -1, 12, 31)).toBe(1);
  });

  it.each(CALENDARS)('round-trips day numbers in %s', (cal: Calendar) => {
    const problems: string[] = [];
    let prev: number | undefined;
    for (let year = -3; year <= 2101; year += year < 1570 ? 97 : 1) {
      if (year === 0 && (cal === 'standard' || cal === 'julian')) continue;
      for (let month = 1; month <= 12; month++) {
        for (const day of [1, 15, daysInMonth(cal, year, month)]) {
          if (invalidDateReason(cal, year, month, day)) continue;
          const n = dayNumber(cal, year, month, day);
          const back = dateFromDayNumber(cal, n).join('-');
          if (back !== `${year}-${month}-${day}`) problems.push(`${year}-${month}-${day} -> ${n} -> ${back}`);
          if (prev !== undefined && n <= prev)
            problems.push(`${year}-${month}-${day} is not after the previous date`);
          prev = n;
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('counts year lengths per calendar', () => {
    const len = (cal: Calendar, y: number): number => dayNumber(cal, y + 1, 1, 1) - dayNumber(cal, y, 1, 1);
    expect(len('360_day', 2001)).toBe(360);
    expect(len('noleap', 2000)).toBe(365);
    expect(len('all_leap', 2001)).toBe(366);
    expect(len('standard', 2000)).toBe(366);
    expect(len('standard', 1900)).toBe(365);
    expect(len('julian', 1900)).toBe(366);
    expect(len('standard', 1582)).toBe(355);
  });
});

describe('formatting and parsing', () => {
  it('formats ISO strings with zero padding and negative years', () => {
    expect(formatIso({ year: 5, month: 2, day: 30, hour: 1, minute: 2, second: 3, millisecond: 999 })).toBe(
      '0005-02-30T01:02:03',
    );
    expect(formatIso({ year: -44, month: 3, day: 15, hour: 0, minute: 0, second: 0, millisecond: 0 })).toBe(
      '-0044-03-15T00:00:00',
    );
  });

  it('parses dates valid in the calendar and rejects the rest', () => {
    expect(parseCalendarDate('2005-02-30T12:00:00', '360_day')).toMatchObject({
      year: 2005,
      month: 2,
      day: 30,
      hour: 12,
    });
    expect(() => parseCalendarDate('2005-02-30', 'noleap')).toThrow(CfError);
    expect(() => parseCalendarDate('yesterday', 'noleap')).toThrow(/not a YYYY-MM-DD/);
    expect(() => parseCalendarDate('2005-01-01T25:00:00', 'noleap')).toThrow(/out of range/);
  });

  it('orders dates field by field', () => {
    const a = parseCalendarDate('2005-02-30', '360_day');
    const b = parseCalendarDate('2005-03-01', '360_day');
    expect(compareDates(a, b)).toBeLessThan(0);
    expect(compareDates(b, a)).toBeGreaterThan(0);
    expect(compareDates(a, a)).toBe(0);
  });
});
