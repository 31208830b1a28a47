/**
 * What the HDF5 worker thread does with each request: opens files with
 * h5wasm, maps HDF5 objects to the NetCDF model (netCDF-C's conventions for
 * dimensions, hidden attributes and NC_CHAR) and reads hyperslabs. Runs in
 * the worker (h5-worker.ts); it takes the h5wasm module as an argument, so it
 * also runs in-process in tests.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as H5 from 'h5wasm' with { 'resolution-mode': 'import' };
import type { NcAttribute, NcDimension, NcType } from '../model';
import type { OpenResult, RawMetadata, RawVariable, WorkerFailure, WorkerRequest } from './h5-protocol';

export type H5Module = typeof H5;

const HIDDEN = new Set([
  'CLASS',
  'NAME',
  'REFERENCE_LIST',
  'DIMENSION_LIST',
  '_Netcdf4Dimid',
  '_Netcdf4Coordinates',
  '_NCProperties',
  '_nc3_strict',
  '_IsNetcdf4',
  '_SuperblockVersion',
]);
const PURE_DIMENSION = 'This is a netCDF dimension but not a netCDF variable';
const MAX_ATTRIBUTE_BYTES = 16 * 1024 * 1024;
/** Group nesting and object counts a file may have (hard links can make the HDF5 graph cyclic). */
export const MAX_GROUP_DEPTH = 32;
export const MAX_OBJECTS = 100_000;

