/**
 * CF metadata of an open file: per-variable CF attributes, time coverage
 * (from bounds when present) and the lon/lat bounding box.
 */
import { CfError } from '../errors';
import type { NetcdfDataset } from '../dataset';
import {
  attrNumber,
  attrNumbers,
  attrString,
  attributesToJson,
  findVariable,
  type JsonAttributeValue,
  type NcData,
  type NcDimension,
  type NcFormat,
  type NcMetadata,
  type NcType,
  type NcVariable,
  type VariableRole,
} from '../model';
import { gridMappingNames } from '../roles';
import { bboxFromAxes, bboxFromPoints, rotatedToGeographic, type BBox } from './geo';
import { CfTime, type TimeCoverage } from './time';

export interface CfVariableSummary {
  name: string;
  role: VariableRole;
  type: NcType;
  dimensions: string[];
  shape: number[];
  standardName?: string;
  longName?: string;
  units?: string;
  cellMethods?: string;
  fillValue?: number;
  missingValue?: number[];
  scaleFactor?: number;
  addOffset?: number;
  gridMapping?: string;
  coordinates?: string[];
}

export interface GridMappingSummary {
  variable: string;
  name: string;
  gridNorthPoleLatitude?: number;
  gridNorthPoleLongitude?: number;
}

export interface CfSummary {
  format: NcFormat;
  conventions?: string;
  dimensions: NcDimension[];
  recordCount: number;
  variables: CfVariableSummary[];
  /** Names of the variables with role "data". */
  dataVariables: string[];
  time?: TimeCoverage & { variable: string; length: number };
  bbox?: BBox;
  gridMapping?: GridMappingSummary;
  globalAttributes: Record<string, JsonAttributeValue>;
  /** Non-fatal problems (only filled when `strict` is false; strict mode throws instead). */
  problems: CfError[];
}

export interface ExtractCfOptions {
  /** Throw CfError on undecodable time/coordinates (default true); false collects them in `problems`. */
  strict?: boolean;
  /** 2-D lat/lon larger than this many points are subsampled (default 250,000). */
  maxGridPoints?: number;
}

const LAT_UNITS = /^degrees?_?n(orth)?$/i;
const LON_UNITS = /^degrees?_?e(ast)?$/i;

function isLatitude(v: NcVariable): boolean {
  const sn = attrString(v.attributes, 'standard_name');
  if (sn) return sn === 'latitude';
  const units = attrString(v.attributes, 'units');
  if (units) return LAT_UNITS.test(units);
  return v.name === 'lat' || v.name === 'latitude' || v.name === 'nav_lat';
}

function isLongitude(v: NcVariable): boolean {
  const sn = attrString(v.attributes, 'standard_name');
  if (sn) return sn === 'longitude';
  const units = attrString(v.attributes, 'units');
  if (units) return LON_UNITS.test(units);
  return v.name === 'lon' || v.name === 'longitude' || v.name === 'nav_lon';
}

export function summarizeVariable(v: NcVariable): CfVariableSummary {
  const a = v.attributes;
  const s: CfVariableSummary = {
    name: v.name,
    role: v.role,
    type: v.type,
    dimensions: v.dimensions,
    shape: v.shape,
  };
  const set = <K extends keyof CfVariableSummary>(key: K, value: CfVariableSummary[K] | undefined): void => {
    if (value !== undefined) s[key] = value;
  };
  set('standardName', attrString(a, 'standard_name'));
  set('longName', attrString(a, 'long_name'));
  set('units', attrString(a, 'units'));
  set('cellMethods', attrString(a, 'cell_methods'));
  set('fillValue', attrNumber(a, '_FillValue'));
  set('missingValue', attrNumbers(a, 'missing_value'));
  set('scaleFactor', attrNumber(a, 'scale_factor'));
  set('addOffset', attrNumber(a, 'add_offset'));
  const gm = attrString(a, 'grid_mapping');
  if (gm) set('gridMapping', gridMappingNames(gm)[0]);
  const coords = attrString(a, 'coordinates');
  if (coords) set('coordinates', coords.split(/\s+/).filter(Boolean));
  return s;
}

