/**
 * An NCSS grid subset of one file: which source indices of each dimension
 * go out (lat/lon or curvilinear box, point, time window, strides, level),
 * which variables come along (coordinates, bounds, auxiliary lat/lon, grid
 * mapping), and the NetCDF-3 schema whose exact size `planNetcdf3` knows
 * before anything is read. `writeSubset` then streams the data in file order.
 */
import { InvalidError, TooLargeError } from '@climcat/core';
import type { Writable } from 'node:stream';
import type { NetcdfDataset } from '../dataset';
import {
  allocateArray,
  attrString,
  findVariable,
  TYPE_SIZE,
  type NcArray,
  type NcAttribute,
  type NcMetadata,
  type NcType,
  type NcVariable,
} from '../model';
import { gridMappingNames } from '../roles';
import { formatIso, fromEpochMs, toEpochMs } from '../cf/calendar';
import {
  Netcdf3Writer,
  WRITE_RAW_COPIES_BELOW,
  planNetcdf3,
  type AttributeInput,
  type Cdf3Type,
  type Netcdf3Format,
  type Netcdf3Schema,
  type Netcdf3WriterOptions,
  type VariableInput,
} from '../cdf3/writer';
import { NetcdfWriteError } from '../errors';
import { BufferPool } from '../io/buffer-pool';
import { copyBytes } from '../io/copy-bytes';
import { humanBytes } from '../dap2/size';
import { gridBBox, gridVariables, readGrid, type GridInfo } from './grid';
import { resolveInstant, resolveTimeWindow, type NcssQuery } from './params';
import {
  applyStride,
  nearestCell2d,
  nearestIndex,
  nearestLongitude,
  selectCurvilinear,
  selectLatitudes,
  selectLongitudes,
  selectTimes,
  toRuns,
  type Run,
} from './select';

/** Source indices of one output dimension, in output order. */
export interface PlanDimension {
  name: string;
  indices: number[];
  unlimited: boolean;
}

export interface PlanVariable {
  name: string;
  source: NcVariable;
  type: Cdf3Type;
  dimensions: string[];
  record: boolean;
  /** Values computed here (addLatLon on a rotated grid): the whole source y×x grid, row-major. */
  computed?: number[];
  /** Degrees added along the longitude dimension (wrapped boxes), by output index. */
  lonShift?: { dimension: number; shifts: number[] };
}

export interface SubsetPlan {
  schema: Netcdf3Schema;
  format: Netcdf3Format;
  /** Exact bytes of the NetCDF-3 answer. */
  fileBytes: number;
  dimensions: Map<string, PlanDimension>;
  variables: PlanVariable[];
  /** The requested grid variables. */
  requested: string[];
  grid: GridInfo;
  /** Source time indices in output order. */
  times?: number[];
  /** Grid as point: the cell chosen and where it is. */
  point?: { y: number; x: number; latitude: number; longitude: number };
}

export interface PlanOptions {
  /** What the history line names: the request path and query. */
  request: string;
  /** Output size limit (bytes) and its name, for the 413 with a split suggestion. */
  limit?: { bytes: number; name: string };
  now?: Date;
}

const OUTPUT_TYPE: Partial<Record<NcType, Cdf3Type>> = {
  byte: 'byte',
  char: 'char',
  short: 'short',
  int: 'int',
  float: 'float',
  double: 'double',
  ubyte: 'byte',
  ushort: 'short',
  uint: 'int',
  int64: 'double',
  uint64: 'double',
};
const UNSIGNED = new Set<NcType>(['ubyte', 'ushort', 'uint']);
/** Attributes that hold data values, so they follow the variable's (reinterpreted) type. */
const VALUE_ATTRIBUTES = new Set(['_FillValue', 'missing_value', 'valid_min', 'valid_max', 'valid_range']);

function extentText(grid: GridInfo): string {
  const b = gridBBox(grid);
  return b ? `west ${b[0]}, south ${b[1]}, east ${b[2]}, north ${b[3]}` : 'unknown';
}

function coverageText(grid: GridInfo): string {
  const t = grid.time;
  if (!t || t.values.length === 0) return 'none';
  const cal = t.time.calendar;
  return `${formatIso(fromEpochMs(cal, t.ms[0] as number))} to ${formatIso(fromEpochMs(cal, t.ms[t.ms.length - 1] as number))} (${cal} calendar, ${t.ms.length} times)`;
}

/** The variables a grid subset carries: requested, their coordinates, bounds, auxiliaries and grid mappings. */
function closure(meta: NcMetadata, requested: string[]): NcVariable[] {
  const wanted = new Set<string>();
  const visit = (name: string) => {
    const v = findVariable(meta, name);
    if (!v || wanted.has(name)) return;
    wanted.add(name);
    for (const d of v.dimensions) {
      const c = findVariable(meta, d);
      if (c && c.dimensions.length === 1 && c.dimensions[0] === d) visit(d);
    }
    for (const key of ['bounds', 'climatology']) {
      const b = attrString(v.attributes, key);
      if (b) visit(b);
    }
    const coords = attrString(v.attributes, 'coordinates');
    if (coords) for (const c of coords.split(/\s+/).filter(Boolean)) visit(c);
    const gm = attrString(v.attributes, 'grid_mapping');
    if (gm) for (const g of gridMappingNames(gm)) visit(g);
  };
  for (const r of requested) visit(r);
  return meta.variables.filter((v) => wanted.has(v.name) && OUTPUT_TYPE[v.type] !== undefined);
}

