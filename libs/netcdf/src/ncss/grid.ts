/**
 * The grids of a file as NCSS sees them: for each data variable its X/Y
 * (longitude/latitude, or projection axes with 2-D lat/lon), time and
 * vertical dimensions, with the coordinate values read once.
 */
import { InvalidError } from '@climcat/core';
import type { NetcdfDataset } from '../dataset';
import {
  attrNumber,
  attrString,
  findVariable,
  toNumbers,
  type NcArray,
  type NcMetadata,
  type NcVariable,
} from '../model';
import { toEpochMs } from '../cf/calendar';
import { CfTime } from '../cf/time';
import { bboxFromAxes, bboxFromPoints, rotatedToGeographic, type BBox } from '../cf/geo';
import { cellEdges } from './select';

export interface Axis1D {
  dim: string;
  /** The coordinate variable, when the file has one. */
  variable?: string;
  values: number[];
  /** n×2 bounds values, when the coordinate variable names bounds of that shape. */
  bounds?: number[];
  boundsVariable?: string;
}

export interface TimeAxis extends Axis1D {
  time: CfTime;
  /** Values as epoch milliseconds of the file's calendar (comparable with `toEpochMs`). */
  ms: number[];
}

export interface GridInfo {
  /** Data variables on this grid (same X and Y dimensions). */
  variables: string[];
  kind: 'latlon' | 'curvilinear' | 'projected';
  x: Axis1D;
  y: Axis1D;
  /** 2-D latitude/longitude (dims y, x) of curvilinear grids. */
  lat2d?: { variable: string; values: number[] };
  lon2d?: { variable: string; values: number[] };
  /** True when lat2d/lon2d were computed from a rotated pole (the file has no 2-D lat/lon). */
  computedLatLon?: boolean;
  time?: TimeAxis;
  z?: Axis1D & { units?: string; positive?: string };
  gridMapping?: string;
}

const LAT_UNITS = /^degrees?_?n(orth)?$/i;
const LON_UNITS = /^degrees?_?e(ast)?$/i;
const VERTICAL_NAMES = new Set([
  'air_pressure',
  'altitude',
  'height',
  'depth',
  'model_level_number',
  'atmosphere_hybrid_sigma_pressure_coordinate',
  'atmosphere_sigma_coordinate',
  'atmosphere_hybrid_height_coordinate',
]);

type AxisKind = 'lon' | 'lat' | 'x' | 'y' | 't' | 'z';

/** What a 1-D coordinate variable is an axis of, if anything. */
function axisKind(v: NcVariable): AxisKind | undefined {
  const sn = attrString(v.attributes, 'standard_name');
  const units = attrString(v.attributes, 'units') ?? '';
  const axis = attrString(v.attributes, 'axis')?.toUpperCase();
  if (sn === 'longitude' || (!sn && LON_UNITS.test(units))) return 'lon';
  if (sn === 'latitude' || (!sn && LAT_UNITS.test(units))) return 'lat';
  if (sn === 'grid_longitude' || sn === 'projection_x_coordinate' || axis === 'X') return 'x';
  if (sn === 'grid_latitude' || sn === 'projection_y_coordinate' || axis === 'Y') return 'y';
  if (sn === 'time' || axis === 'T' || /\bsince\b/i.test(units)) return 't';
  if (axis === 'Z' || attrString(v.attributes, 'positive') || (sn && VERTICAL_NAMES.has(sn))) return 'z';
  return undefined;
}

function coordinateOf(meta: NcMetadata, dim: string): NcVariable | undefined {
  const v = findVariable(meta, dim);
  return v && v.dimensions.length === 1 && v.dimensions[0] === dim ? v : undefined;
}

