/**
 * HTTP byte ranges and validators for the file server (RFC 9110 §13, §14),
 * as pure functions of the request headers and the file's size, ETag and
 * modification time.
 */

/** Most ranges one request may ask for; more is refused (RFC 9110 §14.2 lets servers bound them). */
export const MAX_RANGES = 16;

/** An inclusive byte range within the file. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeDecision =
  /** No (usable) Range header: send the whole file. */
  | { kind: 'full' }
  | { kind: 'partial'; ranges: ByteRange[] }
  /** 416 with `Content-Range: bytes *\/size`; `reason` says why. */
  | { kind: 'unsatisfiable'; reason: string };

/**
 * Reads a Range header against a file of `size` bytes. An other unit than
 * `bytes` is ignored (RFC 9110 §14.2); a malformed `bytes` set, more than
 * MAX_RANGES ranges, overlapping ranges and ranges that all start past the
 * end are refused with the reason, rather than answered with a whole file
 * the client did not ask for.
 */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(.*)$/.exec(header);
  if (!match) return { kind: 'unsatisfiable', reason: `Range header "${clip(header)}" is not unit=ranges` };
  if (match[1]!.toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = match[2]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'unsatisfiable', reason: 'Range header names no byte range' };
  if (specs.length > MAX_RANGES)
    return {
      kind: 'unsatisfiable',
      reason: `Range header asks for ${specs.length} ranges; at most ${MAX_RANGES} are served per request`,
    };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const m = /^(\d*)-(\d*)$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === ''))
      return {
        kind: 'unsatisfiable',
        reason: `byte range "${clip(spec)}" is not first-last, first- or -suffix`,
      };
    if (m[1] === '') {
      const suffix = Number(m[2]);
      // A zero-length suffix selects nothing; a suffix of an empty file too.
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(m[1]);
    const last = m[2] === '' ? Infinity : Number(m[2]);
    if (last < start)
      return { kind: 'unsatisfiable', reason: `byte range "${clip(spec)}" ends before it starts` };
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(last, size - 1) });
  }
  if (ranges.length === 0)
    return {
      kind: 'unsatisfiable',
      reason: `no requested range starts before the end of the file (${size} bytes)`,
    };
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start <= sorted[i - 1]!.end)
      return {
        kind: 'unsatisfiable',
        reason: `byte ranges ${show(sorted[i - 1]!)} and ${show(sorted[i]!)} overlap; ask for each byte once`,
      };
  }
  return { kind: 'partial', ranges };
}

/** The validators of one representation. */
export interface Validators {
  /** Strong entity tag, quoted. */
  etag: string;
  /** Modification time, whole seconds (HTTP dates have no finer resolution). */
  lastModified: Date;
}

/** A strong ETag: the store's own (S3) when known, else size and mtime, as nginx makes it. */
export function entityTag(size: number, mtime: Date, storeEtag?: string): string {
  if (storeEtag) return `"${storeEtag.replace(/"/g, '')}"`;
  return `"${size.toString(16)}-${Math.floor(mtime.getTime() / 1000).toString(16)}"`;
}

export type Precondition = 'proceed' | 'not-modified' | 'failed';

/**
 * RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since (the last only without If-None-Match).
 */
export function evaluatePreconditions(
  headers: Record<string, string | string[] | undefined>,
  v: Validators,
): Precondition {
  const ifMatch = one(headers['if-match']);
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, v.etag, true)) return 'failed';
  } else {
    const since = httpDate(one(headers['if-unmodified-since']));
    if (since && seconds(v.lastModified) > seconds(since)) return 'failed';
  }
  const ifNoneMatch = one(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    if (listMatches(ifNoneMatch, v.etag, false)) return 'not-modified';
  } else {
    const since = httpDate(one(headers['if-modified-since']));
    if (since && seconds(v.lastModified) <= seconds(since)) return 'not-modified';
  }
  return 'proceed';
}

/**
 * If-Range (RFC 9110 §13.1.5): the Range header applies only when the
 * validator still matches, by strong comparison of the ETag or an exact
 * Last-Modified date; otherwise the whole file is sent.
 */
export function rangeStillValid(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return !value.startsWith('W/') && value === v.etag;
  const date = httpDate(value);
  return date !== null && seconds(date) === seconds(v.lastModified);
}

function listMatches(list: string, etag: string, strong: boolean): boolean {
  if (list.trim() === '*') return true;
  return list.split(',').some((raw) => {
    const tag = raw.trim();
    if (strong) return !tag.startsWith('W/') && tag === etag;
    return tag.replace(/^W\//, '') === etag.replace(/^W\//, '');
  });
}

function httpDate(value: string | undefined): Date | null {
  if (value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function show(r: ByteRange): string {
  return `${r.start}-${r.end}`;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