function convertAttribute(a: NcAttribute, variableType?: NcType): AttributeInput | undefined {
  const { value } = a;
  if (a.name.startsWith('_') && a.name !== '_FillValue') return undefined;
  if (typeof value === 'string') return { name: a.name, type: 'char', value };
  if (Array.isArray(value)) return { name: a.name, type: 'char', value: value.join(', ') };
  if (variableType && UNSIGNED.has(variableType) && VALUE_ATTRIBUTES.has(a.name) && a.type === variableType) {
    const type = OUTPUT_TYPE[variableType] as Cdf3Type;
    return { name: a.name, type, value: reinterpret(type, value) };
  }
  if (variableType && (variableType === 'int64' || variableType === 'uint64') && VALUE_ATTRIBUTES.has(a.name))
    return {
      name: a.name,
      type: 'double',
      value: Float64Array.from(value as ArrayLike<number | bigint>, Number),
    };
  switch (a.type) {
    case 'ubyte':
      return { name: a.name, type: 'short', value: Int16Array.from(value as Uint8Array) };
    case 'ushort':
      return { name: a.name, type: 'int', value: Int32Array.from(value as Uint16Array) };
    case 'uint':
    case 'int64':
    case 'uint64':
      return {
        name: a.name,
        type: 'double',
        value: Float64Array.from(value as ArrayLike<number | bigint>, Number),
      };
    case 'string':
      return undefined;
    default:
      return { name: a.name, type: a.type as Cdf3Type, value };
  }
}

/** The same bits seen as the signed type (ubyte → byte…), as TDS's NetCDF-3 writer does with `_Unsigned`. */
function reinterpret(type: Cdf3Type, values: NcArray): NcArray {
  switch (type) {
    case 'byte':
      return new Int8Array(values.buffer, values.byteOffset, values.length);
    case 'short':
      return new Int16Array(values.buffer, values.byteOffset, values.length);
    case 'int':
      return new Int32Array(values.buffer, values.byteOffset, values.length);
    default:
      return values;
  }
}

function outputValues(v: PlanVariable, values: NcArray): NcArray {
  if (UNSIGNED.has(v.source.type)) return reinterpret(v.type, values);
  if (v.source.type === 'int64' || v.source.type === 'uint64')
    return Float64Array.from(values as ArrayLike<number | bigint>, Number);
  return values;
}

