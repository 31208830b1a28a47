/**
 * DAP2 constraint expressions (the projection part of netCDF-C's dce.y
 * grammar): `a,b.c`, hyperslabs `[i]`, `[start:stop]`, `[start:stride:stop]`
 * with the stop inclusive, Grid members (`tas.tas[0][0:10][5]`, `tas.time`).
 * Selections (`&...`) and server functions are refused with a message.
 */
import { InvalidError } from '@climcat/core';
import {
  type DapArray,
  type DapDataset,
  type DapVar,
  type Projected,
  type ProjectedArray,
  type Slice,
} from './dds';

/** `[start:stride:stop]` as written (stop inclusive). */
export interface RawSlice {
  start: number;
  stride: number;
  stop: number;
}

export interface Segment {
  name: string;
  slices: RawSlice[];
}

/** One projection: `a[..].b[..]` → two segments. */
export type Projection = Segment[];

/** Longest constraint accepted (after percent-decoding). */
export const MAX_CONSTRAINT_LENGTH = 256 * 1024;

/** A constraint that is not well-formed, or names what the dataset does not have. */
export class ConstraintError extends InvalidError {
  constructor(message: string) {
    super(`Constraint expression: ${message}`, [{ field: 'constraint', message }]);
  }
}

/** Decodes %XX once (so `%255B` stays `%5B`, never `[`); malformed escapes are an error. */
export function decodeQueryOnce(query: string): string {
  try {
    return decodeURIComponent(query.replace(/\+/g, '%20'));
  } catch {
    throw new ConstraintError('the query is not valid percent-encoding');
  }
}

const NAME_CHAR = /[A-Za-z0-9_\-+~!*'%/\\]/;

/** Parses the (already percent-decoded) projection list; empty = everything. */
export function parseConstraint(text: string): Projection[] {
  if (text.length > MAX_CONSTRAINT_LENGTH)
    throw new ConstraintError(
      `${text.length} characters is longer than the ${MAX_CONSTRAINT_LENGTH} accepted; ask for fewer variables per request`,
    );
  const amp = text.indexOf('&');
  if (amp >= 0 && text.slice(amp + 1).trim() !== '')
    throw new ConstraintError(
      `selections ("&${text.slice(amp + 1, amp + 41)}") are not supported; project variables and index ranges instead`,
    );
  const projections: Projection[] = [];
  const src = amp >= 0 ? text.slice(0, amp) : text;
  let i = 0;
  const fail = (what: string): never => {
    throw new ConstraintError(`${what} at character ${i + 1} of "${abbreviate(src)}"`);
  };
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i] as string)) i++;
  };
  const integer = (): number => {
    skipSpace();
    const from = i;
    if (src[i] === '-') fail('negative index');
    while (i < src.length && /[0-9]/.test(src[i] as string)) i++;
    if (from === i) fail(`expected an index, found "${src[i] ?? 'the end'}"`);
    const n = Number(src.slice(from, i));
    if (!Number.isSafeInteger(n)) fail(`index ${src.slice(from, i)} is too large`);
    skipSpace();
    return n;
  };
  skipSpace();
  if (i >= src.length) return projections;
  for (;;) {
    const projection: Projection = [];
    for (;;) {
      skipSpace();
      const from = i;
      while (i < src.length && NAME_CHAR.test(src[i] as string)) i++;
      if (from === i) fail(`expected a variable name, found "${src[i] ?? 'the end'}"`);
      const name = src.slice(from, i);
      skipSpace();
      if (src[i] === '(') throw new ConstraintError(`server functions ("${name}(...)") are not supported`);
      const slices: RawSlice[] = [];
      while (src[i] === '[') {
        i++;
        const a = integer();
        let b: number | undefined;
        let c: number | undefined;
        if (src[i] === ':') {
          i++;
          b = integer();
          if (src[i] === ':') {
            i++;
            c = integer();
          }
        }
        if (src[i] !== ']')
          fail(`expected "]" or ":", found "${src[i] ?? 'the end'}" (unbalanced brackets?)`);
        i++;
        skipSpace();
        if (b === undefined) slices.push({ start: a, stride: 1, stop: a });
        else if (c === undefined) slices.push({ start: a, stride: 1, stop: b });
        else slices.push({ start: a, stride: b, stop: c });
      }
      if (src[i] === ']') fail('"]" without "["');
      projection.push({ name, slices });
      if (src[i] !== '.') break;
      i++;
    }
    projections.push(projection);
    skipSpace();
    if (i >= src.length) break;
    if (src[i] !== ',') fail(`expected "," between projections, found "${src[i]}"`);
    i++;
  }
  return projections;
}

function abbreviate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** DAP2 names may carry %XX escapes; compare names unescaped. */
function unescapeName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

function namesList(names: string[]): string {
  const shown = names.slice(0, 60).join(', ');
  return names.length > 60 ? `${shown} and ${names.length - 60} more` : shown;
}

