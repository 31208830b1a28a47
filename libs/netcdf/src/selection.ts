import type { BufferLender } from './io/buffer-pool';
import { SelectionError, SelectionTooLargeError } from './errors';

/** A normalised hyperslab: one start/count/stride per dimension. */
export interface Hyperslab {
  start: number[];
  count: number[];
  stride: number[];
}

/** One piece of a streamed read: `data[0]` is element `offset` of the flattened (row-major) result. */
export interface HyperslabChunk<T> {
  offset: number;
  data: T;
  /**
   * readRawChunks with `inPlace` only: the selected bytes as views of `data`,
   * in order, where they were read. `data` is then the block as read, the
   * gaps between the runs included.
   */
  runs?: Uint8Array[];
}

export interface ReadOptions {
  /** Target bytes per streamed chunk and per read request (default: the source's hint, else 4 MiB). */
  chunkBytes?: number;
  /** `read()` refuses results larger than this (default 256 MiB); `readChunks()` has no total limit. */
  maxBytes?: number;
  /** Read through gaps up to this size rather than issuing another request (default: the source's hint, else 64 KiB). */
  maxGapBytes?: number;
  /**
   * readChunks only: lend the reader's own buffers instead of copying each
   * chunk out. Faster for streaming consumers, but a chunk's data is only
   * valid until the next chunk is requested (copy it to keep it).
   */
  reuseBuffers?: boolean;
  /**
   * readRawChunks only: read into buffers borrowed from this lender (blocks
   * of its `bufferBytes`, in place of `chunkBytes`). A chunk stays valid until the consumer
   * gives its buffer back with `release` (for a socket: in the write's
   * callback), and the reader waits for a buffer when all are out, so the
   * bytes read ahead of the consumer are bounded and no chunk is allocated.
   */
  buffers?: BufferLender;
  /**
   * readRawChunks only: a block whose selected runs are long (a record
   * variable's records, between the other variables' values) leaves them where
   * they were read and lists them in `runs`, instead of moving them together:
   * for a consumer that writes them out as they are (vectored socket writes).
   */
  inPlace?: boolean;
}

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024 * 1024;

/**
 * Fills in defaults (start 0, stride 1, count = as many as fit) and checks
 * that the selection lies inside `shape`.
 */
export function normalizeSelection(
  variable: string,
  shape: readonly number[],
  start?: readonly number[],
  count?: readonly number[],
  stride?: readonly number[],
): Hyperslab {
  const rank = shape.length;
  for (const [label, arr] of [
    ['start', start],
    ['count', count],
    ['stride', stride],
  ] as const) {
    if (arr && arr.length !== rank)
      throw new SelectionError(
        variable,
        `${label} has ${arr.length} entries but the variable has rank ${rank}`,
      );
  }
  const out: Hyperslab = { start: [], count: [], stride: [] };
  for (let d = 0; d < rank; d++) {
    const size = shape[d] as number;
    const st = stride?.[d] ?? 1;
    const s = start?.[d] ?? 0;
    if (!Number.isSafeInteger(st) || st < 1)
      throw new SelectionError(variable, `stride[${d}]=${st} must be an integer >= 1`);
    if (!Number.isSafeInteger(s) || s < 0 || s > size)
      throw new SelectionError(variable, `start[${d}]=${s} is outside 0..${size}`);
    const c = count?.[d] ?? Math.ceil((size - s) / st);
    if (!Number.isSafeInteger(c) || c < 0)
      throw new SelectionError(variable, `count[${d}]=${c} must be an integer >= 0`);
    if (c > 0 && s + (c - 1) * st >= size)
      throw new SelectionError(
        variable,
        `dimension ${d}: start ${s} + (count ${c} - 1) * stride ${st} reaches ${s + (c - 1) * st}, past the last index ${size - 1}`,
      );
    out.start.push(s);
    out.count.push(c);
    out.stride.push(st);
  }
  return out;
}

export function elementCount(count: readonly number[]): number {
  return count.reduce((a, b) => a * b, 1);
}

/**
 * Element count of `slab`, after checking that a whole-result read of it
 * (`elementSize` bytes each) stays within `maxBytes` (default 256 MiB).
 */
export function checkResultSize(
  variable: string,
  slab: Hyperslab,
  elementSize: number,
  maxBytes = DEFAULT_MAX_RESULT_BYTES,
): number {
  const n = elementCount(slab.count);
  const bytes = n * elementSize;
  if (bytes > maxBytes) throw new SelectionTooLargeError(variable, bytes, maxBytes);
  return n;
}