/** Plans the subset (reading only coordinates); 400s name the parameter and the valid range. */
export async function planSubset(ds: NetcdfDataset, q: NcssQuery, options: PlanOptions): Promise<SubsetPlan> {
  const meta = ds.metadata;
  const grids = gridVariables(meta);
  const requested = q.vars === 'all' ? grids : q.vars;
  if (requested.length === 0) throw InvalidError.field('query.var', 'this file has no grid variables');
  const grid = await readGrid(ds, requested[0] as string);
  for (const name of requested.slice(1)) {
    if (grid.variables.includes(name)) continue;
    await readGrid(ds, name); // names the problem when it is not a grid at all
    throw InvalidError.field(
      'query.var',
      `"${name}" is on another grid than "${requested[0]}"; request them separately (this grid has ${grid.variables.join(', ')})`,
    );
  }
  const nx = grid.x.values.length;
  const ny = grid.y.values.length;
  let yIdx = Array.from({ length: ny }, (_, i) => i);
  let xIdx = Array.from({ length: nx }, (_, i) => i);
  let shifts: number[] = xIdx.map(() => 0);
  let point: SubsetPlan['point'];

  const noLatLon = () =>
    InvalidError.field(
      q.bbox ? 'query.north' : 'query.latitude',
      `the grid of ${requested[0]} has no latitude/longitude coordinates to select by`,
    );
  if (q.bbox) {
    const box = q.bbox;
    const outside = () =>
      InvalidError.field(
        'query.north',
        `the box north ${box.north}, south ${box.south}, east ${box.east}, west ${box.west} does not intersect the grid (${extentText(grid)})`,
      );
    if (grid.kind === 'latlon') {
      const lat = selectLatitudes(grid.y.values, grid.y.bounds, box.south, box.north);
      const lon = selectLongitudes(grid.x.values, grid.x.bounds, box.west, box.east);
      if (!lat || lon.indices.length === 0) throw outside();
      yIdx = Array.from({ length: lat[1] - lat[0] + 1 }, (_, i) => lat[0] + i);
      xIdx = lon.indices;
      shifts = lon.shifts;
    } else if (grid.lat2d && grid.lon2d) {
      const sel = selectCurvilinear(grid.lat2d.values, grid.lon2d.values, ny, nx, box);
      if (!sel) throw outside();
      yIdx = Array.from({ length: sel.y[1] - sel.y[0] + 1 }, (_, i) => sel.y[0] + i);
      xIdx = Array.from({ length: sel.x[1] - sel.x[0] + 1 }, (_, i) => sel.x[0] + i);
      shifts = xIdx.map(() => 0);
    } else throw noLatLon();
  } else if (q.point) {
    const { latitude, longitude } = q.point;
    if (grid.kind === 'latlon') {
      const y = nearestIndex(grid.y.values, latitude);
      const x = nearestLongitude(grid.x.values, longitude);
      point = { y, x, latitude: grid.y.values[y] as number, longitude: grid.x.values[x] as number };
    } else if (grid.lat2d && grid.lon2d) {
      const c = nearestCell2d(grid.lat2d.values, grid.lon2d.values, nx, latitude, longitude);
      point = {
        ...c,
        latitude: grid.lat2d.values[c.y * nx + c.x] as number,
        longitude: grid.lon2d.values[c.y * nx + c.x] as number,
      };
    } else throw noLatLon();
    yIdx = [point.y];
    xIdx = [point.x];
    shifts = [0];
  }
  if (q.horizStride > 1) {
    yIdx = applyStride(yIdx, q.horizStride);
    shifts = applyStride(shifts, q.horizStride);
    xIdx = applyStride(xIdx, q.horizStride);
  }

  let times: number[] | undefined;
  const t = grid.time;
  if (t) {
    const all = t.ms.map((_, i) => i);
    const cal = t.time.calendar;
    if (q.time.kind === 'all') times = all;
    else if (q.time.kind === 'range') {
      const w = resolveTimeWindow(q.time, cal, options.now);
      times = selectTimes(t.ms, w.startMs, w.endMs);
      if (times.length === 0)
        throw InvalidError.field(
          'query.time_start',
          `no time of the file lies in ${formatIso(fromEpochMs(cal, w.startMs))} to ${formatIso(fromEpochMs(cal, w.endMs))}; ` +
            `the time coverage is ${coverageText(grid)}`,
        );
    } else {
      const at = resolveInstant(q.time.at, cal, options.now);
      const edges = [...t.ms, ...(t.bounds ?? []).map((b) => toEpochMs(cal, t.time.decode(b)))];
      const lo = Math.min(...edges);
      const hi = Math.max(...edges);
      if (at < lo || at > hi)
        throw InvalidError.field(
          'query.time',
          `${q.time.at} is outside the time coverage ${coverageText(grid)}`,
        );
      times = [nearestIndex(t.ms, at)];
    }
    times = applyStride(times, q.timeStride);
  } else if (q.time.kind !== 'all')
    throw InvalidError.field(
      q.time.kind === 'nearest' ? 'query.time' : 'query.time_start',
      `${requested[0]} has no time axis`,
    );

  let levels: number[] | undefined;
  if (q.vertCoord !== undefined) {
    if (!grid.z) throw InvalidError.field('query.vertCoord', `${requested[0]} has no vertical axis`);
    levels = [nearestIndex(grid.z.values, q.vertCoord)];
  }

  const selections = new Map<string, number[]>([
    [grid.y.dim, yIdx],
    [grid.x.dim, xIdx],
  ]);
  if (t && times) selections.set(t.dim, times);
  if (grid.z && levels) selections.set(grid.z.dim, levels);

  const included = closure(meta, requested);
  for (const name of requested) {
    const v = findVariable(meta, name) as NcVariable;
    if (OUTPUT_TYPE[v.type] === undefined)
      throw InvalidError.field('query.var', `${name} is of type ${v.type}, which NetCDF-3 cannot hold`);
  }
  const usedDims = new Set(included.flatMap((v) => v.dimensions));
  const dimensions = new Map<string, PlanDimension>();
  for (const d of meta.dimensions) {
    if (!usedDims.has(d.name)) continue;
    const indices = selections.get(d.name) ?? Array.from({ length: d.length }, (_, i) => i);
    // Unlimited stays unlimited when every variable has it first (NetCDF-3 requires that).
    const unlimited =
      d.unlimited && included.every((v) => !v.dimensions.includes(d.name) || v.dimensions[0] === d.name);
    dimensions.set(d.name, { name: d.name, indices, unlimited });
  }
  const shifted = shifts.some((s) => s !== 0);
  const variables: PlanVariable[] = included.map((v) => {
    const pv: PlanVariable = {
      name: v.name,
      source: v,
      type: OUTPUT_TYPE[v.type] as Cdf3Type,
      dimensions: v.dimensions,
      record: v.dimensions.length > 0 && (dimensions.get(v.dimensions[0] as string)?.unlimited ?? false),
    };
    const lonDim = v.dimensions.indexOf(grid.x.dim);
    if (
      shifted &&
      grid.kind === 'latlon' &&
      lonDim >= 0 &&
      (v.name === grid.x.variable || v.name === grid.x.boundsVariable)
    )
      pv.lonShift = { dimension: lonDim, shifts };
    return pv;
  });
  if (q.addLatLon && grid.computedLatLon && grid.lat2d && grid.lon2d) {
    const dims = [grid.y.dim, grid.x.dim];
    const coordinates = `${grid.lon2d.variable} ${grid.lat2d.variable}`;
    for (const [axis, values, units] of [
      ['latitude', grid.lat2d, 'degrees_north'],
      ['longitude', grid.lon2d, 'degrees_east'],
    ] as const) {
      const source: NcVariable = {
        name: values.variable,
        type: 'double',
        dimensions: dims,
        shape: [ny, nx],
        record: false,
        role: 'auxiliary',
        attributes: [
          { name: 'standard_name', type: 'char', value: axis },
          { name: 'long_name', type: 'char', value: `${axis} (computed from the rotated pole)` },
          { name: 'units', type: 'char', value: units },
        ],
      };
      variables.push({
        name: source.name,
        source,
        type: 'double',
        dimensions: dims,
        record: false,
        computed: values.values,
      });
    }
    // The requested grids name them as their auxiliary coordinates.
    for (const pv of variables)
      if (requested.includes(pv.name)) {
        const own = attrString(pv.source.attributes, 'coordinates') ?? '';
        const names = new Set([...own.split(/\s+/).filter(Boolean), ...coordinates.split(' ')]);
        pv.source = {
          ...pv.source,
          attributes: [
            ...pv.source.attributes.filter((a) => a.name !== 'coordinates'),
            { name: 'coordinates', type: 'char', value: [...names].join(' ') },
          ],
        };
      }
  }

  const history = `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} climcat NetCDF Subset Service: ${options.request}`;
  const oldHistory = attrString(meta.globalAttributes, 'history');
  const globalAttributes = meta.globalAttributes
    .filter((a) => a.name !== 'history')
    .map((a) => convertAttribute(a))
    .filter((a): a is AttributeInput => a !== undefined);
  globalAttributes.push({
    name: 'history',
    type: 'char',
    value: oldHistory ? `${history}\n${oldHistory}` : history,
  });

  const recordDim = [...dimensions.values()].find((d) => d.unlimited);
  const schemaFor = (format: Netcdf3Format, recordCount?: number): Netcdf3Schema => ({
    format,
    dimensions: [...dimensions.values()].map((d) => ({
      name: d.name,
      length: d.unlimited ? 0 : d.indices.length,
      unlimited: d.unlimited,
    })),
    variables: variables.map((v): VariableInput => ({
      name: v.name,
      type: v.type,
      dimensions: v.dimensions,
      attributes: [
        ...v.source.attributes
          .map((a) => convertAttribute(a, v.source.type))
          .filter((a): a is AttributeInput => a !== undefined),
        ...(UNSIGNED.has(v.source.type) ? [{ name: '_Unsigned', type: 'char' as const, value: 'true' }] : []),
      ],
    })),
    globalAttributes,
    numRecords: recordDim ? (recordCount ?? recordDim.indices.length) : undefined,
  });
  let format: Netcdf3Format = 'classic';
  let schema = schemaFor(format);
  let planned: ReturnType<typeof planNetcdf3> | undefined;
  // Classic while every offset fits in 32 bits; 64-bit offset past 2 GiB (as netCDF-C would need).
  try {
    planned = planNetcdf3(schema);
  } catch (error) {
    if (!(error instanceof NetcdfWriteError) || error.errors[0]?.field !== 'format') throw error;
    planned = undefined;
  }
  if (!planned || planned.layout.fileBytes > 0x7fffffff) {
    format = '64bit-offset';
    schema = schemaFor(format);
    planned = planNetcdf3(schema);
  }
  const plan: SubsetPlan = {
    schema,
    format,
    fileBytes: planned.layout.fileBytes,
    dimensions,
    variables,
    requested,
    grid,
    times,
    point,
  };
  if (options.limit && plan.fileBytes > options.limit.bytes)
    throw tooLarge(plan, options.limit, schemaFor, format);
  return plan;
}

