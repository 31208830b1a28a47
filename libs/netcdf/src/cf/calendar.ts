/**
 * CF calendars as integer day numbers, so dates are never computed with JS
 * `Date`. Each calendar maps (year, month, day) to a day count and back; the
 * "standard" calendar is Julian before 1582-10-15 and Gregorian from then on.
 */
import { CfError } from '../errors';

export type Calendar = 'standard' | 'proleptic_gregorian' | 'noleap' | 'all_leap' | '360_day' | 'julian';

export const CALENDARS: readonly Calendar[] = [
  'standard',
  'proleptic_gregorian',
  'noleap',
  'all_leap',
  '360_day',
  'julian',
];

const ALIASES: Record<string, Calendar> = {
  standard: 'standard',
  gregorian: 'standard',
  mixed: 'standard',
  proleptic_gregorian: 'proleptic_gregorian',
  noleap: 'noleap',
  no_leap: 'noleap',
  '365_day': 'noleap',
  '365day': 'noleap',
  all_leap: 'all_leap',
  allleap: 'all_leap',
  '366_day': 'all_leap',
  '366day': 'all_leap',
  '360_day': '360_day',
  '360day': '360_day',
  julian: 'julian',
};

/** Canonical name of a CF calendar attribute (missing means "standard"); unknown names are a CfError. */
export function normalizeCalendar(name: string | undefined, variable?: string): Calendar {
  if (name === undefined || name.trim() === '') return 'standard';
  const cal = ALIASES[name.trim().toLowerCase()];
  if (!cal)
    throw new CfError(
      'UNKNOWN_CALENDAR',
      `unknown calendar "${name}" (expected one of ${Object.keys(ALIASES).join(', ')})`,
      variable,
      'calendar',
    );
  return cal;
}

/** A date in a CF calendar. Years follow the calendar's numbering (see `hasYearZero`). */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/**
 * Whether year 0 exists. As in cftime: standard and julian go from -1 (1 BC)
 * to 1; proleptic_gregorian (ISO 8601) and the idealised calendars have year 0.
 */
export function hasYearZero(cal: Calendar): boolean {
  return cal !== 'standard' && cal !== 'julian';
}

const CUM_NOLEAP = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
const CUM_LEAP = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366];

const fdiv = (a: number, b: number): number => Math.floor(a / b);

function isGregorianLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
function isJulianLeap(y: number): boolean {
  return ((y % 4) + 4) % 4 === 0;
}

/** Julian Day Number of a proleptic Gregorian date (astronomical year numbering). */
function gregorianToJdn(y: number, m: number, d: number): number {
  const a = fdiv(14 - m, 12);
  const yy = y + 4800 - a;
  const mm = m + 12 * a - 3;
  return d + fdiv(153 * mm + 2, 5) + 365 * yy + fdiv(yy, 4) - fdiv(yy, 100) + fdiv(yy, 400) - 32045;
}

function julianToJdn(y: number, m: number, d: number): number {
  const a = fdiv(14 - m, 12);
  const yy = y + 4800 - a;
  const mm = m + 12 * a - 3;
  return d + fdiv(153 * mm + 2, 5) + 365 * yy + fdiv(yy, 4) - 32083;
}

function jdnToGregorian(j: number): [number, number, number] {
  const a = j + 32044;
  const b = fdiv(4 * a + 3, 146097);
  const c = a - fdiv(146097 * b, 4);
  const d = fdiv(4 * c + 3, 1461);
  const e = c - fdiv(1461 * d, 4);
  const m = fdiv(5 * e + 2, 153);
  return [100 * b + d - 4800 + fdiv(m, 10), m + 3 - 12 * fdiv(m, 10), e - fdiv(153 * m + 2, 5) + 1];
}

function jdnToJulian(j: number): [number, number, number] {
  const c = j + 32082;
  const d = fdiv(4 * c + 3, 1461);
  const e = c - fdiv(1461 * d, 4);
  const m = fdiv(5 * e + 2, 153);
  return [d - 4800 + fdiv(m, 10), m + 3 - 12 * fdiv(m, 10), e - fdiv(153 * m + 2, 5) + 1];
}

/** JDN of 1582-10-15, the first Gregorian day of the standard calendar. */
const GREGORIAN_START_JDN = 2299161;

function toAstronomical(cal: Calendar, year: number): number {
  return !hasYearZero(cal) && year < 0 ? year + 1 : year;
}
function fromAstronomical(cal: Calendar, year: number): number {
  return !hasYearZero(cal) && year <= 0 ? year - 1 : year;
}

export function daysInMonth(cal: Calendar, year: number, month: number): number {
  if (cal === '360_day') return 30;
  const y = toAstronomical(cal, year);
  const leap =
    cal === 'all_leap'
      ? true
      : cal === 'noleap'
        ? false
        : cal === 'julian' || (cal === 'standard' && y < 1582)
          ? isJulianLeap(y)
          : isGregorianLeap(y);
  return (
    ((leap ? CUM_LEAP : CUM_NOLEAP)[month] as number) - ((leap ? CUM_LEAP : CUM_NOLEAP)[month - 1] as number)
  );
}