function toSlices(array: DapArray, raw: readonly RawSlice[], label: string): Slice[] {
  const dims = array.dims;
  if (raw.length > dims.length)
    throw new ConstraintError(
      `${label} has ${dims.length} dimension${dims.length === 1 ? '' : 's'}` +
        `${dims.length ? ` (${dims.map((d) => `${d.name}=${d.size}`).join(', ')})` : ''} but ${raw.length} index ranges were given`,
    );
  return dims.map((dim, d) => {
    const r = raw[d];
    if (!r) return { start: 0, stride: 1, count: dim.size };
    const where = `${label} dimension ${dim.name} (size ${dim.size}, indices 0..${dim.size - 1})`;
    if (r.stride < 1) throw new ConstraintError(`${where}: stride ${r.stride} must be at least 1`);
    if (r.start > r.stop)
      throw new ConstraintError(`${where}: start ${r.start} is after stop ${r.stop} (the stop is inclusive)`);
    if (r.stop >= dim.size) throw new ConstraintError(`${where}: index ${r.stop} is out of range`);
    return { start: r.start, stride: r.stride, count: Math.floor((r.stop - r.start) / r.stride) + 1 };
  });
}

interface GridSelection {
  v: Extract<DapVar, { kind: 'grid' }>;
  /** Index 0 = the array, 1.. = the maps; undefined = not projected. */
  parts: (Slice[] | undefined)[];
}

function sameSlices(a: readonly Slice[], b: readonly Slice[]): boolean {
  return a.every((s, i) => {
    const t = b[i];
    return t !== undefined && s.start === t.start && s.stride === t.stride && s.count === t.count;
  });
}

/**
 * What a constraint selects from `ds`, in dataset order; an empty constraint
 * selects everything. Unknown names, bad ranges and selections throw ConstraintError.
 */
export function applyConstraint(ds: DapDataset, text: string): Projected[] {
  const projections = parseConstraint(text);
  const byName = new Map<string, { index: number; v: DapVar }>();
  ds.vars.forEach((v, index) => {
    byName.set(v.name, { index, v });
    byName.set(unescapeName(v.name), { index, v });
  });
  if (projections.length === 0) projections.push(...ds.vars.map((v) => [{ name: v.name, slices: [] }]));
  const arrays = new Map<number, Slice[]>();
  const grids = new Map<number, GridSelection>();
  for (const projection of projections) {
    const [head, ...rest] = projection as [Segment, ...Segment[]];
    const found = byName.get(head.name) ?? byName.get(unescapeName(head.name));
    if (!found)
      throw new ConstraintError(
        `no variable "${head.name}" in this dataset; it has ${namesList(ds.vars.map((v) => v.name))}` +
          (ds.omitted.length
            ? ` (64-bit integer variables ${ds.omitted.map((v) => v.name).join(', ')} have no DAP2 type: use the fileServer or NCSS)`
            : ''),
      );
    const { index, v } = found;
    if (v.kind === 'array') {
      if (rest.length)
        throw new ConstraintError(
          `"${v.name}" is an array, not a Grid or Structure: "${rest[0]?.name}" is not a member`,
        );
      arrays.set(index, toSlices(v.array, head.slices, v.name));
      continue;
    }
    const sel = grids.get(index) ?? { v, parts: new Array<Slice[] | undefined>(v.maps.length + 1) };
    grids.set(index, sel);
    if (rest.length === 0) {
      const slices = toSlices(v.array, head.slices, v.name);
      sel.parts[0] = slices;
      v.maps.forEach((_, m) => (sel.parts[m + 1] = [slices[m] as Slice]));
      continue;
    }
    if (head.slices.length)
      throw new ConstraintError(`index ranges go on the member of Grid "${v.name}", not on the Grid itself`);
    if (rest.length > 1)
      throw new ConstraintError(`"${v.name}.${rest[0]?.name}" is an array with no members`);
    const member = rest[0] as Segment;
    const memberName = unescapeName(member.name);
    const parts = [v.array, ...v.maps];
    const at = parts.findIndex((p) => p.name === member.name || unescapeName(p.name) === memberName);
    if (at < 0)
      throw new ConstraintError(
        `Grid "${v.name}" has no member "${member.name}"; its members are ${parts.map((p) => p.name).join(', ')}`,
      );
    const part = parts[at] as DapArray;
    sel.parts[at] = toSlices(part, member.slices, `${v.name}.${part.name}`);
  }
  const out: Projected[] = [];
  for (let index = 0; index < ds.vars.length; index++) {
    const v = ds.vars[index] as DapVar;
    const slices = arrays.get(index);
    if (slices && v.kind === 'array') {
      out.push({ kind: 'array', name: v.name, item: { array: v.array, slices } });
      continue;
    }
    const sel = grids.get(index);
    if (!sel || v.kind !== 'grid') continue;
    const parts = [v.array, ...v.maps];
    const arraySlices = sel.parts[0];
    const complete =
      arraySlices !== undefined &&
      v.maps.every((_, m) => {
        const ms = sel.parts[m + 1];
        return ms !== undefined && sameSlices(ms, [arraySlices[m] as Slice]);
      });
    if (complete) {
      out.push({
        kind: 'grid',
        name: v.name,
        array: { array: v.array, slices: arraySlices },
        maps: v.maps.map((m, k) => ({ array: m, slices: sel.parts[k + 1] as Slice[] })),
      });
      continue;
    }
    const members: ProjectedArray[] = [];
    parts.forEach((p, k) => {
      const s = sel.parts[k];
      if (s) members.push({ array: p, slices: s });
    });
    out.push({ kind: 'structure', name: v.name, members });
  }
  return out;
}