/** 413 with the exact size and how to split the request along time (or thin it in space). */
function tooLarge(
  plan: SubsetPlan,
  limit: { bytes: number; name: string },
  schemaFor: (format: Netcdf3Format, records?: number) => Netcdf3Schema,
  format: Netcdf3Format,
): TooLargeError {
  const size = `The NetCDF file would be ${humanBytes(plan.fileBytes)} (${plan.fileBytes} bytes), over this server's ${limit.name} of ${humanBytes(limit.bytes)} (${limit.bytes} bytes)`;
  const t = plan.grid.time;
  const times = plan.times;
  const horizontal = `or thin it with horizStride=${Math.ceil(Math.sqrt(plan.fileBytes / limit.bytes)) + 1} or a smaller box`;
  if (!t || !times || times.length < 2)
    return new TooLargeError(`${size}: ask for fewer variables, ${horizontal}.`);
  // The size is linear in the number of times: per-time bytes from two plans.
  const timeDim = plan.dimensions.get(t.dim) as PlanDimension;
  const sizeWith = (k: number): number => {
    const saved = timeDim.indices;
    timeDim.indices = saved.slice(0, k);
    try {
      return planNetcdf3(schemaFor(format, k)).layout.fileBytes;
    } finally {
      timeDim.indices = saved;
    }
  };
  const base = sizeWith(0);
  const per = sizeWith(1) - base;
  const fit = per > 0 ? Math.floor((limit.bytes - base) / per) : times.length;
  if (fit < 1)
    return new TooLargeError(
      `${size}: one time step is already ${humanBytes(base + per)}; ask for fewer variables, ${horizontal}.`,
    );
  const cal = t.time.calendar;
  const iso = (i: number) => formatIso(fromEpochMs(cal, t.ms[times[i] as number] as number));
  const pieces: string[] = [];
  for (let k = 0; k < times.length; k += fit)
    pieces.push(`time_start=${iso(k)}&time_end=${iso(Math.min(k + fit, times.length) - 1)}`);
  const shown =
    pieces.length <= 4
      ? pieces.join(', ')
      : `${pieces.slice(0, 3).join(', ')}, ..., ${pieces[pieces.length - 1]}`;
  return new TooLargeError(
    `${size}: split it along time into ${pieces.length} requests of at most ${fit} times ` +
      `(each at most ${humanBytes(base + per * fit)}): ${shown}; or thin it with timeStride=${Math.ceil(times.length / fit)}, ${horizontal}.`,
  );
}

