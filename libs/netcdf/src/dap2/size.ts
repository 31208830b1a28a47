/**
 * The size of a constrained DAP2 response, computed from the metadata before
 * any data is read, and a split of an oversized request along its first
 * (usually time) dimension that a client can issue as is.
 */
import { TooLargeError } from '@climcat/core';
import type { Projected, ProjectedArray } from './dds';
import { projectedArrays } from './dds';
import { elementsOf } from './xdr';

const WIRE_BYTES: Record<string, number> = {
  Byte: 1,
  Int16: 4,
  UInt16: 4,
  Int32: 4,
  UInt32: 4,
  Float32: 4,
  Float64: 8,
};

/** XDR bytes of one projected array (strings: their declared length, 16 bytes for NetCDF-4 strings). */
export function arrayBytes(p: ProjectedArray): number {
  const n = elementsOf(p);
  const scalar = p.array.dims.length === 0;
  if (p.array.type === 'String') {
    const len = p.array.variable.type === 'char' ? (p.array.strlen ?? 0) : 16;
    return (scalar ? 0 : 4) + n * (4 + Math.ceil(len / 4) * 4);
  }
  if (scalar) return p.array.type === 'Float64' ? 8 : 4;
  const w = WIRE_BYTES[p.array.type] ?? 8;
  return 8 + (w === 1 ? Math.ceil(n / 4) * 4 : n * w);
}

/** Bytes of the data part of a `.dods` answer for `projected`. */
export function estimateSize(projected: readonly Projected[]): number {
  return projectedArrays(projected).reduce((sum, p) => sum + arrayBytes(p), 0);
}

/** 1234567890 → "1.23 GB". */
export function humanBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

interface Expression {
  /** What the constraint calls it: `tas` or `tas.time`. */
  path: string;
  p: ProjectedArray;
}

function expressions(projected: readonly Projected[]): Expression[] {
  const out: Expression[] = [];
  for (const x of projected) {
    if (x.kind === 'array') out.push({ path: x.name, p: x.item });
    else if (x.kind === 'grid') out.push({ path: x.name, p: x.array });
    else for (const m of x.members) out.push({ path: `${x.name}.${m.array.name}`, p: m });
  }
  return out;
}

function rangeText(start: number, stride: number, stop: number): string {
  return stride === 1 ? `[${start}:${stop}]` : `[${start}:${stride}:${stop}]`;
}

/** `projected` with `count` indices (from the same start and stride) along the first dimension of `target`. */
function withFirstCount(projected: readonly Projected[], target: ProjectedArray, count: number): Projected[] {
  const cut = (p: ProjectedArray): ProjectedArray => ({
    array: p.array,
    slices: p.slices.map((s, i) => (i === 0 ? { ...s, count } : s)),
  });
  return projected.map((x) => {
    if (x.kind === 'array') return x.item === target ? { ...x, item: cut(x.item) } : x;
    if (x.kind === 'grid')
      return x.array === target
        ? { ...x, array: cut(x.array), maps: x.maps.map((m, i) => (i === 0 ? cut(m) : m)) }
        : x;
    return { ...x, members: x.members.map((m) => (m === target ? cut(m) : m)) };
  });
}

/**
 * A concrete split of an oversized request: index ranges along the first
 * dimension of its largest array, each piece (with the rest of the request)
 * under `limit`; or, when one index is already too big, what to constrain.
 */
export function splitSuggestion(projected: readonly Projected[], limit: number): string {
  const exprs = expressions(projected);
  let biggest: Expression | undefined;
  let biggestBytes = -1;
  for (const e of exprs) {
    const b = arrayBytes(e.p);
    if (b > biggestBytes) {
      biggest = e;
      biggestBytes = b;
    }
  }
  if (!biggest || biggest.p.array.dims.length === 0) return 'ask for fewer variables per request';
  const target = biggest;
  const first = target.p.slices[0] as { start: number; stride: number; count: number };
  const dimName = target.p.array.dims[0]?.name ?? 'the first dimension';
  const sizeWith = (k: number) => estimateSize(withFirstCount(projected, target.p, k));
  // The largest piece that fits: the size grows with the count, so bisect.
  let lo = 0;
  let hi = first.count;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sizeWith(mid) <= limit) lo = mid;
    else hi = mid - 1;
  }
  const fit = lo;
  const rest = target.p.slices.slice(1).map((s, i) => {
    const size = target.p.array.dims[i + 1]?.size ?? 0;
    return s.start === 0 && s.stride === 1 && s.count === size
      ? undefined
      : rangeText(s.start, s.stride, s.start + (s.count - 1) * s.stride);
  });
  const tail = rest.some((r) => r !== undefined)
    ? rest.map((r, i) => r ?? `[0:${(target.p.array.dims[i + 1]?.size ?? 1) - 1}]`).join('')
    : '';
  if (fit < 1) {
    const one = sizeWith(1) - sizeWith(0);
    return (
      `one ${dimName} index of ${target.path} is already ${humanBytes(one)}; ` +
      'constrain its other dimensions too (e.g. a stride on them)' +
      (sizeWith(0) > limit ? ' and ask for fewer variables per request' : '')
    );
  }
  const pieces: string[] = [];
  for (let k = 0; k < first.count; k += fit) {
    const a = first.start + k * first.stride;
    const b = first.start + (Math.min(k + fit, first.count) - 1) * first.stride;
    pieces.push(`${target.path}${rangeText(a, first.stride, b)}${tail}`);
  }
  const shown =
    pieces.length <= 6
      ? pieces.join(', ')
      : `${pieces.slice(0, 4).join(', ')}, ..., ${pieces[pieces.length - 1]}`;
  const step = Math.ceil(first.count / fit);
  const last = first.start + (first.count - 1) * first.stride;
  const strided =
    first.count > 1 && step > 1
      ? `; or thin it with a stride: ${target.path}${rangeText(first.start, first.stride * step, last)}${tail}`
      : '';
  return (
    `split it along ${dimName} into ${pieces.length} requests of at most ${fit} indices ` +
    `(each at most ${humanBytes(sizeWith(fit))}): ${shown}${strided}`
  );
}

/** Refuses a response over `limit` bytes, saying how big it is and how to split it. */
export function checkResponseSize(
  projected: readonly Projected[],
  limit: number,
  limitName: string,
  extraBytes = 0,
): number {
  const size = estimateSize(projected) + extraBytes;
  if (size > limit) {
    throw new TooLargeError(
      `The response would be about ${humanBytes(size)} (${size} bytes), over this server's ${limitName} ` +
        `of ${humanBytes(limit)} (${limit} bytes): ${splitSuggestion(projected, limit - extraBytes)}.`,
    );
  }
  return size;
}