/** Why (year, month, day) is not a date of `cal`, or undefined when it is. */
export function invalidDateReason(
  cal: Calendar,
  year: number,
  month: number,
  day: number,
): string | undefined {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day))
    return 'non-integer field';
  if (year === 0 && !hasYearZero(cal)) return `year 0 does not exist in the ${cal} calendar`;
  if (month < 1 || month > 12) return `month ${month} is not 1..12`;
  const dim = daysInMonth(cal, year, month);
  if (day < 1 || day > dim) return `day ${day} is not 1..${dim} for ${year}-${month} in the ${cal} calendar`;
  if (cal === 'standard' && year === 1582 && month === 10 && day > 4 && day < 15)
    return `1582-10-${day} does not exist in the standard calendar (Julian to Gregorian switch)`;
  return undefined;
}

/** Days since the calendar's own epoch. Assumes a valid date. */
export function dayNumber(cal: Calendar, year: number, month: number, day: number): number {
  const y = toAstronomical(cal, year);
  switch (cal) {
    case '360_day':
      return y * 360 + (month - 1) * 30 + day - 1;
    case 'noleap':
      return y * 365 + (CUM_NOLEAP[month - 1] as number) + day - 1;
    case 'all_leap':
      return y * 366 + (CUM_LEAP[month - 1] as number) + day - 1;
    case 'proleptic_gregorian':
      return gregorianToJdn(y, month, day);
    case 'julian':
      return julianToJdn(y, month, day);
    case 'standard': {
      const afterSwitch = y > 1582 || (y === 1582 && (month > 10 || (month === 10 && day >= 15)));
      return afterSwitch ? gregorianToJdn(y, month, day) : julianToJdn(y, month, day);
    }
  }
}

/** Inverse of dayNumber. */
export function dateFromDayNumber(cal: Calendar, n: number): [number, number, number] {
  let ymd: [number, number, number];
  switch (cal) {
    case '360_day': {
      const y = fdiv(n, 360);
      const r = n - y * 360;
      ymd = [y, fdiv(r, 30) + 1, (r % 30) + 1];
      break;
    }
    case 'noleap':
    case 'all_leap': {
      const len = cal === 'noleap' ? 365 : 366;
      const cum = cal === 'noleap' ? CUM_NOLEAP : CUM_LEAP;
      const y = fdiv(n, len);
      const r = n - y * len;
      let m = 1;
      while ((cum[m] as number) <= r) m++;
      ymd = [y, m, r - (cum[m - 1] as number) + 1];
      break;
    }
    case 'proleptic_gregorian':
      ymd = jdnToGregorian(n);
      break;
    case 'julian':
      ymd = jdnToJulian(n);
      break;
    case 'standard':
      ymd = n >= GREGORIAN_START_JDN ? jdnToGregorian(n) : jdnToJulian(n);
      break;
  }
  ymd[0] = fromAstronomical(cal, ymd[0]);
  return ymd;
}

const MS_PER_DAY = 86_400_000;

/** Milliseconds since the calendar epoch (exact for |result| < 2^53). */
export function toEpochMs(cal: Calendar, d: CalendarDate): number {
  return (
    dayNumber(cal, d.year, d.month, d.day) * MS_PER_DAY +
    ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 +
    d.millisecond
  );
}

export function fromEpochMs(cal: Calendar, ms: number): CalendarDate {
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  const [year, month, day] = dateFromDayNumber(cal, days);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  return { year, month, day, hour, minute, second, millisecond: rest - second * 1000 };
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** `YYYY-MM-DDTHH:MM:SS` (milliseconds dropped; negative years as `-YYYY`). */
export function formatIso(d: CalendarDate): string {
  const y = d.year < 0 ? `-${pad(-d.year, 4)}` : pad(d.year, 4);
  return `${y}-${pad(d.month, 2)}-${pad(d.day, 2)}T${pad(d.hour, 2)}:${pad(d.minute, 2)}:${pad(d.second, 2)}`;
}

export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return (
    a.year - b.year ||
    a.month - b.month ||
    a.day - b.day ||
    a.hour - b.hour ||
    a.minute - b.minute ||
    a.second - b.second ||
    a.millisecond - b.millisecond
  );
}

const ISO_RE =
  /^([+-]?\d{1,6})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?)?Z?$/;

/**
 * Parses `YYYY-MM-DD[THH[:MM[:SS[.fff]]]]` as a date of `cal`, checking it
 * exists there (2005-02-30 is fine in 360_day, not in noleap).
 */
export function parseCalendarDate(text: string, cal: Calendar): CalendarDate {
  const m = ISO_RE.exec(text.trim());
  if (!m) throw new CfError('BAD_DATE', `"${text}" is not a YYYY-MM-DD[THH:MM:SS] date`);
  const date = dateFromParts(m.slice(1, 8), cal, text);
  return date;
}

/** Builds and validates a date from [year, month, day, hour?, minute?, second?, fraction?] strings. */
export function dateFromParts(parts: (string | undefined)[], cal: Calendar, text: string): CalendarDate {
  const num = (s: string | undefined): number => (s === undefined || s === '' ? 0 : Number(s));
  const [year, month, day, hour, minute, second] = parts.slice(0, 6).map(num) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = parts[6];
  const millisecond = fraction ? Math.min(999, Math.round(Number(`0.${fraction}`) * 1000)) : 0;
  const reason = invalidDateReason(cal, year, month, day);
  if (reason) throw new CfError('BAD_DATE', `"${text}": ${reason}`);
  if (hour > 23 || minute > 59 || second > 60)
    throw new CfError('BAD_DATE', `"${text}": time of day ${hour}:${minute}:${second} is out of range`);
  return { year, month, day, hour, minute, second, millisecond };
}