interface OutRun extends Run {
  outOffset: number;
}

function outRuns(indices: readonly number[]): OutRun[] {
  let at = 0;
  return toRuns(indices).map((r) => {
    const o = { ...r, outOffset: at };
    at += r.count;
    return o;
  });
}

/** Copies a row-major block into `dst` (shape `dstShape`) at `offsets`. */
function copyBlock(src: NcArray, shape: number[], dst: NcArray, dstShape: number[], offsets: number[]): void {
  const n = shape.length;
  if (n === 0) {
    (dst as Float64Array).set(src as Float64Array, 0);
    return;
  }
  const strides = new Array<number>(n).fill(1);
  for (let d = n - 2; d >= 0; d--) strides[d] = (strides[d + 1] as number) * (dstShape[d + 1] as number);
  const last = shape[n - 1] as number;
  let rows = 1;
  for (let d = 0; d < n - 1; d++) rows *= shape[d] as number;
  const idx = new Array<number>(Math.max(0, n - 1)).fill(0);
  let s = 0;
  for (let row = 0; row < rows; row++) {
    let off = offsets[n - 1] as number;
    for (let d = 0; d < n - 1; d++)
      off += ((offsets[d] as number) + (idx[d] as number)) * (strides[d] as number);
    // Raw blocks are bytes, often in the read worker's shared memory (copyBytes is fast there).
    if (dst instanceof Uint8Array && src instanceof Uint8Array)
      copyBytes(dst, src.subarray(s, s + last), off);
    else (dst as Float64Array).set((src as Float64Array).subarray(s, s + last), off);
    s += last;
    for (let d = n - 2; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (shape[d] as number)) break;
      idx[d] = 0;
    }
  }
}

/** Reads the output block of `v` whose first dimension covers `first` (output order). */
async function readBlock(
  ds: NetcdfDataset,
  plan: SubsetPlan,
  v: PlanVariable,
  first: OutRun[],
): Promise<NcArray> {
  const src = v.source;
  if (v.computed) {
    const computed = v.computed;
    const nx = src.shape[1] as number;
    const xs = (plan.dimensions.get(src.dimensions[1] as string) as PlanDimension).indices;
    const ys = first.flatMap((r) => Array.from({ length: r.count }, (_, k) => r.start + k * r.stride));
    return Float64Array.from(ys.flatMap((y) => xs.map((x) => computed[y * nx + x] as number)));
  }
  if (src.dimensions.length === 0) return outputValues(v, (await ds.read(src.name)) as NcArray);
  const dims = src.dimensions.map((d) => plan.dimensions.get(d) as PlanDimension);
  const runs: OutRun[][] = [first, ...dims.slice(1).map((d) => outRuns(d.indices))];
  const outShape = [first.reduce((a, r) => a + r.count, 0), ...dims.slice(1).map((d) => d.indices.length)];
  const total = outShape.reduce((a, b) => a * b, 1);
  const out = allocateArray(src.type as Exclude<NcType, 'string'>, total);
  const firstOffset = first[0]?.outOffset ?? 0;
  const combos = (d: number, picked: OutRun[]): OutRun[][] =>
    d === runs.length ? [picked] : (runs[d] as OutRun[]).flatMap((r) => combos(d + 1, [...picked, r]));
  for (const combo of combos(0, [])) {
    const block = (await ds.read(
      src.name,
      combo.map((r) => r.start),
      combo.map((r) => r.count),
      combo.map((r) => r.stride),
      { maxBytes: Number.MAX_SAFE_INTEGER, maxGapBytes: MAX_GAP_BYTES },
    )) as NcArray;
    copyBlock(
      block,
      combo.map((r) => r.count),
      out,
      outShape,
      combo.map((r, d) => (d === 0 ? r.outOffset - firstOffset : r.outOffset)),
    );
  }
  if (v.lonShift) {
    const { dimension, shifts } = v.lonShift;
    let inner = 1;
    for (let d = dimension + 1; d < outShape.length; d++) inner *= outShape[d] as number;
    const len = outShape[dimension] as number;
    const values = out as Float64Array;
    // Along the first dimension this block starts at output index firstOffset.
    const base = dimension === 0 ? firstOffset : 0;
    for (let i = 0; i < values.length; i++)
      values[i] = (values[i] as number) + (shifts[base + (Math.floor(i / inner) % len)] as number);
  }
  return outputValues(v, out);
}