function numeric(data: NcData): number[] {
  if (Array.isArray(data)) return data.map(Number);
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** First and last elements along the first axis (whole rows when 2-D), for monotonic coordinates. */
async function ends(ds: NetcdfDataset, v: NcVariable): Promise<number[]> {
  const n = v.shape[0] ?? 1;
  if (v.shape.length === 0) return numeric(await ds.read(v.name));
  if (n === 0) return [];
  const rest = v.shape.slice(1);
  const first = numeric(await ds.read(v.name, [0, ...rest.map(() => 0)], [1, ...rest]));
  if (n === 1) return first;
  const last = numeric(await ds.read(v.name, [n - 1, ...rest.map(() => 0)], [1, ...rest]));
  return [...first, ...last];
}

function fills(v: NcVariable): number[] {
  return [
    ...(attrNumbers(v.attributes, '_FillValue') ?? []),
    ...(attrNumbers(v.attributes, 'missing_value') ?? []),
  ];
}

function findTimeVariable(meta: NcMetadata): NcVariable | undefined {
  const candidates = meta.variables.filter(
    (v) =>
      v.role !== 'bounds' &&
      v.shape.length <= 1 &&
      (/\bsince\b/i.test(attrString(v.attributes, 'units') ?? '') ||
        attrString(v.attributes, 'standard_name') === 'time' ||
        attrString(v.attributes, 'axis') === 'T'),
  );
  const score = (v: NcVariable): number =>
    (v.role === 'coordinate' ? 4 : 0) +
    (attrString(v.attributes, 'standard_name') === 'time' ? 2 : 0) +
    (attrString(v.attributes, 'axis') === 'T' || v.name === 'time' ? 1 : 0);
  return candidates.sort((a, b) => score(b) - score(a))[0];
}

async function timeSummary(ds: NetcdfDataset, meta: NcMetadata): Promise<CfSummary['time']> {
  const tv = findTimeVariable(meta);
  if (!tv) return undefined;
  const time = CfTime.parse(
    attrString(tv.attributes, 'units'),
    attrString(tv.attributes, 'calendar'),
    tv.name,
  );
  const values = await ends(ds, tv);
  const boundsName = attrString(tv.attributes, 'bounds') ?? attrString(tv.attributes, 'climatology');
  const bv = boundsName ? findVariable(meta, boundsName) : undefined;
  const bounds = bv && bv.type !== 'char' && bv.type !== 'string' ? await ends(ds, bv) : undefined;
  const fillValues = fills(tv);
  let coverage: TimeCoverage | undefined;
  try {
    coverage = timeCoverageOf(time, values, bounds, fillValues);
  } catch (err) {
    if (err instanceof CfError) throw new CfError(err.code, err.message, tv.name, 'values');
    throw err;
  }
  return coverage ? { ...coverage, variable: tv.name, length: tv.shape[0] ?? 1 } : undefined;
}

function timeCoverageOf(
  time: CfTime,
  values: number[],
  bounds: number[] | undefined,
  fillValues: number[],
): TimeCoverage | undefined {
  const valid = (xs: number[]): number[] =>
    xs.filter((x) => Number.isFinite(x) && !fillValues.includes(x) && Math.abs(x) < 9.9e36);
  const b = bounds ? valid(bounds) : [];
  const src = b.length > 0 ? b : valid(values);
  if (src.length === 0) return undefined;
  return {
    start: time.decodeIso(Math.min(...src)),
    end: time.decodeIso(Math.max(...src)),
    calendar: time.calendar,
    units: time.units,
    fromBounds: b.length > 0,
  };
}

function boundsOf(meta: NcMetadata, v: NcVariable): NcVariable | undefined {
  const name = attrString(v.attributes, 'bounds');
  const bv = name ? findVariable(meta, name) : undefined;
  return bv && bv.type !== 'char' && bv.type !== 'string' ? bv : undefined;
}

async function readAll(ds: NetcdfDataset, v: NcVariable, maxPoints: number): Promise<number[]> {
  const total = v.shape.reduce((a, b) => a * b, 1);
  if (total <= maxPoints) return numeric(await ds.read(v.name));
  // Subsample evenly but keep the last row/column so edges are not lost.
  const step = Math.ceil(Math.sqrt(total / maxPoints));
  const stride = v.shape.map((n, i) => (i >= v.shape.length - 2 ? Math.max(1, Math.min(step, n - 1)) : 1));
  const count = v.shape.map((n, i) => Math.floor((n - 1) / (stride[i] as number)) + 1);
  return numeric(await ds.read(v.name, undefined, count, stride));
}

async function spatialExtent(
  ds: NetcdfDataset,
  meta: NcMetadata,
  maxPoints: number,
): Promise<{ bbox?: BBox; gridMapping?: GridMappingSummary }> {
  const gridMapping = findGridMapping(meta);
  const lat1 = meta.variables.find((v) => v.role === 'coordinate' && isLatitude(v));
  const lon1 = meta.variables.find((v) => v.role === 'coordinate' && isLongitude(v));
  if (lat1 && lon1) {
    const latB = boundsOf(meta, lat1);
    const lonB = boundsOf(meta, lon1);
    const lats = latB ? await ends(ds, latB) : await ends(ds, lat1);
    const lons = lonB ? await ends(ds, lonB) : await ends(ds, lon1);
    if (lats.length === 0 || lons.length === 0) return { gridMapping };
    const n = lon1.shape[0] ?? 1;
    const spacing = !lonB && n > 1 ? Math.abs(((lons[1] as number) - (lons[0] as number)) / (n - 1)) : 0;
    return {
      bbox: bboxFromAxes(Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats), spacing),
      gridMapping,
    };
  }
  const lat2 = meta.variables.find((v) => v.shape.length === 2 && v.role !== 'bounds' && isLatitude(v));
  const lon2 = meta.variables.find((v) => v.shape.length === 2 && v.role !== 'bounds' && isLongitude(v));
  if (lat2 && lon2 && lat2.shape.join() === lon2.shape.join()) {
    const lats = await readAll(ds, lat2, maxPoints);
    const lons = await readAll(ds, lon2, maxPoints);
    const bbox = bboxFromPoints(lons, lats);
    return bbox ? { bbox, gridMapping } : { gridMapping };
  }
  // Rotated-pole grid without 2-D lat/lon: rotate the grid's edges.
  if (gridMapping?.name === 'rotated_latitude_longitude') {
    const rlat = meta.variables.find(
      (v) => v.role === 'coordinate' && attrString(v.attributes, 'standard_name') === 'grid_latitude',
    );
    const rlon = meta.variables.find(
      (v) => v.role === 'coordinate' && attrString(v.attributes, 'standard_name') === 'grid_longitude',
    );
    const poleLat = gridMapping.gridNorthPoleLatitude;
    const poleLon = gridMapping.gridNorthPoleLongitude;
    if (rlat && rlon && poleLat !== undefined && poleLon !== undefined) {
      const ys = numeric(await ds.read(rlat.name));
      const xs = numeric(await ds.read(rlon.name));
      const lons: number[] = [];
      const lats: number[] = [];
      for (const j of sampleIndices(ys.length, 200))
        for (const i of sampleIndices(xs.length, 200)) {
          const [lon, lat] = rotatedToGeographic(xs[i] as number, ys[j] as number, poleLon, poleLat);
          lons.push(lon);
          lats.push(lat);
        }
      const bbox = bboxFromPoints(lons, lats);
      return bbox ? { bbox, gridMapping } : { gridMapping };
    }
  }
  return { gridMapping };
}

