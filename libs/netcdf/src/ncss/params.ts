/**
 * NetCDF Subset Service (grid) query parameters, as TDS names them
 * (`NcssGridParamsBean`): parsed and checked without the file, so syntax
 * errors are 400s before anything is opened. Dates stay text here; they are
 * read in the file's calendar by `resolveTimeWindow`.
 */
import { InvalidError, type FieldProblem } from '@climcat/core';
import { CfError } from '../errors';
import {
  daysInMonth,
  formatIso,
  fromEpochMs,
  parseCalendarDate,
  toEpochMs,
  type Calendar,
  type CalendarDate,
} from '../cf/calendar';

export type NcssAccept = 'netcdf' | 'netcdf4' | 'csv' | 'xml';

/** `time_duration` as ISO 8601 parts: years and months move the calendar fields, the rest is exact. */
export interface IsoDuration {
  text: string;
  years: number;
  months: number;
  days: number;
  milliseconds: number;
}

export type TimeQuery =
  | { kind: 'all' }
  | { kind: 'nearest'; at: string }
  | { kind: 'range'; start?: string; end?: string; duration?: IsoDuration };

export interface LatLonBox {
  north: number;
  south: number;
  east: number;
  west: number;
}

export interface NcssQuery {
  /** Requested variable names, or every grid. */
  vars: string[] | 'all';
  bbox?: LatLonBox;
  /** Grid as point: the nearest cell's time series. */
  point?: { latitude: number; longitude: number };
  horizStride: number;
  time: TimeQuery;
  timeStride: number;
  vertCoord?: number;
  addLatLon: boolean;
  accept: NcssAccept;
}

const ACCEPT: Record<string, NcssAccept> = {
  netcdf: 'netcdf',
  netcdf3: 'netcdf',
  'application/x-netcdf': 'netcdf',
  'application/netcdf': 'netcdf',
  netcdf4: 'netcdf4',
  'application/x-netcdf4': 'netcdf4',
  csv: 'csv',
  'text/csv': 'csv',
  xml: 'xml',
  'text/xml': 'xml',
  'application/xml': 'xml',
};

const KNOWN = new Set([
  'var',
  'north',
  'south',
  'east',
  'west',
  'latitude',
  'longitude',
  'horizStride',
  'time_start',
  'time_end',
  'time_duration',
  'time',
  'temporal',
  'timeStride',
  'vertCoord',
  'addLatLon',
  'accept',
]);

/** Decodes `a=1&b=2` (plus as space); repeated keys keep every value. */
export function parseQueryString(query: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq >= 0 ? part.slice(0, eq) : part;
    const rawValue = eq >= 0 ? part.slice(eq + 1) : '';
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, '%20'));
      value = decodeURIComponent(rawValue.replace(/\+/g, '%20'));
    } catch {
      throw InvalidError.field(`query.${rawKey}`, 'is not valid percent-encoding');
    }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

const DURATION_RE =
  /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** `P1Y2M10DT2H30M`, `P3W`, `PT36H`; fractional years/months are refused (no fixed length). */
export function parseIsoDuration(text: string): IsoDuration {
  const m = DURATION_RE.exec(text.trim());
  if (!m || text.trim() === 'P' || /T$/i.test(text.trim()))
    throw new Error(`"${text}" is not an ISO 8601 duration such as P10D, P1M or PT12H`);
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  if (!Number.isInteger(n(1)) || !Number.isInteger(n(2)))
    throw new Error(`"${text}": years and months must be whole numbers`);
  return {
    text: text.trim(),
    years: n(1),
    months: n(2),
    days: n(3) * 7 + n(4),
    milliseconds: Math.round(((n(5) * 60 + n(6)) * 60 + n(7)) * 1000),
  };
}

/**
 * Parses an NCSS grid query. Every problem is collected and reported at once,
 * each naming its parameter (`query.north`…) and what is accepted.
 */