/** Finds h5wasm's node build (ESM-only: it cannot be require.resolve'd from CommonJS). */
export function findH5wasm(starts: readonly string[] = [__dirname, process.cwd()]): string {
  const rel = join('node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js');
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, rel);
      if (existsSync(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('h5wasm is not installed (npm install h5wasm)');
}

/** Loads h5wasm's node build and waits for its WebAssembly module. */
export async function loadH5wasm(path: string): Promise<H5Module> {
  const m = (await import(pathToFileURL(path).href)) as H5Module;
  await m.ready;
  return m;
}

/** A request the worker refuses, with the NetCDF error code the client reports. */
export class H5Failure extends Error {
  constructor(
    readonly code: WorkerFailure['code'],
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

// h5wasm decodes ASCII-flagged strings (netCDF-C's NC_CHAR) as windows-1252.
const cp1252ToByte = new Map<string, number>();
[...new TextDecoder('ascii').decode(Uint8Array.from({ length: 256 }, (_, i) => i))].forEach((ch, i) =>
  cp1252ToByte.set(ch, i),
);
const utf8 = new TextDecoder();

/** The bytes of a string h5wasm decoded: UTF-8 for cset 1, else windows-1252 back to bytes. */
export function stringBytes(text: string, cset: number | undefined): Uint8Array {
  return cset === 1
    ? new TextEncoder().encode(text)
    : Uint8Array.from([...text], (ch) => cp1252ToByte.get(ch) ?? 0x3f);
}

/** netCDF-C writes text as ASCII-flagged bytes that are UTF-8 in practice: decode them so. */
export function fromAsciiDecoded(text: string, cset: number | undefined): string {
  return cset === 1 || [...text].every((ch) => ch.charCodeAt(0) < 0x80)
    ? text
    : utf8.decode(stringBytes(text, cset));
}

/** The NetCDF type of an HDF5 datatype; UNSUPPORTED for compound, enum, opaque and others. */
export function typeOf(
  meta: Pick<H5.Metadata, 'type' | 'size' | 'signed'> & { vlen?: boolean },
  where: string,
): NcType {
  if (meta.type === 3) return meta.vlen ? 'string' : 'char';
  if (meta.type === 1 && (meta.size === 4 || meta.size === 8)) return meta.size === 4 ? 'float' : 'double';
  if (meta.type === 0) {
    if (meta.size === 1) return meta.signed ? 'byte' : 'ubyte';
    if (meta.size === 2) return meta.signed ? 'short' : 'ushort';
    if (meta.size === 4) return meta.signed ? 'int' : 'uint';
    if (meta.size === 8) return meta.signed ? 'int64' : 'uint64';
  }
  throw new H5Failure(
    'UNSUPPORTED',
    `HDF5 type class ${meta.type} (size ${meta.size}) is not supported`,
    where,
  );
}

/** Plain numbers (h5wasm's answer for scalars and some arrays) as the typed array of `type`. */
export function toTyped(type: NcType, value: unknown): NcAttribute['value'] | undefined {
  const list = (Array.isArray(value) ? value : [value]) as number[];
  switch (type) {
    case 'byte':
      return Int8Array.from(list);
    case 'ubyte':
      return Uint8Array.from(list);
    case 'short':
      return Int16Array.from(list);
    case 'ushort':
      return Uint16Array.from(list);
    case 'int':
      return Int32Array.from(list);
    case 'uint':
      return Uint32Array.from(list);
    case 'float':
      return Float32Array.from(list);
    case 'double':
      return Float64Array.from(list);
    case 'int64':
      return BigInt64Array.from(list, (x) => BigInt(x));
    case 'uint64':
      return BigUint64Array.from(list, (x) => BigInt(x));
    case 'char':
    case 'string':
      return undefined;
  }
}

/** The innermost HDF5 error ("H5F__super_read(): truncated file: eof = …") in HDF5's error stack text. */
export function hdf5Reason(diagnostics: string): string {
  const lines = diagnostics.split('\n').filter((l) => /#\d+: .* in \w+\(\): /.test(l));
  const last = lines[lines.length - 1];
  const m = last ? / in (\w+\(\)): (.*)$/.exec(last) : null;
  return m ? ` [HDF5 ${m[1]}: ${m[2]}]` : '';
}

/** The failure the worker answers for an error thrown while serving a request. */
export function failureOf(err: unknown, diagnostics: string): WorkerFailure {
  const e = err as Error & Partial<H5Failure>;
  const fatal = e.name === 'RuntimeError' || /Aborted|RuntimeError/.test(String(e.message));
  return {
    code: e instanceof H5Failure ? e.code : 'HDF5',
    message: String(e.message ?? err) + hdf5Reason(diagnostics),
    ...(e.field ? { field: e.field } : {}),
    fatal,
  };
}

function attributesOf(entity: H5.Dataset | H5.Group, owner: string): NcAttribute[] {
  const out: NcAttribute[] = [];
  for (const [name, attr] of Object.entries(entity.attrs)) {
    if (HIDDEN.has(name)) continue;
    const meta = attr.metadata;
    const where = `${owner}:${name}`;
    const type = typeOf(meta, where);
    if (meta.total_size * meta.size > MAX_ATTRIBUTE_BYTES)
      throw new H5Failure('ABSURD_SIZE', `attribute ${where} claims ${meta.total_size} values`, where);
    const value: unknown = attr.value;
    if (type === 'char' || type === 'string') {
      const strings = (Array.isArray(value) ? value : [value]).map((s) =>
        fromAsciiDecoded(String(s ?? ''), meta.cset),
      );
      out.push({
        name,
        type,
        value: type === 'char' ? strings.join('') : strings.length === 1 ? (strings[0] as string) : strings,
      });
    } else if (ArrayBuffer.isView(value)) {
      // h5wasm converts to little-endian (the host order) on read.
      out.push({ name, type, value: value as NcAttribute['value'] });
    } else {
      const typed = toTyped(type, value);
      if (typed) out.push({ name, type, value: typed });
    }
  }
  return out;
}

function stringAttr(ds: H5.Dataset, name: string): string | undefined {
  const a = ds.attrs[name];
  if (!a || a.metadata.type !== 3 || a.metadata.total_size > 1) return undefined;
  const v: unknown = a.value;
  return typeof v === 'string' ? v : undefined;
}

function numberAttr(ds: H5.Dataset, name: string): number[] | undefined {
  const a = ds.attrs[name];
  if (!a || a.metadata.type !== 0 || a.metadata.total_size > 4096) return undefined;
  const v: unknown = a.value;
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, Number);
  return undefined;
}

/**
 * Dimension scale paths from DIMENSION_LIST, read through h5wasm's low-level
 * calls so a corrupt list cannot make it build huge arrays.
 */
function dimensionList(h5: H5Module, file: H5.File, ds: H5.Dataset, rank: number): string[] | undefined {
  const M = h5.Module;
  if (!Object.prototype.hasOwnProperty.call(ds.attrs, 'DIMENSION_LIST')) return undefined;
  const meta = M.get_attribute_metadata(file.file_id, ds.path, 'DIMENSION_LIST');
  if (meta.type !== 9 || meta.total_size !== rank || meta.size !== 8 || meta.vlen_type?.size !== 8)
    return undefined;
  const ptr = M._malloc(rank * 8);
  try {
    if (M.get_attribute_data(file.file_id, ds.path, 'DIMENSION_LIST', BigInt(ptr)) < 0) return undefined;
    try {
      const view = new DataView(M.HEAPU8.buffer, ptr, rank * 8);
      const out: string[] = [];
      for (let d = 0; d < rank; d++) {
        const length = view.getUint32(d * 8, true);
        const data = view.getUint32(d * 8 + 4, true);
        if (length < 1 || length > 64 || data === 0 || data + 8 > M.HEAPU8.length) return undefined;
        out.push(M.get_referenced_name(file.file_id, M.HEAPU8.slice(data, data + 8), true));
      }
      return out;
    } finally {
      M.reclaim_vlen_memory(file.file_id, ds.path, 'DIMENSION_LIST', BigInt(ptr));
    }
  } finally {
    M._free(ptr);
  }
}

/**
 * Datasets and subgroups of every group, depth first (as ncdump lists them).
 * Names in subgroups are full paths without the leading slash ("forecast/tas").
 */
function walk(
  h5: H5Module,
  file: H5.File,
): { entries: { name: string; ds: H5.Dataset }[]; groups: { name: string; group: H5.Group }[] } {
  const entries: { name: string; ds: H5.Dataset }[] = [];
  const groups: { name: string; group: H5.Group }[] = [];
  let objects = 0;
  const visit = (group: H5.Group, prefix: string, depth: number): void => {
    const children: { name: string; group: H5.Group }[] = [];
    for (const key of group.keys()) {
      if (++objects > MAX_OBJECTS)
        throw new H5Failure(
          'ABSURD_SIZE',
          `the file has more than ${MAX_OBJECTS} HDF5 objects`,
          prefix || '/',
        );
      const name = prefix + key;
      const obj = group.get(key);
      if (obj instanceof h5.Dataset) entries.push({ name, ds: obj });
      else if (obj instanceof h5.Group) children.push({ name, group: obj });
    }
    for (const child of children) {
      if (depth + 1 > MAX_GROUP_DEPTH)
        throw new H5Failure(
          'UNSUPPORTED',
          `groups nest deeper than ${MAX_GROUP_DEPTH} levels (cyclic links?)`,
          child.name,
        );
      groups.push(child);
      visit(child.group, `${child.name}/`, depth + 1);
    }
  };
  visit(file, '', 0);
  return { entries, groups };
}

/** The NetCDF view of an open HDF5 file. */
export function metadataOf(h5: H5Module, file: H5.File): RawMetadata {
  const { entries, groups } = walk(h5, file);
  const dims: (NcDimension & { id: number; path: string })[] = [];
  for (const { name, ds } of entries) {
    if (stringAttr(ds, 'CLASS') !== 'DIMENSION_SCALE') continue;
    const meta = ds.metadata;
    const length = meta.shape?.[0] ?? 0;
    const max = meta.maxshape?.[0] ?? length;
    dims.push({
      name,
      length,
      unlimited: max > Number.MAX_SAFE_INTEGER || max < 0,
      id: numberAttr(ds, '_Netcdf4Dimid')?.[0] ?? dims.length + 1000,
      path: ds.path,
    });
  }
  dims.sort((a, b) => a.id - b.id);
  const byId = new Map(dims.map((d) => [d.id, d]));
  const byPath = new Map(dims.map((d) => [d.path, d]));
  const phony = new Map<number, string>();
  const dimensionNames = (name: string, ds: H5.Dataset, shape: number[]): string[] => {
    if (shape.length === 0) return [];
    const ids = numberAttr(ds, '_Netcdf4Coordinates');
    if (ids && ids.length === shape.length && ids.every((id) => byId.has(id)))
      return ids.map((id) => (byId.get(id) as NcDimension).name);
    if (stringAttr(ds, 'CLASS') === 'DIMENSION_SCALE' && shape.length === 1) return [name];
    const paths = dimensionList(h5, file, ds, shape.length);
    if (paths) {
      const names = paths.map((p) => byPath.get(p)?.name);
      if (names.every((n): n is string => n !== undefined)) return names;
    }
    // Plain HDF5 without dimension scales: netCDF-C's phony dimensions, one per length.
    return shape.map((n) => {
      let p = phony.get(n);
      if (!p) {
        p = `phony_dim_${phony.size}`;
        phony.set(n, p);
        dims.push({ name: p, length: n, unlimited: false, id: 100000 + phony.size, path: '' });
      }
      return p;
    });
  };
  const variables: RawVariable[] = [];
  for (const { name, ds } of entries) {
    if (stringAttr(ds, 'NAME')?.startsWith(PURE_DIMENSION)) continue;
    const meta = ds.metadata;
    const shape = meta.shape ?? [];
    const type = typeOf(meta, name);
    const dimensions = dimensionNames(name, ds, shape);
    const first = dimensions[0] ? dims.find((d) => d.name === dimensions[0]) : undefined;
    variables.push({
      name,
      type,
      dimensions,
      shape,
      attributes: attributesOf(ds, name),
      record: !!first?.unlimited,
    });
  }
  // netCDF-C: an unlimited dimension is as long as the longest variable along it.
  for (const d of dims) {
    if (!d.unlimited) continue;
    for (const v of variables) if (v.dimensions[0] === d.name) d.length = Math.max(d.length, v.shape[0] ?? 0);
  }
  const unlimited = dims.find((d) => d.unlimited);
  return {
    format: file.attrs._nc3_strict ? 'netcdf4-classic' : 'netcdf4',
    dimensions: dims.map(({ name, length, unlimited: u }) => ({ name, length, unlimited: u })),
    variables,
    globalAttributes: attributesOf(file, 'global'),
    ...(groups.length > 0
      ? { groups: groups.map(({ name, group }) => ({ name, attributes: attributesOf(group, name) })) }
      : {}),
    recordCount: unlimited?.length ?? 0,
  };
}

type SliceRequest = Extract<WorkerRequest, { op: 'slice' }>;

function sliceOf(h5: H5Module, file: H5.File, req: Omit<SliceRequest, 'id' | 'op' | 'handle'>): unknown {
  const ds = file.get(req.name);
  if (!(ds instanceof h5.Dataset)) throw new H5Failure('HDF5', `${req.name} is not a dataset`);
  const n = req.count.reduce((a, b) => a * b, 1);
  const ranges = req.start.map((s, d): [number, number, number] => [
    s,
    s + ((req.count[d] as number) - 1) * (req.stride[d] as number) + 1,
    req.stride[d] as number,
  ]);
  const out: unknown = req.start.length === 0 ? ds.value : ds.slice(ranges);
  const cset = ds.metadata.cset;
  const items = ArrayBuffer.isView(out)
    ? (out as unknown as ArrayLike<number>).length
    : Array.isArray(out)
      ? out.length
      : 1;
  if (items !== n) throw new H5Failure('HDF5', `reading ${req.name} gave ${items} values, expected ${n}`);
  if (req.type === 'string') return (Array.isArray(out) ? out : [out]).map((s) => String(s));
  if (req.type === 'char') {
    // One string per char element (h5wasm cuts at NUL, so '' is a zero byte).
    const bytes = new Uint8Array(n);
    let at = 0;
    for (const s of Array.isArray(out) ? out : [out]) {
      const b = stringBytes(String(s ?? ''), cset);
      bytes.set(b.subarray(0, n - at), at);
      at += Math.max(1, b.length);
      if (at >= n) break;
    }
    return bytes;
  }
  if (ArrayBuffer.isView(out)) return out;
  return toTyped(req.type, out);
}

/** Open files by handle, and the requests on them; one per worker. */
export class H5Handler {
  private readonly files = new Map<number, H5.File>();
  private nextHandle = 1;

  constructor(private readonly h5: H5Module) {}

  /** Files currently open. */
  get openFiles(): number {
    return this.files.size;
  }

  handle(req: WorkerRequest): unknown {
    switch (req.op) {
      case 'open':
        return this.open(req.path);
      case 'slice': {
        const file = this.files.get(req.handle);
        if (!file) throw new H5Failure('HDF5', 'file handle is not open in the HDF5 worker');
        return sliceOf(this.h5, file, req);
      }
      case 'close': {
        const file = this.files.get(req.handle);
        this.files.delete(req.handle);
        closeQuietly(file);
        return null;
      }
    }
  }

  private open(path: string): OpenResult {
    let file: H5.File;
    try {
      file = new this.h5.File(path, 'r');
    } catch (err) {
      throw new H5Failure('HDF5', `HDF5 library cannot open the file: ${(err as Error).message}`);
    }
    if (!file.file_id || file.file_id < 0n) throw new H5Failure('HDF5', 'HDF5 library cannot open the file');
    try {
      const meta = metadataOf(this.h5, file);
      const id = this.nextHandle++;
      this.files.set(id, file);
      return { handle: id, meta };
    } catch (err) {
      closeQuietly(file);
      throw err;
    }
  }
}

function closeQuietly(file: H5.File | undefined): void {
  try {
    file?.close();
  } catch {
    // a damaged file may not close cleanly
  }
}
