/**
 * The DAP2 view of a NetCDF file (types, Grids, names) and the DDS text of a
 * constrained projection. Type mapping follows TDS: byte/ubyte → Byte (the
 * DAS says which with `_Unsigned`), char → String over the leading
 * dimensions, int64/uint64 left out (DAP2 has no 64-bit integers).
 */
import type { NcMetadata, NcType, NcVariable } from '../model';

export type DapType = 'Byte' | 'Int16' | 'UInt16' | 'Int32' | 'UInt32' | 'Float32' | 'Float64' | 'String';

const DAP_TYPES: Record<Exclude<NcType, 'int64' | 'uint64'>, DapType> = {
  byte: 'Byte',
  ubyte: 'Byte',
  char: 'String',
  short: 'Int16',
  ushort: 'UInt16',
  int: 'Int32',
  uint: 'UInt32',
  float: 'Float32',
  double: 'Float64',
  string: 'String',
};

/** The DAP2 type of a NetCDF type, or undefined for int64/uint64. */
export function dapType(type: NcType): DapType | undefined {
  return type === 'int64' || type === 'uint64' ? undefined : DAP_TYPES[type];
}

export interface DapDim {
  /** DAP (escaped) name. */
  name: string;
  size: number;
}

/** One DAP2 array (or scalar, when `dims` is empty) backed by a NetCDF variable. */
export interface DapArray {
  /** DAP (escaped) name. */
  name: string;
  variable: NcVariable;
  type: DapType;
  /** DAP dimensions: the variable's, without the string-length dimension of a char variable. */
  dims: DapDim[];
  /** char variables: bytes per string (the last dimension; 1 for a scalar char). */
  strlen?: number;
}

export type DapVar =
  | { kind: 'array'; name: string; array: DapArray }
  | { kind: 'grid'; name: string; array: DapArray; maps: DapArray[] };

export interface DapDataset {
  /** DAP (escaped) dataset name. */
  name: string;
  metadata: NcMetadata;
  /** Top-level variables in file order. */
  vars: DapVar[];
  /** Variables DAP2 cannot carry (int64/uint64), named in the DAS. */
  omitted: NcVariable[];
}

/**
 * DAP2 identifiers: letters, digits and `_ - + ~ ! * '` stay, everything else
 * (including `/` of NetCDF-4 group paths, `.`, space, non-ASCII) becomes %XX
 * of its UTF-8 bytes, which DAP2 clients decode (netCDF-C then shows `/` as `%2f`).
 */
export function dapName(name: string, keep = /[A-Za-z0-9_\-+~!*']/): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += keep.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function arrayOf(v: NcVariable, type: DapType): DapArray {
  const dims = v.dimensions.map((d, i) => ({ name: dapName(d), size: v.shape[i] ?? 0 }));
  if (v.type !== 'char') return { name: dapName(v.name), variable: v, type, dims };
  const strlen = dims.length ? (dims[dims.length - 1]?.size ?? 0) : 1;
  return { name: dapName(v.name), variable: v, type, dims: dims.slice(0, -1), strlen };
}

/** The DAP2 view of a file; `name` is the dataset name shown in the DDS (e.g. the file name). */
export function dapDataset(metadata: NcMetadata, name: string): DapDataset {
  const coordinates = new Map<string, NcVariable>();
  for (const v of metadata.variables) {
    if (v.dimensions.length === 1 && v.dimensions[0] === v.name && dapType(v.type) && v.type !== 'char')
      coordinates.set(v.name, v);
  }
  const vars: DapVar[] = [];
  const omitted: NcVariable[] = [];
  for (const v of metadata.variables) {
    const type = dapType(v.type);
    if (!type) {
      omitted.push(v);
      continue;
    }
    const array = arrayOf(v, type);
    const isGrid =
      v.type !== 'char' &&
      v.type !== 'string' &&
      v.dimensions.length > 1 &&
      v.dimensions.every((d) => coordinates.has(d));
    if (isGrid) {
      const maps = v.dimensions.map((d) => {
        const c = coordinates.get(d) as NcVariable;
        return arrayOf(c, dapType(c.type) as DapType);
      });
      vars.push({ kind: 'grid', name: array.name, array, maps });
    } else {
      vars.push({ kind: 'array', name: array.name, array });
    }
  }
  // The dataset name is never part of a constraint, so `.` (file extensions) may stay.
  return { name: dapName(name, /[A-Za-z0-9_\-+~!*'.]/), metadata, vars, omitted };
}

/** The selected indices of one DAP dimension. */
export interface Slice {
  start: number;
  stride: number;
  count: number;
}

export interface ProjectedArray {
  array: DapArray;
  /** One per DAP dimension. */
  slices: Slice[];
}

/** What a constraint selects, one entry per top-level DDS declaration. */
export type Projected =
  | { kind: 'array'; name: string; item: ProjectedArray }
  | { kind: 'grid'; name: string; array: ProjectedArray; maps: ProjectedArray[] }
  /** A Grid of which only some parts were asked for. */
  | { kind: 'structure'; name: string; members: ProjectedArray[] };

export function fullSlices(array: DapArray): Slice[] {
  return array.dims.map((d) => ({ start: 0, stride: 1, count: d.size }));
}

/** Everything: the unconstrained dataset. */
export function projectAll(ds: DapDataset): Projected[] {
  return ds.vars.map((v) =>
    v.kind === 'array'
      ? { kind: 'array', name: v.name, item: { array: v.array, slices: fullSlices(v.array) } }
      : {
          kind: 'grid',
          name: v.name,
          array: { array: v.array, slices: fullSlices(v.array) },
          maps: v.maps.map((m) => ({ array: m, slices: fullSlices(m) })),
        },
  );
}

/** The arrays a projection sends, in wire order. */
export function projectedArrays(projected: readonly Projected[]): ProjectedArray[] {
  const out: ProjectedArray[] = [];
  for (const p of projected) {
    if (p.kind === 'array') out.push(p.item);
    else if (p.kind === 'grid') out.push(p.array, ...p.maps);
    else out.push(...p.members);
  }
  return out;
}

function declaration(p: ProjectedArray, indent: string): string {
  const dims = p.array.dims.map((d, i) => `[${d.name} = ${p.slices[i]?.count ?? d.size}]`).join('');
  return `${indent}${p.array.type} ${p.array.name}${dims};\n`;
}

/** DDS text of a projection (the whole dataset when `projected` is projectAll's). */
export function renderDds(ds: DapDataset, projected: readonly Projected[]): string {
  let out = 'Dataset {\n';
  for (const p of projected) {
    if (p.kind === 'array') out += declaration(p.item, '    ');
    else if (p.kind === 'grid') {
      out += '    Grid {\n      ARRAY:\n';
      out += declaration(p.array, '        ');
      out += '      MAPS:\n';
      for (const m of p.maps) out += declaration(m, '        ');
      out += `    } ${p.name};\n`;
    } else {
      out += '    Structure {\n';
      for (const m of p.members) out += declaration(m, '        ');
      out += `    } ${p.name};\n`;
    }
  }
  return `${out}} ${ds.name};\n`;
}
