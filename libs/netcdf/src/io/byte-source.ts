import type { RunsJob } from './pread-worker';
import { ByteSourceError } from '../errors';

/**
 * Positioned reads over a file, object or URL. Implementations never load the
 * whole resource: each `read` fetches exactly the requested bytes and refuses
 * requests larger than `maxReadBytes`.
 */
export interface ByteSource {
  /** Human-readable location for error messages (path, s3://bucket/key, URL without credentials). */
  readonly description: string;
  /** Set when the bytes are a local file (HDF5 opens it directly). */
  readonly localPath?: string;
  /** Largest single read this source accepts. */
  readonly maxReadBytes: number;
  size(): Promise<number>;
  /**
   * Exactly `length` bytes starting at `offset`, in a buffer the caller owns
   * (its own ArrayBuffer at offset 0); throws ByteSourceError past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional: fills `target` from `offset` without allocating (local files). */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional (local files): reads every block of `job` and copies its runs
   * into `target`, memory of a SharedArrayBuffer, in one job off the event
   * loop (io/pread-worker.ts): many short reads for the price of one.
   */
  readRuns?(job: RunsJob, target: Uint8Array): Promise<void>;
  /**
   * How this source likes to be read: bytes per request and how large a gap
   * is cheaper to read through than to skip with another request (local
   * files: keeps kernel readahead going; S3/HTTP: saves a round trip).
   */
  readonly readHints?: ReadHints;
  close(): Promise<void>;
}

export const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

export interface ReadHints {
  blockBytes: number;
  maxGapBytes: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** A read that covers one or more requested ranges. */
export interface CoalescedRange extends ByteRange {
  /** Indices into the input array of the ranges it covers. */
  members: number[];
}

export interface CoalesceOptions {
  /** Read through gaps up to this many bytes instead of issuing another request. Default 64 KiB. */
  maxGap?: number;
  /** Never coalesce beyond this many bytes per read. Default 8 MiB. */
  maxSpan?: number;
}

/**
 * Merges adjacent, overlapping and nearby ranges (after sorting by offset) into
 * reads no larger than `maxSpan` (a single range larger than that stays alone;
 * `readRanges` splits it).
 */
export function coalesceRanges(
  ranges: readonly ByteRange[],
  options: CoalesceOptions = {},
): CoalescedRange[] {
  const maxGap = options.maxGap ?? 64 * 1024;
  const maxSpan = options.maxSpan ?? 8 * 1024 * 1024;
  const order = ranges
    .map((_, i) => i)
    .sort((a, b) => (ranges[a] as ByteRange).offset - (ranges[b] as ByteRange).offset);
  const out: CoalescedRange[] = [];
  let current: CoalescedRange | undefined;
  for (const i of order) {
    const r = ranges[i] as ByteRange;
    if (current) {
      const end = current.offset + current.length;
      const newEnd = Math.max(end, r.offset + r.length);
      if (r.offset <= end + maxGap && newEnd - current.offset <= maxSpan) {
        current.length = newEnd - current.offset;
        current.members.push(i);
        continue;
      }
    }
    current = { offset: r.offset, length: r.length, members: [i] };
    out.push(current);
  }
  return out;
}

/**
 * Reads many ranges with as few requests as coalescing allows; returns the
 * bytes of each input range in input order. For big selections use the
 * streaming hyperslab reader instead: this collects everything.
 */
export async function readRanges(
  source: ByteSource,
  ranges: readonly ByteRange[],
  options: CoalesceOptions = {},
): Promise<Uint8Array[]> {
  const out = new Array<Uint8Array>(ranges.length);
  for (const block of coalesceRanges(ranges, { maxSpan: source.maxReadBytes, ...options })) {
    const bytes = await readSpan(source, block.offset, block.length);
    for (const i of block.members) {
      const r = ranges[i] as ByteRange;
      out[i] = bytes.subarray(r.offset - block.offset, r.offset - block.offset + r.length);
    }
  }
  return out;
}

/** Reads a span that may exceed `maxReadBytes` by splitting it. */
export async function readSpan(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  if (length <= source.maxReadBytes) return source.read(offset, length);
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const n = Math.min(source.maxReadBytes, length - done);
    out.set(await source.read(offset + done, n), done);
    done += n;
  }
  return out;
}

/** Shared argument checks for implementations. */
export function checkReadArgs(
  description: string,
  offset: number,
  length: number,
  maxReadBytes: number,
  size?: number,
): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
    throw new ByteSourceError(
      'OUT_OF_RANGE',
      `invalid read offset=${offset} length=${length}`,
      description,
      offset,
    );
  if (length > maxReadBytes)
    throw new ByteSourceError(
      'TOO_LARGE',
      `read of ${length} bytes exceeds the ${maxReadBytes}-byte limit per read`,
      description,
      offset,
    );
  if (size !== undefined && offset + length > size)
    throw new ByteSourceError(
      'OUT_OF_RANGE',
      `read of ${length} bytes at ${offset} goes past the end (${size} bytes)`,
      description,
      offset,
    );
}

/** A byte source over bytes already in memory (tests, small generated files). */
export class MemoryByteSource implements ByteSource {
  readonly maxReadBytes: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly description = 'memory',
    maxReadBytes = DEFAULT_MAX_READ_BYTES,
  ) {
    this.maxReadBytes = maxReadBytes;
  }
  async size(): Promise<number> {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkReadArgs(this.description, offset, length, this.maxReadBytes, this.bytes.length);
    return this.bytes.slice(offset, offset + length);
  }
  async close(): Promise<void> {}
}