/**
 * Gaps that data reads read through rather than skip. A box of a record variable is a few
 * rows of each record, records apart: reading through whole records (the local-file default
 * of 1 MiB) read ~3× the box's span and cost more than one read per record (measured on the
 * NCSS benchmark's 10% region).
 */
const MAX_GAP_BYTES = 64 * 1024;

/** Source types whose NetCDF-3 output holds the same bytes (unsigned ones reinterpreted as signed). */
const SAME_BYTES = new Set<NcType>([
  'byte',
  'char',
  'short',
  'int',
  'float',
  'double',
  'ubyte',
  'ushort',
  'uint',
]);

/**
 * Whether `v` can be copied as stored: the input keeps big-endian values (NetCDF-3) and the
 * output holds the same bytes (nothing computed, no longitude shift, no type change).
 */
function passesRaw(ds: NetcdfDataset, v: PlanVariable): boolean {
  return (
    ds.readRawChunks !== undefined &&
    !v.computed &&
    !v.lonShift &&
    v.source.dimensions.length > 0 &&
    SAME_BYTES.has(v.source.type)
  );
}

/**
 * readBlock for a variable that `passesRaw`: the output block as big-endian bytes,
 * copied from the file's bytes without decoding (the NetCDF-3 writer takes them as they are).
 */
async function readRawBlock(
  ds: NetcdfDataset,
  plan: SubsetPlan,
  v: PlanVariable,
  first: OutRun[],
  into?: Buffer,
): Promise<Uint8Array> {
  const src = v.source;
  const e = TYPE_SIZE[src.type];
  const dims = src.dimensions.map((d) => plan.dimensions.get(d) as PlanDimension);
  const runs: OutRun[][] = [first, ...dims.slice(1).map((d) => outRuns(d.indices))];
  const outShape = [first.reduce((a, r) => a + r.count, 0), ...dims.slice(1).map((d) => d.indices.length)];
  const total = outShape.reduce((a, b) => a * b, 1);
  // Its own memory (the writer may hand it to the target as it is), unless the caller lends one.
  const out =
    into && into.length >= total * e
      ? new Uint8Array(into.buffer, into.byteOffset, total * e)
      : new Uint8Array(Buffer.allocUnsafeSlow(total * e).buffer, 0, total * e);
  const firstOffset = first[0]?.outOffset ?? 0;
  const combos = (d: number, picked: OutRun[]): OutRun[][] =>
    d === runs.length ? [picked] : (runs[d] as OutRun[]).flatMap((r) => combos(d + 1, [...picked, r]));
  const all = combos(0, []);
  const readRaw = ds.readRawChunks!.bind(ds);
  // One box into shared memory: a local file's read worker fills it in place (no chunks, no copy).
  const only = all.length === 1 ? all[0] : undefined;
  if (
    only &&
    ds.readRawInto &&
    (await ds.readRawInto(
      src.name,
      only.map((r) => r.start),
      only.map((r) => r.count),
      only.map((r) => r.stride),
      out,
      { maxGapBytes: MAX_GAP_BYTES },
    ))
  )
    return out;
  // Reads go to pooled buffers, each given back once copied out: fresh read buffers per
  // batch made V8 run a full mark-compact for about every answer (measured on the NCSS bench).
  const lender = RAW_READ_POOL.lender(RAW_READS_HELD);
  const copy = async (chunks: AsyncIterable<{ offset: number; data: Uint8Array }>, to: Uint8Array) => {
    for await (const chunk of chunks) {
      copyBytes(to, chunk.data, chunk.offset * e);
      lender.release(chunk.data);
    }
  };
  try {
    for (const combo of all) {
      const chunks = readRaw(
        src.name,
        combo.map((r) => r.start),
        combo.map((r) => r.count),
        combo.map((r) => r.stride),
        { reuseBuffers: true, maxGapBytes: MAX_GAP_BYTES, buffers: lender },
      );
      if (all.length === 1) {
        // One box: the selection's bytes are the block's, in order.
        await copy(chunks, out);
        continue;
      }
      const count = combo.map((r) => r.count);
      const block = new Uint8Array(count.reduce((a, b) => a * b, 1) * e);
      await copy(chunks, block);
      // Bytes as elements of size 1: the innermost extents and offsets scale by the element size.
      const scale = (xs: number[]) => xs.map((x, d) => (d === xs.length - 1 ? x * e : x));
      copyBlock(
        block,
        scale(count),
        out,
        scale(outShape),
        scale(combo.map((r, d) => (d === 0 ? r.outOffset - firstOffset : r.outOffset))),
      );
    }
  } finally {
    lender.close();
  }
  return out;
}

