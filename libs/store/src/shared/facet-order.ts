/**
 * The order of facet count reports, shared by both adapters: count
 * descending, then value in code-point order, capped at the facet limit.
 */
import type { FacetCount } from '@climcat/core';

/** `counts` in report order (count desc, value in code-point order), at most `limit` of them. */
export function topFacetValues(counts: FacetCount[], limit: number): FacetCount[] {
  return counts.sort((a, b) => b.count - a.count || compareCodePoints(a.value, b.value)).slice(0, limit);
}

/**
 * Code-point order, as SQLite's BINARY collation and MongoDB compare strings
 * (not UTF-16 units): the order of the UTF-8 bytes. Facet reports sort every
 * value of a name with this, so strings without surrogates up to their first
 * difference are compared in place; the rest are encoded and compared as bytes.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  for (; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (isSurrogate(x) || isSurrogate(y)) break;
    // Below the surrogates, unit order is code-point order and the shared prefix encodes alike.
    if (x !== y) return x < y ? -1 : 1;
  }
  if (i === n) return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}