export function parseNcssQuery(query: string | Map<string, string[]>): NcssQuery {
  const params = typeof query === 'string' ? parseQueryString(query) : query;
  const problems: FieldProblem[] = [];
  const bad = (name: string, message: string) => problems.push({ field: `query.${name}`, message });
  for (const key of params.keys())
    if (!KNOWN.has(key)) bad(key, `is not an NCSS grid parameter (known: ${[...KNOWN].join(', ')})`);
  const one = (name: string): string | undefined => {
    const values = params.get(name);
    if (!values) return undefined;
    if (values.length > 1 && name !== 'var') bad(name, `is given ${values.length} times; give it once`);
    const v = values[0]?.trim();
    return v === '' ? undefined : v;
  };
  const num = (name: string): number | undefined => {
    const v = one(name);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x)) {
      bad(name, `"${v}" is not a number`);
      return undefined;
    }
    return x;
  };
  const stride = (name: string): number => {
    const v = one(name);
    if (v === undefined) return 1;
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) {
      bad(name, `"${v}" must be a whole number >= 1`);
      return 1;
    }
    return x;
  };

  const varList = (params.get('var') ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  let vars: string[] | 'all' = varList;
  if (varList.length === 0) bad('var', 'is required: a comma-separated list of grid variables, or "all"');
  else if (varList.some((v) => v.toLowerCase() === 'all')) vars = 'all';

  const north = num('north');
  const south = num('south');
  const east = num('east');
  const west = num('west');
  const edges = [north, south, east, west];
  let bbox: LatLonBox | undefined;
  if (edges.some((e) => e !== undefined)) {
    if (edges.some((e) => e === undefined))
      bad('north', 'north, south, east and west must be given together');
    else {
      const box = { north, south, east, west } as LatLonBox;
      if (box.north < box.south) bad('north', `north (${box.north}) is less than south (${box.south})`);
      for (const k of ['north', 'south'] as const)
        if (Math.abs(box[k]) > 90) bad(k, `${box[k]} is outside -90..90`);
      bbox = box;
    }
  }

  const latitude = num('latitude');
  const longitude = num('longitude');
  let point: NcssQuery['point'];
  if (latitude !== undefined || longitude !== undefined) {
    if (latitude === undefined || longitude === undefined)
      bad(latitude === undefined ? 'latitude' : 'longitude', 'latitude and longitude must be given together');
    else if (Math.abs(latitude) > 90) bad('latitude', `${latitude} is outside -90..90`);
    else point = { latitude, longitude };
    if (bbox)
      bad('latitude', 'give either a point (latitude/longitude) or a box (north/south/east/west), not both');
  }

  const horizStride = stride('horizStride');
  const timeStride = stride('timeStride');

  const start = one('time_start');
  const end = one('time_end');
  const durationText = one('time_duration');
  const at = one('time');
  const temporal = one('temporal');
  let duration: IsoDuration | undefined;
  if (durationText !== undefined) {
    try {
      duration = parseIsoDuration(durationText);
    } catch (error) {
      bad('time_duration', (error as Error).message);
    }
  }
  let time: TimeQuery = { kind: 'all' };
  const ranged = [start, end, durationText].filter((x) => x !== undefined).length;
  if (temporal !== undefined && temporal.toLowerCase() !== 'all')
    bad('temporal', `"${temporal}" is not accepted (only temporal=all)`);
  if (at !== undefined && ranged > 0)
    bad('time', 'give either time (one instant, or "all") or time_start/time_end/time_duration, not both');
  else if (at !== undefined) time = at.toLowerCase() === 'all' ? { kind: 'all' } : { kind: 'nearest', at };
  else if (ranged === 1)
    bad(
      start ? 'time_start' : end ? 'time_end' : 'time_duration',
      'a time range needs two of time_start, time_end and time_duration',
    );
  else if (ranged >= 2) time = { kind: 'range', start, end, duration };

  const vertCoord = num('vertCoord');
  const addLatLonText = one('addLatLon');
  let addLatLon = false;
  if (addLatLonText !== undefined) {
    if (!/^(true|false)$/i.test(addLatLonText)) bad('addLatLon', `"${addLatLonText}" must be true or false`);
    addLatLon = addLatLonText.toLowerCase() === 'true';
  }
  const acceptText = one('accept') ?? 'netcdf';
  const accept = ACCEPT[acceptText.toLowerCase()];
  if (!accept) bad('accept', `"${acceptText}" is not one of netcdf, netcdf4, csv, xml`);
  else if ((accept === 'csv' || accept === 'xml') && !point)
    bad('accept', `${accept} is for a point request (latitude and longitude); a grid subset is netcdf`);

  InvalidError.throwIfAny(problems);
  return {
    vars,
    bbox,
    point,
    horizStride,
    time,
    timeStride,
    vertCoord,
    addLatLon,
    accept: accept as NcssAccept,
  };
}