/** Bytes per piece of a non-record variable: bounds the memory of one answer. */
const PIECE_BYTES = 4 << 20;
/**
 * Bytes of a record variable's first batch; each next one may take twice as many, up to
 * PIECE_BYTES. The first bytes then leave after a short read instead of a whole 4 MiB batch's
 * (the NCSS bench's 10% region: the first write came 7.6 ms into the answer, 4 ms of it reading
 * the first batch).
 */
const FIRST_BATCH_BYTES = 256 << 10;

/** Read buffers of raw copies, shared by the process's answers (the reader's reads ahead plus the one copied). */
// Shared memory: a local file's read worker fills them (io/pread-worker.ts).
const RAW_READ_POOL = new BufferPool(1 << 20, { shared: true });
const RAW_READS_HELD = 3;
/** Output blocks of record batches, reused once the writer has copied their records out. */
// Shared memory: a local file's read worker fills them in place (NetcdfDataset.readRawInto).
const BATCH_POOL = new BufferPool(PIECE_BYTES, { shared: true });

/** Staging buffers of answers written straight to a socket (WriteSubsetOptions.direct). */
const STAGING_POOL = new BufferPool(WRITE_RAW_COPIES_BELOW);
/** Staging buffers one answer may have on their way to its socket (bounds its memory and paces it). */
const STAGING_HELD = 4;

export interface WriteSubsetOptions {
  /**
   * `target` is a socket or an HTTP response, whose write callbacks say the
   * bytes are written out: the writer's staging buffers are pooled and reused
   * then, instead of a fresh 1 MiB each (their page faults and collection were
   * a good part of an answer's cost). Never for a stream that queues what it is
   * given (a PassThrough).
   */
  direct?: boolean;
  /** Told the length of each write once done (traffic accounting of a hijacked reply). */
  onWritten?: (bytes: number) => void;
}

/** Writes the planned subset as NetCDF-3 to `target`, streaming variable by variable (records in order). */
export async function writeSubset(
  ds: NetcdfDataset,
  plan: SubsetPlan,
  target: Writable,
  options: WriteSubsetOptions = {},
): Promise<void> {
  const lender = options.direct ? STAGING_POOL.lender(STAGING_HELD) : undefined;
  // A target destroyed early (client gone) never drains: a write waiting for
  // 'drain' is failed through 'error', later ones stop before writing.
  let done = false;
  const closed = () => new Error('the output stream was closed before the subset was written');
  const onClose = () => {
    // A target closing after the writer ended it is done, not gone: its 'close' (a nextTick
    // after 'finish') can come before writeAll's promise settles, and an error then would make
    // a pipe destroy the answer while the last bytes are still on their way to the client.
    // A writer waiting for a staging buffer that a destroyed socket will never give back stops.
    if (!done) lender?.close();
    if (!done && !target.writableEnded && target.listenerCount('error') > 0) target.emit('error', closed());
  };
  target.once('close', onClose);
  const alive = () => {
    if (target.destroyed) throw closed();
  };
  try {
    await writeAll(ds, plan, target, alive, { buffers: lender, onWritten: options.onWritten });
  } finally {
    done = true;
    target.off('close', onClose);
    lender?.close();
  }
}