/** About `target` evenly spaced indices of 0..n-1, always including both ends. */
function sampleIndices(n: number, target: number): number[] {
  const step = Math.max(1, Math.floor(n / target));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += step) out.push(i);
  if (n > 0) out.push(n - 1);
  return out;
}

function findGridMapping(meta: NcMetadata): GridMappingSummary | undefined {
  const v = meta.variables.find(
    (x) => x.role === 'grid_mapping' && attrString(x.attributes, 'grid_mapping_name'),
  );
  if (!v) return undefined;
  const gm: GridMappingSummary = {
    variable: v.name,
    name: attrString(v.attributes, 'grid_mapping_name') as string,
  };
  const lat = attrNumber(v.attributes, 'grid_north_pole_latitude');
  const lon = attrNumber(v.attributes, 'grid_north_pole_longitude');
  if (lat !== undefined) gm.gridNorthPoleLatitude = lat;
  if (lon !== undefined) gm.gridNorthPoleLongitude = lon;
  return gm;
}

/** CF summary of an open dataset: reads only coordinate ends (and 2-D lat/lon when needed). */
export async function extractCf(ds: NetcdfDataset, options: ExtractCfOptions = {}): Promise<CfSummary> {
  const meta = ds.metadata;
  const strict = options.strict ?? true;
  const problems: CfError[] = [];
  const guard = async <T>(step: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await step();
    } catch (err) {
      if (!strict && err instanceof CfError) {
        problems.push(err);
        return undefined;
      }
      throw err;
    }
  };
  const variables = meta.variables.map(summarizeVariable);
  const summary: CfSummary = {
    format: meta.format,
    dimensions: meta.dimensions,
    recordCount: meta.recordCount,
    variables,
    dataVariables: variables.filter((v) => v.role === 'data').map((v) => v.name),
    globalAttributes: attributesToJson(meta.globalAttributes),
    problems,
  };
  const conventions = attrString(meta.globalAttributes, 'Conventions');
  if (conventions) summary.conventions = conventions;
  const time = await guard(() => timeSummary(ds, meta));
  if (time) summary.time = time;
  const space = await guard(() => spatialExtent(ds, meta, options.maxGridPoints ?? 250_000));
  if (space?.bbox) summary.bbox = space.bbox;
  if (space?.gridMapping) summary.gridMapping = space.gridMapping;
  return summary;
}