/** The axes of one data variable's dimensions, by kind. */
export function variableAxes(meta: NcMetadata, v: NcVariable): Partial<Record<AxisKind, string>> {
  const out: Partial<Record<AxisKind, string>> = {};
  for (const dim of v.dimensions) {
    const c = coordinateOf(meta, dim);
    const kind = c ? axisKind(c) : undefined;
    if (kind && !out[kind]) out[kind] = dim;
  }
  return out;
}

/** The X and Y dimensions of a variable, when it is a grid. */
function horizontalDims(
  meta: NcMetadata,
  v: NcVariable,
): { x: string; y: string; kind: GridInfo['kind'] } | undefined {
  const a = variableAxes(meta, v);
  if (a.lon && a.lat) return { x: a.lon, y: a.lat, kind: 'latlon' };
  if (a.x && a.y) return { x: a.x, y: a.y, kind: 'projected' };
  return undefined;
}

/** Names of the data variables that are grids (have X and Y axes). */
export function gridVariables(meta: NcMetadata): string[] {
  return meta.variables.filter((v) => v.role === 'data' && horizontalDims(meta, v)).map((v) => v.name);
}

async function numbers(ds: NetcdfDataset, name: string): Promise<number[]> {
  return toNumbers((await ds.read(name)) as NcArray);
}

async function axis1d(ds: NetcdfDataset, dim: string): Promise<Axis1D> {
  const meta = ds.metadata;
  const c = coordinateOf(meta, dim);
  const length = meta.dimensions.find((d) => d.name === dim)?.length ?? 0;
  if (!c) return { dim, values: Array.from({ length }, (_, i) => i) };
  const out: Axis1D = { dim, variable: c.name, values: await numbers(ds, c.name) };
  const boundsName = attrString(c.attributes, 'bounds') ?? attrString(c.attributes, 'climatology');
  const b = boundsName ? findVariable(meta, boundsName) : undefined;
  if (b && b.dimensions.length === 2 && b.dimensions[0] === dim && b.shape[1] === 2) {
    out.bounds = await numbers(ds, b.name);
    out.boundsVariable = b.name;
  }
  return out;
}

/** 2-D latitude and longitude named by the variable's `coordinates`, on dims (y, x). */
function auxiliaryLatLon(
  meta: NcMetadata,
  v: NcVariable,
  x: string,
  y: string,
): { lat?: string; lon?: string } {
  const names = (attrString(v.attributes, 'coordinates') ?? '').split(/\s+/).filter(Boolean);
  const candidates = [...names, 'lat', 'lon', 'latitude', 'longitude'];
  const out: { lat?: string; lon?: string } = {};
  for (const name of candidates) {
    const c = findVariable(meta, name);
    if (!c || c.dimensions.length !== 2 || c.dimensions[0] !== y || c.dimensions[1] !== x) continue;
    const sn = attrString(c.attributes, 'standard_name');
    const units = attrString(c.attributes, 'units') ?? '';
    if (!out.lat && (sn === 'latitude' || LAT_UNITS.test(units))) out.lat = c.name;
    if (!out.lon && (sn === 'longitude' || LON_UNITS.test(units))) out.lon = c.name;
  }
  return out;
}

/** The pole of a `rotated_latitude_longitude` grid mapping (north_pole_grid_longitude 0 assumed). */
function rotatedPole(
  meta: NcMetadata,
  mapping: string | undefined,
): { latitude: number; longitude: number } | undefined {
  const gm = mapping ? findVariable(meta, mapping) : undefined;
  if (!gm || attrString(gm.attributes, 'grid_mapping_name') !== 'rotated_latitude_longitude')
    return undefined;
  const latitude = attrNumber(gm.attributes, 'grid_north_pole_latitude');
  const longitude = attrNumber(gm.attributes, 'grid_north_pole_longitude');
  return latitude === undefined || longitude === undefined ? undefined : { latitude, longitude };
}

/**
 * Reads the grid `variable` lies on. Errors are 400s naming `query.var` and
 * the grids the file has.
 */