async function writeAll(
  ds: NetcdfDataset,
  plan: SubsetPlan,
  target: Writable,
  alive: () => void,
  writerOptions: Netcdf3WriterOptions,
): Promise<void> {
  const writer = await Netcdf3Writer.create(target, plan.schema, writerOptions);
  for (const v of plan.variables) {
    if (v.record) continue;
    if (v.source.dimensions.length === 0) {
      const values = await readBlock(ds, plan, v, []);
      alive();
      await writer.write(v.name, values);
      await writer.completeSlot();
      continue;
    }
    const raw = passesRaw(ds, v);
    const dims = v.source.dimensions.map((d) => plan.dimensions.get(d) as PlanDimension);
    const rowBytes = dims.slice(1).reduce((a, d) => a * d.indices.length, 1) * TYPE_SIZE[v.source.type];
    const per = Math.max(1, Math.floor(PIECE_BYTES / Math.max(1, rowBytes)));
    for (const run of outRuns((dims[0] as PlanDimension).indices)) {
      for (let k = 0; k < run.count; k += per) {
        const count = Math.min(per, run.count - k);
        const piece = {
          start: run.start + k * run.stride,
          count,
          stride: run.stride,
          outOffset: run.outOffset + k,
        };
        if (raw) {
          const bytes = await readRawBlock(ds, plan, v, [piece]);
          alive();
          await writer.writeRaw(v.name, bytes);
          continue;
        }
        const values = await readBlock(ds, plan, v, [piece]);
        alive();
        await writer.write(v.name, values);
      }
    }
    await writer.completeSlot();
  }
  const recordDim = [...plan.dimensions.values()].find((d) => d.unlimited);
  if (recordDim) {
    const recordVars = plan.variables.filter((v) => v.record);
    const records = recordDim.indices;
    // Records are interleaved in the file; each variable reads a batch of them (up to PIECE_BYTES) at once,
    // and the next batch is read while this one is written (reads overlap encoding and the client's pace).
    type Batch = {
      from: number;
      to: number;
      data: NcArray | Uint8Array;
      per: number;
      raw: boolean;
      /** BATCH_POOL's buffer holding `data`, given back once the batch is written. */
      pooled?: Buffer;
      /** The bytes the batch was allowed (the next one may take twice as many, up to PIECE_BYTES). */
      capBytes: number;
    };
    const readBatch = (v: PlanVariable, from: number, capBytes: number): Promise<Batch> => {
      const dims = v.source.dimensions.slice(1).map((d) => plan.dimensions.get(d) as PlanDimension);
      const slabBytes = dims.reduce((a, d) => a * d.indices.length, 1) * TYPE_SIZE[v.source.type];
      const m = Math.min(records.length - from, Math.max(1, Math.floor(capBytes / Math.max(1, slabBytes))));
      const picked = outRuns(records.slice(from, from + m));
      // Stored bytes copied as they are where the output holds the same bytes; decoded otherwise.
      const raw = passesRaw(ds, v);
      // The writer copies a record's bytes when they are few (see WRITE_RAW_COPIES_BELOW), so
      // the block can then be reused for a later batch instead of left to the GC. Not for a
      // variable that is small in all (a whole time_bnds would hold a 4 MiB buffer for a few KB).
      const pooled =
        raw &&
        slabBytes < WRITE_RAW_COPIES_BELOW &&
        m * slabBytes <= PIECE_BYTES &&
        (m * slabBytes > PIECE_BYTES / 4 || capBytes < PIECE_BYTES)
          ? BATCH_POOL.take()
          : undefined;
      const data = raw ? readRawBlock(ds, plan, v, picked, pooled) : readBlock(ds, plan, v, picked);
      return data.then((d) => ({ from, to: from + m, data: d, per: d.length / m, raw, pooled, capBytes }));
    };
    type Held = { batch: Batch; next?: Promise<Batch>; nextRead?: boolean };
    const batches = new Map<string, Held>();
    const prefetch = (v: PlanVariable, held: Held) => {
      const batch = held.batch;
      if (batch.to >= records.length) return;
      const next = readBatch(v, batch.to, Math.min(PIECE_BYTES, 2 * batch.capBytes));
      held.next = next;
      // Awaited when its records come; a write failing first must not leave it unhandled.
      next.then(
        () => (held.nextRead = true),
        () => undefined,
      );
    };
    for (let r = 0; r < records.length; r++) {
      for (const v of recordVars) {
        let held = batches.get(v.name);
        if (!held || r >= held.batch.to) {
          const ahead = held?.next && held.batch.to === r ? held.next : undefined;
          // Waiting for a read: what is staged goes to the client meanwhile.
          if (!ahead || !held?.nextRead) await writer.flush();
          const batch = ahead ? await ahead : await readBatch(v, r, FIRST_BATCH_BYTES);
          // Every record of the held batch was written (copied by the writer).
          if (held?.batch.pooled) BATCH_POOL.give(held.batch.pooled);
          held = { batch };
          prefetch(v, held);
          batches.set(v.name, held);
        }
        const batch = held.batch;
        const values = batch.data.subarray((r - batch.from) * batch.per, (r - batch.from + 1) * batch.per);
        alive();
        if (values.length > 0) {
          if (batch.raw) await writer.writeRaw(v.name, values as Uint8Array, r);
          else await writer.write(v.name, values, r);
        }
        await writer.completeSlot();
      }
    }
    for (const held of batches.values()) if (held.batch.pooled) BATCH_POOL.give(held.batch.pooled);
  }
  await writer.close();
}

/** Reads a whole planned variable in output order (point answers, tests). */
export async function readPlanned(ds: NetcdfDataset, plan: SubsetPlan, name: string): Promise<NcArray> {
  const v = plan.variables.find((p) => p.name === name);
  if (!v) throw new Error(`${name} is not in the plan`);
  if (v.source.dimensions.length === 0) return readBlock(ds, plan, v, []);
  return readBlock(
    ds,
    plan,
    v,
    outRuns((plan.dimensions.get(v.source.dimensions[0] as string) as PlanDimension).indices),
  );
}
