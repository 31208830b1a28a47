/* istanbul ignore file -- sent to the worker as source text; coverage counters would break it */
/**
 * Body of the HDF5 worker thread. h5wasm runs here, not in the service's
 * event loop: a damaged file that makes the HDF5 library abort, loop or
 * allocate without bound only takes this worker down, and the client
 * (h5-worker-client.ts) replaces it.
 *
 * The function is sent to the worker as source text (`eval` worker), so it
 * must be self-contained: no references to anything outside its body except
 * type annotations and Node builtins obtained through `require`.
 */
import type * as H5 from 'h5wasm' with { 'resolution-mode': 'import' };
import type { NcAttribute, NcDimension, NcFormat, NcGroup, NcType, NcVariable } from '../model';

/** A variable as the worker reports it: the reader adds the CF role. */
export type RawVariable = Omit<NcVariable, 'role'>;

export interface RawMetadata {
  format: NcFormat;
  dimensions: NcDimension[];
  variables: RawVariable[];
  globalAttributes: NcAttribute[];
  /** Subgroups (full path without the leading slash), present only when the file has any. */
  groups?: NcGroup[];
  recordCount: number;
}

export type WorkerRequest =
  | { id: number; op: 'open'; path: string }
  | {
      id: number;
      op: 'slice';
      handle: number;
      name: string;
      type: NcType;
      start: number[];
      count: number[];
      stride: number[];
    }
  | { id: number; op: 'close'; handle: number };

export interface WorkerFailure {
  code: 'HDF5' | 'UNSUPPORTED' | 'ABSURD_SIZE';
  message: string;
  field?: string;
  /** The HDF5 module may be in a bad state: replace the worker. */
  fatal: boolean;
}

export type WorkerResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; failure: WorkerFailure };