export async function readGrid(ds: NetcdfDataset, variable: string): Promise<GridInfo> {
  const meta = ds.metadata;
  const v = findVariable(meta, variable);
  const grids = gridVariables(meta);
  if (!v)
    throw InvalidError.field(
      'query.var',
      `no variable "${variable}" in this file; its grids are ${grids.join(', ') || 'none'}`,
    );
  const h = horizontalDims(meta, v);
  if (!h || v.role !== 'data')
    throw InvalidError.field(
      'query.var',
      `"${variable}" is not a grid (no latitude/longitude or projection x/y dimensions); the grids are ${grids.join(', ') || 'none'}`,
    );
  const axes = variableAxes(meta, v);
  const info: GridInfo = {
    variables: grids.filter((name) => {
      const other = findVariable(meta, name) as NcVariable;
      return other.dimensions.includes(h.x) && other.dimensions.includes(h.y);
    }),
    kind: h.kind,
    x: await axis1d(ds, h.x),
    y: await axis1d(ds, h.y),
  };
  const gm = attrString(v.attributes, 'grid_mapping');
  if (gm) info.gridMapping = gm.split(/\s+/)[0]?.replace(/:$/, '');
  if (h.kind === 'projected') {
    const aux = auxiliaryLatLon(meta, v, h.x, h.y);
    if (aux.lat && aux.lon) {
      info.kind = 'curvilinear';
      info.lat2d = { variable: aux.lat, values: await numbers(ds, aux.lat) };
      info.lon2d = { variable: aux.lon, values: await numbers(ds, aux.lon) };
    } else {
      const pole = rotatedPole(meta, info.gridMapping);
      if (pole) {
        // No 2-D lat/lon in the file: compute them from the pole, so boxes and points still work.
        const lat: number[] = [];
        const lon: number[] = [];
        for (const rlat of info.y.values)
          for (const rlon of info.x.values) {
            const [x, y] = rotatedToGeographic(rlon, rlat, pole.longitude, pole.latitude);
            lat.push(y);
            lon.push(x);
          }
        const free = (name: string) => (findVariable(meta, name) ? `${name}_computed` : name);
        info.kind = 'curvilinear';
        info.computedLatLon = true;
        info.lat2d = { variable: free('lat'), values: lat };
        info.lon2d = { variable: free('lon'), values: lon };
      }
    }
  }
  if (axes.t) {
    const base = await axis1d(ds, axes.t);
    const tv = findVariable(meta, axes.t) as NcVariable;
    const time = CfTime.parse(
      attrString(tv.attributes, 'units'),
      attrString(tv.attributes, 'calendar'),
      tv.name,
    );
    info.time = { ...base, time, ms: base.values.map((t) => toEpochMs(time.calendar, time.decode(t))) };
  }
  if (axes.z) {
    const base = await axis1d(ds, axes.z);
    const zv = findVariable(meta, axes.z) as NcVariable;
    info.z = {
      ...base,
      units: attrString(zv.attributes, 'units'),
      positive: attrString(zv.attributes, 'positive'),
    };
  }
  return info;
}

/** `[west, south, east, north]` of a grid (cell edges for lat/lon axes, centres for 2-D lat/lon). */
export function gridBBox(grid: GridInfo): BBox | undefined {
  if (grid.kind === 'latlon') {
    const lon = cellEdges(grid.x.values, grid.x.bounds);
    const lat = cellEdges(grid.y.values, grid.y.bounds);
    if (lon.length === 0 || lat.length === 0) return undefined;
    const lonLo = Math.min(...lon.map((e) => e[0]));
    const lonHi = Math.max(...lon.map((e) => e[1]));
    return bboxFromAxes(lonLo, lonHi, Math.min(...lat.map((e) => e[0])), Math.max(...lat.map((e) => e[1])));
  }
  if (grid.lat2d && grid.lon2d) return bboxFromPoints(grid.lon2d.values, grid.lat2d.values);
  return undefined;
}