/** A time window in one calendar, as epoch milliseconds of that calendar (`calendar.ts`). */
export interface TimeWindow {
  startMs: number;
  endMs: number;
}

/** Today in `cal`: the wall-clock date, its day cut to the calendar's month (30 Feb in 360_day does exist). */
export function presentIn(cal: Calendar, now: Date = new Date()): CalendarDate {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  const day = Math.min(now.getUTCDate(), daysInMonth(cal, year, month));
  return {
    year,
    month,
    day,
    hour: now.getUTCHours(),
    minute: now.getUTCMinutes(),
    second: now.getUTCSeconds(),
    millisecond: 0,
  };
}

function parseDateParam(name: string, text: string, cal: Calendar, now?: Date): number {
  if (text.toLowerCase() === 'present') return toEpochMs(cal, presentIn(cal, now));
  try {
    return toEpochMs(cal, parseCalendarDate(text, cal));
  } catch (error) {
    if (error instanceof CfError)
      throw InvalidError.field(`query.${name}`, `${error.message} in the file's ${cal} calendar`);
    throw error;
  }
}

/** `ms` moved by `sign` × `d`: years/months on the calendar fields (day cut to the month), the rest exactly. */
export function addDuration(cal: Calendar, ms: number, d: IsoDuration, sign: 1 | -1): number {
  let date = fromEpochMs(cal, ms);
  if (d.years || d.months) {
    const total = date.year * 12 + (date.month - 1) + sign * (d.years * 12 + d.months);
    const year = Math.floor(total / 12);
    const month = total - year * 12 + 1;
    date = { ...date, year, month, day: Math.min(date.day, daysInMonth(cal, year, month)) };
  }
  return toEpochMs(cal, date) + sign * (d.days * 86_400_000 + d.milliseconds);
}

/**
 * The window a range query names in the file's calendar: any two of start,
 * end and duration; all three must agree. Errors name the parameter.
 */
export function resolveTimeWindow(
  q: Extract<TimeQuery, { kind: 'range' }>,
  cal: Calendar,
  now?: Date,
): TimeWindow {
  const start = q.start === undefined ? undefined : parseDateParam('time_start', q.start, cal, now);
  const end = q.end === undefined ? undefined : parseDateParam('time_end', q.end, cal, now);
  let startMs: number;
  let endMs: number;
  if (start !== undefined && end !== undefined) {
    startMs = start;
    endMs = end;
    if (q.duration && addDuration(cal, start, q.duration, 1) !== end)
      throw InvalidError.field(
        'query.time_duration',
        `time_start ${q.start} + ${q.duration.text} is ${formatIso(fromEpochMs(cal, addDuration(cal, start, q.duration, 1)))}, ` +
          `not time_end ${q.end} (${cal} calendar); give only two of the three`,
      );
  } else if (start !== undefined && q.duration) {
    startMs = start;
    endMs = addDuration(cal, start, q.duration, 1);
  } else if (end !== undefined && q.duration) {
    endMs = end;
    startMs = addDuration(cal, end, q.duration, -1);
  } else
    throw InvalidError.field(
      'query.time_start',
      'a time range needs two of time_start, time_end and time_duration',
    );
  if (endMs < startMs)
    throw InvalidError.field(
      'query.time_end',
      `time_end ${formatIso(fromEpochMs(cal, endMs))} is before time_start ${formatIso(fromEpochMs(cal, startMs))}`,
    );
  return { startMs, endMs };
}

/** The instant of `time=` in the file's calendar. */
export function resolveInstant(text: string, cal: Calendar, now?: Date): number {
  return parseDateParam('time', text, cal, now);
}