export function h5WorkerMain(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const threads = require('node:worker_threads') as typeof import('node:worker_threads');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { pathToFileURL } = require('node:url') as typeof import('node:url');
  const port = threads.parentPort;
  if (!port) return;
  // HDF5 prints its error stack straight to fd 2 (NODERAWFS): keep it for the
  // failure message instead of spamming the service's stderr.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  let diagnostics = '';
  const writeSync = fs.writeSync.bind(fs) as (...args: unknown[]) => number;
  (fs as { writeSync: unknown }).writeSync = (fd: number, data: unknown, ...rest: unknown[]): number => {
    if (fd !== 2) return writeSync(fd, data, ...rest);
    if (typeof data === 'string') {
      diagnostics = (diagnostics + data).slice(-8192);
      return Buffer.byteLength(data);
    }
    // writeSync(fd, buffer, offset?, length?, position?): emscripten passes its whole heap.
    const bytes = data as Uint8Array;
    const offset = typeof rest[0] === 'number' ? rest[0] : 0;
    const length = typeof rest[1] === 'number' ? rest[1] : bytes.byteLength - offset;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(length, 8192)).toString();
    diagnostics = (diagnostics + text).slice(-8192);
    return length;
  };
  // emscripten reports aborts through console.error: keep those too.
  console.error = (...args: unknown[]): void => {
    diagnostics = (diagnostics + args.map(String).join(' ') + '\n').slice(-8192);
  };
  console.warn = console.error;
  /** The innermost HDF5 error ("H5F__super_read(): truncated file: eof = …") of the last request. */
  const hdf5Reason = (): string => {
    const lines = diagnostics.split('\n').filter((l) => /#\d+: .* in \w+\(\): /.test(l));
    const last = lines[lines.length - 1];
    const m = last ? / in (\w+\(\)): (.*)$/.exec(last) : null;
    return m ? ` [HDF5 ${m[1]}: ${m[2]}]` : '';
  };
  const h5wasmPath = (threads.workerData as { h5wasmPath: string }).h5wasmPath;

  type Module = typeof H5;
  let loading: Promise<Module> | undefined;
  const files = new Map<number, H5.File>();
  let nextHandle = 1;

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
  const MAX_GROUP_DEPTH = 32;
  const MAX_OBJECTS = 100_000;

  class Failure extends Error {
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
  const stringBytes = (text: string, cset: number | undefined): Uint8Array =>
    cset === 1
      ? new TextEncoder().encode(text)
      : Uint8Array.from([...text], (ch) => cp1252ToByte.get(ch) ?? 0x3f);
  const fromAsciiDecoded = (text: string, cset: number | undefined): string =>
    cset === 1 || [...text].every((ch) => ch.charCodeAt(0) < 0x80)
      ? text
      : utf8.decode(stringBytes(text, cset));

  const typeOf = (meta: H5.Metadata, where: string): NcType => {
    if (meta.type === 3) return meta.vlen ? 'string' : 'char';
    if (meta.type === 1 && (meta.size === 4 || meta.size === 8)) return meta.size === 4 ? 'float' : 'double';
    if (meta.type === 0) {
      if (meta.size === 1) return meta.signed ? 'byte' : 'ubyte';
      if (meta.size === 2) return meta.signed ? 'short' : 'ushort';
      if (meta.size === 4) return meta.signed ? 'int' : 'uint';
      if (meta.size === 8) return meta.signed ? 'int64' : 'uint64';
    }
    throw new Failure(
      'UNSUPPORTED',
      `HDF5 type class ${meta.type} (size ${meta.size}) is not supported`,
      where,
    );
  };

  const toTyped = (type: NcType, value: unknown): NcAttribute['value'] | undefined => {
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
  };

  const attributesOf = (entity: H5.Dataset | H5.Group, owner: string): NcAttribute[] => {
    const out: NcAttribute[] = [];
    for (const [name, attr] of Object.entries(entity.attrs)) {
      if (HIDDEN.has(name)) continue;
      const meta = attr.metadata;
      const where = `${owner}:${name}`;
      const type = typeOf(meta, where);
      if (meta.total_size * meta.size > MAX_ATTRIBUTE_BYTES)
        throw new Failure('ABSURD_SIZE', `attribute ${where} claims ${meta.total_size} values`, where);
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
  };

  const stringAttr = (ds: H5.Dataset, name: string): string | undefined => {
    const a = ds.attrs[name];
    if (!a || a.metadata.type !== 3 || a.metadata.total_size > 1) return undefined;
    const v: unknown = a.value;
    return typeof v === 'string' ? v : undefined;
  };

  const numberAttr = (ds: H5.Dataset, name: string): number[] | undefined => {
    const a = ds.attrs[name];
    if (!a || a.metadata.type !== 0 || a.metadata.total_size > 4096) return undefined;
    const v: unknown = a.value;
    if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, Number);
    return undefined;
  };

  /**
   * Dimension scale paths from DIMENSION_LIST, read through h5wasm's low-level
   * calls so a corrupt list cannot make it build huge arrays.
   */
  const dimensionList = (h5: Module, file: H5.File, ds: H5.Dataset, rank: number): string[] | undefined => {
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
  };

  /**
   * Datasets and subgroups of every group, depth first (as ncdump lists them).
   * Names in subgroups are full paths without the leading slash ("forecast/tas").
   */
  const walk = (
    h5: Module,
    file: H5.File,
  ): { entries: { name: string; ds: H5.Dataset }[]; groups: { name: string; group: H5.Group }[] } => {
    const entries: { name: string; ds: H5.Dataset }[] = [];
    const groups: { name: string; group: H5.Group }[] = [];
    let objects = 0;
    const visit = (group: H5.Group, prefix: string, depth: number): void => {
      const children: { name: string; group: H5.Group }[] = [];
      for (const key of group.keys()) {
        if (++objects > MAX_OBJECTS)
          throw new Failure(
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
          throw new Failure(
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
  };

  const metadataOf = (h5: Module, file: H5.File): RawMetadata => {
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
      for (const v of variables)
        if (v.dimensions[0] === d.name) d.length = Math.max(d.length, v.shape[0] ?? 0);
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
  };

  const slice = (h5: Module, req: Extract<WorkerRequest, { op: 'slice' }>): unknown => {
    const file = files.get(req.handle);
    if (!file) throw new Failure('HDF5', 'file handle is not open in the HDF5 worker');
    const ds = file.get(req.name);
    if (!(ds instanceof h5.Dataset)) throw new Failure('HDF5', `${req.name} is not a dataset`);
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
    if (items !== n) throw new Failure('HDF5', `reading ${req.name} gave ${items} values, expected ${n}`);
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
  };

  const handle = async (req: WorkerRequest): Promise<unknown> => {
    loading ??= import(pathToFileURL(h5wasmPath).href).then(async (m: Module) => {
      await m.ready;
      return m;
    });
    const h5 = await loading;
    switch (req.op) {
      case 'open': {
        let file: H5.File;
        try {
          file = new h5.File(req.path, 'r');
        } catch (err) {
          throw new Failure('HDF5', `HDF5 library cannot open the file: ${(err as Error).message}`);
        }
        if (!file.file_id || file.file_id < 0n)
          throw new Failure('HDF5', 'HDF5 library cannot open the file');
        try {
          const meta = metadataOf(h5, file);
          const id = nextHandle++;
          files.set(id, file);
          return { handle: id, meta };
        } catch (err) {
          try {
            file.close();
          } catch {
            // a damaged file may not close cleanly
          }
          throw err;
        }
      }
      case 'slice':
        return slice(h5, req);
      case 'close': {
        const file = files.get(req.handle);
        files.delete(req.handle);
        try {
          file?.close();
        } catch {
          // a damaged file may not close cleanly
        }
        return null;
      }
    }
  };

  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    queue = queue.then(async () => {
      diagnostics = '';
      try {
        const result = await handle(req);
        const transfer =
          ArrayBuffer.isView(result) &&
          result.byteOffset === 0 &&
          result.byteLength === result.buffer.byteLength
            ? [result.buffer as ArrayBuffer]
            : [];
        port.postMessage({ id: req.id, ok: true, result } satisfies WorkerResponse, transfer);
      } catch (err) {
        const e = err as Error & Partial<Failure>;
        const fatal = e.name === 'RuntimeError' || /Aborted|RuntimeError/.test(String(e.message));
        port.postMessage({
          id: req.id,
          ok: false,
          failure: {
            code: e instanceof Failure ? (e.code ?? 'HDF5') : 'HDF5',
            message: String(e.message ?? err) + hdf5Reason(),
            ...(e.field ? { field: e.field } : {}),
            fatal,
          },
        } satisfies WorkerResponse);
      }
    });
  });
}
