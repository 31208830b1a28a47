/**
 * CF time coordinates: `<unit> since <reference>` decoded per calendar.
 * Accepts the reference forms found in CMIP5/CORDEX files, e.g.
 * `days since 1949-12-1 00:00:00`, `days since 1850-01-01`,
 * `hours since 1-1-1 0:0:0.0`, `seconds since 1970-01-01T00:00:00Z`,
 * `days since 1950-01-01 00:00:00 UTC`, `minutes since 2000-1-1 12:00 +1:00`.
 */
import { CfError } from '../errors';
import {
  dateFromParts,
  formatIso,
  fromEpochMs,
  normalizeCalendar,
  toEpochMs,
  type Calendar,
  type CalendarDate,
} from './calendar';

export type TimeUnit = 'milliseconds' | 'seconds' | 'minutes' | 'hours' | 'days' | 'months' | 'years';

const UNIT_ALIASES: Record<string, TimeUnit> = {
  milliseconds: 'milliseconds',
  millisecond: 'milliseconds',
  msecs: 'milliseconds',
  msec: 'milliseconds',
  ms: 'milliseconds',
  seconds: 'seconds',
  second: 'seconds',
  secs: 'seconds',
  sec: 'seconds',
  s: 'seconds',
  minutes: 'minutes',
  minute: 'minutes',
  mins: 'minutes',
  min: 'minutes',
  hours: 'hours',
  hour: 'hours',
  hrs: 'hours',
  hr: 'hours',
  h: 'hours',
  days: 'days',
  day: 'days',
  d: 'days',
  months: 'months',
  month: 'months',
  years: 'years',
  year: 'years',
  yr: 'years',
};

const UNIT_MS: Record<Exclude<TimeUnit, 'months' | 'years'>, number> = {
  milliseconds: 1,
  seconds: 1000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
};

/** |offsets| beyond this many ms (about 285,000 years) are rejected rather than losing precision. */
const MAX_OFFSET_MS = 9e15;

const UNITS_RE = /^\s*([A-Za-z]+)\s+(?:since|from|after)\s+(.+?)\s*$/i;
const REF_RE =
  /^([+-]?\d{1,6})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?\s*$/i;
const COMPACT_RE = /^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?Z?$/;

/** A parsed CF time unit string in one calendar: converts numbers to calendar dates and back. */
export class CfTime {
  private readonly refMs: number;
  private readonly unitMs: number;

  private constructor(
    readonly unit: TimeUnit,
    readonly calendar: Calendar,
    /** The reference date in UTC (time-zone offsets applied). */
    readonly reference: CalendarDate,
    readonly units: string,
    private readonly variable?: string,
  ) {
    this.refMs = toEpochMs(calendar, reference);
    this.unitMs = unitMilliseconds(unit, calendar, units, variable);
  }

  /**
   * Parses `units` (e.g. `days since 1949-12-1 00:00:00`) for `calendar`
   * (attribute value; missing means standard). Throws CfError naming `variable`.
   */
  static parse(units: string | undefined, calendar?: string, variable?: string): CfTime {
    const cal = normalizeCalendar(calendar, variable);
    if (units === undefined)
      throw new CfError('BAD_UNITS', 'time variable has no units attribute', variable, 'units');
    const m = UNITS_RE.exec(units);
    if (!m)
      throw new CfError(
        'BAD_UNITS',
        `"${units}" is not of the form "<unit> since <reference date>"`,
        variable,
        'units',
      );
    const unit = UNIT_ALIASES[(m[1] as string).toLowerCase()];
    if (!unit)
      throw new CfError(
        'BAD_UNITS',
        `"${m[1]}" in "${units}" is not a time unit (seconds, minutes, hours, days…)`,
        variable,
        'units',
      );
    const reference = parseReference(m[2] as string, cal, units, variable);
    return new CfTime(unit, cal, reference, units, variable);
  }

  /** The calendar date `value` units after the reference (rounded to the millisecond). */
  decode(value: number): CalendarDate {
    const offset = value * this.unitMs;
    if (!Number.isFinite(offset) || Math.abs(offset) > MAX_OFFSET_MS)
      throw new CfError(
        'BAD_VALUE',
        `time value ${value} cannot be decoded with "${this.units}"`,
        this.variable,
      );
    return fromEpochMs(this.calendar, this.refMs + Math.round(offset));
  }

  /** `YYYY-MM-DDTHH:MM:SS` of `value`. */
  decodeIso(value: number): string {
    return formatIso(this.decode(value));
  }

  /** The number (in this unit and calendar) of `date`. */
  encode(date: CalendarDate): number {
    return (toEpochMs(this.calendar, date) - this.refMs) / this.unitMs;
  }
}

function unitMilliseconds(unit: TimeUnit, cal: Calendar, units: string, variable?: string): number {
  if (unit === 'months' || unit === 'years') {
    // Only the 360_day calendar gives months and years a fixed length (as cftime does).
    if (cal !== '360_day')
      throw new CfError(
        'UNSUPPORTED',
        `"${units}": ${unit} have no fixed length in the ${cal} calendar (only in 360_day)`,
        variable,
        'units',
      );
    return (unit === 'months' ? 30 : 360) * 86_400_000;
  }
  return UNIT_MS[unit];
}

function parseReference(text: string, cal: Calendar, units: string, variable?: string): CalendarDate {
  const m = REF_RE.exec(text);
  let parts: (string | undefined)[];
  let tz: string | undefined;
  if (m) {
    parts = m.slice(1, 8);
    tz = m[8];
  } else {
    const c = COMPACT_RE.exec(text);
    if (!c)
      throw new CfError(
        'BAD_UNITS',
        `reference date "${text}" in "${units}" is not of the form YYYY-MM-DD[ HH:MM:SS[.f]][ zone]`,
        variable,
        'units',
      );
    parts = [...c.slice(1, 7), undefined];
  }
  let date: CalendarDate;
  try {
    date = dateFromParts(parts, cal, text);
  } catch (err) {
    if (err instanceof CfError)
      throw new CfError('BAD_UNITS', `reference date in "${units}": ${err.message}`, variable, 'units');
    throw err;
  }
  const offsetMinutes = zoneOffsetMinutes(tz);
  if (offsetMinutes !== 0) date = fromEpochMs(cal, toEpochMs(cal, date) - offsetMinutes * 60_000);
  return date;
}

function zoneOffsetMinutes(tz: string | undefined): number {
  if (!tz || /^(z|utc|gmt)$/i.test(tz)) return 0;
  const m = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(tz);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -minutes : minutes;
}

export interface TimeCoverage {
  start: string;
  end: string;
  calendar: Calendar;
  units: string;
  /** True when start/end come from the bounds variable. */
  fromBounds: boolean;
}

/**
 * Coverage of a time axis: min/max of the bounds when given, else of the
 * values; values equal to a fill value (or not finite) are ignored.
 * Returns undefined when no valid value remains.
 */
export function timeCoverage(
  time: CfTime,
  values: ArrayLike<number>,
  bounds?: ArrayLike<number>,
  fillValues: readonly number[] = [],
): TimeCoverage | undefined {
  const range = (arr: ArrayLike<number>): [number, number] | undefined => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i] as number;
      if (!Number.isFinite(v) || fillValues.includes(v) || Math.abs(v) >= 9.9e36) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? [lo, hi] : undefined;
  };
  const fromBounds = bounds ? range(bounds) : undefined;
  const r = fromBounds ?? range(values);
  if (!r) return undefined;
  return {
    start: time.decodeIso(r[0]),
    end: time.decodeIso(r[1]),
    calendar: time.calendar,
    units: time.units,
    fromBounds: fromBounds !== undefined,
  };
}
