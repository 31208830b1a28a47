/**
 * NCSS descriptions and text answers: `dataset.xml` (TDS's gridDataset
 * document: axes, gridSets, LatLonBox, TimeSpan, AcceptList),
 * `datasetBoundaries` as GeoJSON or WKT, and grid-as-point time series as
 * CSV or XML.
 */
import type { NetcdfDataset } from '../dataset';
import { attrString, findVariable, type NcVariable } from '../model';
import { formatIso, fromEpochMs } from '../cf/calendar';
import { unpackValues } from '../cf/unpack';
import type { BBox } from '../cf/geo';
import { gridBBox, gridVariables, readGrid, type GridInfo } from './grid';
import { readPlanned, type SubsetPlan } from './subset';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One grid per set of X/Y dimensions, with the variables on it. */
export async function readGrids(ds: NetcdfDataset): Promise<GridInfo[]> {
  const out: GridInfo[] = [];
  const seen = new Set<string>();
  for (const name of gridVariables(ds.metadata)) {
    if (seen.has(name)) continue;
    const grid = await readGrid(ds, name);
    for (const v of grid.variables) seen.add(v);
    out.push(grid);
  }
  return out;
}

/** The union of the grids' boxes (the first one when they differ little, as is usual). */
export function datasetBBox(grids: readonly GridInfo[]): BBox | undefined {
  const boxes = grids.map(gridBBox).filter((b): b is BBox => b !== undefined);
  if (boxes.length === 0) return undefined;
  const [w, s, e, n] = boxes[0] as BBox;
  return [
    Math.min(w, ...boxes.map((b) => b[0])),
    Math.min(s, ...boxes.map((b) => b[1])),
    Math.max(e, ...boxes.map((b) => b[2])),
    Math.max(n, ...boxes.map((b) => b[3])),
  ];
}

function attributeXml(v: NcVariable): string {
  return v.attributes
    .map((a) => {
      const value =
        typeof a.value === 'string'
          ? a.value
          : Array.isArray(a.value)
            ? a.value.join(' ')
            : Array.from(a.value as ArrayLike<number | bigint>, (x) => String(x)).join(' ');
      return `      <attribute name="${esc(a.name)}" type="${a.type === 'char' ? 'String' : a.type}" value="${esc(value)}"/>\n`;
    })
    .join('');
}

/** TDS's `dataset.xml` for a file: what NCSS clients (siphon, the form) read to build requests. */
export async function datasetXml(ds: NetcdfDataset, location: string): Promise<string> {
  const grids = await readGrids(ds);
  const meta = ds.metadata;
  const axisNames = new Set<string>();
  for (const g of grids) for (const a of [g.time, g.z, g.y, g.x]) if (a?.variable) axisNames.add(a.variable);
  const axisType = (g: GridInfo | undefined, name: string): string => {
    if (!g) return '';
    if (g.time?.variable === name) return 'Time';
    if (g.z?.variable === name) return 'Height';
    if (g.y.variable === name) return g.kind === 'latlon' ? 'Lat' : 'GeoY';
    if (g.x.variable === name) return g.kind === 'latlon' ? 'Lon' : 'GeoX';
    return '';
  };
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<gridDataset location="${esc(location)}" path="${esc(location)}">\n`;
  for (const name of axisNames) {
    const v = findVariable(meta, name) as NcVariable;
    const g = grids.find((x) => [x.time, x.z, x.y, x.x].some((a) => a?.variable === name));
    xml += `  <axis name="${esc(name)}" shape="${v.shape.join(' ')}" type="${v.type}" axisType="${axisType(g, name)}">\n`;
    xml += attributeXml(v).replace(/^ {6}/gm, '    ');
    xml += '  </axis>\n';
  }
  for (const g of grids) {
    const first = findVariable(meta, g.variables[0] as string) as NcVariable;
    xml += `  <gridSet name="${esc(first.dimensions.join(' '))}">\n`;
    if (g.kind !== 'latlon') {
      const xs = g.x.values;
      const ys = g.y.values;
      xml +=
        `    <projectionBox>\n      <minx>${Math.min(...xs)}</minx>\n      <maxx>${Math.max(...xs)}</maxx>\n` +
        `      <miny>${Math.min(...ys)}</miny>\n      <maxy>${Math.max(...ys)}</maxy>\n    </projectionBox>\n`;
    }
    for (const d of first.dimensions) xml += `    <axisRef name="${esc(d)}"/>\n`;
    if (g.gridMapping) xml += `    <coordTransRef name="${esc(g.gridMapping)}"/>\n`;
    for (const name of g.variables) {
      const v = findVariable(meta, name) as NcVariable;
      const desc = attrString(v.attributes, 'long_name') ?? attrString(v.attributes, 'standard_name') ?? '';
      xml += `    <grid name="${esc(name)}" desc="${esc(desc)}" shape="${esc(v.dimensions.join(' '))}" type="${v.type}">\n`;
      xml += attributeXml(v);
      xml += '    </grid>\n';
    }
    xml += '  </gridSet>\n';
  }
  const bbox = datasetBBox(grids);
  if (bbox)
    xml += `  <LatLonBox>\n    <west>${bbox[0]}</west>\n    <east>${bbox[2]}</east>\n    <south>${bbox[1]}</south>\n    <north>${bbox[3]}</north>\n  </LatLonBox>\n`;
  const t = grids.find((g) => g.time && g.time.ms.length > 0)?.time;
  if (t) {
    const cal = t.time.calendar;
    const iso = (ms: number) => `${formatIso(fromEpochMs(cal, ms))}Z`;
    xml += `  <TimeSpan>\n    <begin>${iso(Math.min(...t.ms))}</begin>\n    <end>${iso(Math.max(...t.ms))}</end>\n  </TimeSpan>\n`;
  }
  xml +=
    '  <AcceptList>\n    <GridAsPoint>\n      <accept displayName="xml">xml</accept>\n      <accept displayName="csv">csv</accept>\n' +
    '      <accept displayName="netcdf">netcdf</accept>\n    </GridAsPoint>\n    <Grid>\n      <accept displayName="netcdf">netcdf</accept>\n' +
    '    </Grid>\n  </AcceptList>\n</gridDataset>\n';
  return xml;
}

/** The dataset's outline: its box's corners west→east, counter-clockwise, closed. */
function ring(b: BBox): [number, number][] {
  const [w, s, e0, n] = b;
  const e = e0 < w ? e0 + 360 : e0;
  return [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
    [w, s],
  ];
}

export function boundariesWkt(b: BBox): string {
  return `POLYGON((${ring(b)
    .map(([x, y]) => `${x} ${y}`)
    .join(', ')}))`;
}

export function boundariesGeoJson(b: BBox): { type: 'Polygon'; coordinates: [number, number][][] } {
  return { type: 'Polygon', coordinates: [ring(b)] };
}

const show = (type: string, x: number): string =>
  Number.isNaN(x) ? 'NaN' : type === 'float' ? String(Number(x.toPrecision(7))) : String(x);

interface PointSeries {
  times: string[];
  levels?: { values: number[]; units?: string };
  columns: { name: string; units?: string; type: string; values: number[] }[];
}

async function pointSeries(ds: NetcdfDataset, plan: SubsetPlan): Promise<PointSeries> {
  const meta = ds.metadata;
  const t = plan.grid.time;
  const nt = plan.times?.length ?? 1;
  const times =
    t && plan.times
      ? plan.times.map((i) => `${formatIso(fromEpochMs(t.time.calendar, t.ms[i] as number))}Z`)
      : [''];
  const z = plan.grid.z;
  const zDim = z ? plan.dimensions.get(z.dim) : undefined;
  const columns: PointSeries['columns'] = [];
  let levels: PointSeries['levels'];
  for (const name of plan.requested) {
    const v = findVariable(meta, name) as NcVariable;
    const data = unpackValues(v, await readPlanned(ds, plan, name));
    const hasZ = z !== undefined && v.dimensions.includes(z.dim);
    if (hasZ && zDim && !levels)
      levels = { values: zDim.indices.map((i) => z.values[i] as number), units: z.units };
    columns.push({ name, units: attrString(v.attributes, 'units'), type: v.type, values: Array.from(data) });
  }
  const rows = nt * (levels?.values.length ?? 1);
  for (const c of columns)
    if (c.values.length !== rows && c.values.length * (levels?.values.length ?? 1) === rows) {
      // A 2-D field next to 3-D ones: repeat it on each level.
      const k = levels?.values.length ?? 1;
      c.values = c.values.flatMap((x) => Array.from({ length: k }, () => x));
    }
  return { times, levels, columns };
}

/** Grid as point, CSV as TDS writes it: `time,latitude[unit="degrees_north"],longitude[…],var[unit="…"]`. */
export async function pointCsv(ds: NetcdfDataset, plan: SubsetPlan): Promise<string> {
  const p = plan.point as NonNullable<SubsetPlan['point']>;
  const s = await pointSeries(ds, plan);
  const head = [
    'time',
    ...(s.levels ? [`vertCoord[unit="${s.levels.units ?? ''}"]`] : []),
    'latitude[unit="degrees_north"]',
    'longitude[unit="degrees_east"]',
    ...s.columns.map((c) => `${c.name}[unit="${c.units ?? ''}"]`),
  ];
  const lines = [head.join(',')];
  const k = s.levels?.values.length ?? 1;
  s.times.forEach((time, ti) => {
    for (let li = 0; li < k; li++) {
      const row = ti * k + li;
      lines.push(
        [
          time,
          ...(s.levels ? [String(s.levels.values[li])] : []),
          String(p.latitude),
          String(p.longitude),
          ...s.columns.map((c) => show(c.type, c.values[row] as number)),
        ].join(','),
      );
    }
  });
  return `${lines.join('\n')}\n`;
}

/** Grid as point, XML as TDS writes it: `<grid><point><data name="…" units="…">…</data></point></grid>`. */
export async function pointXml(ds: NetcdfDataset, plan: SubsetPlan, location: string): Promise<string> {
  const p = plan.point as NonNullable<SubsetPlan['point']>;
  const s = await pointSeries(ds, plan);
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<grid dataset="${esc(location)}">\n`;
  const k = s.levels?.values.length ?? 1;
  s.times.forEach((time, ti) => {
    for (let li = 0; li < k; li++) {
      const row = ti * k + li;
      xml += '  <point>\n';
      xml += `    <data name="date">${time}</data>\n`;
      if (s.levels)
        xml += `    <data name="vertCoord" units="${esc(s.levels.units ?? '')}">${s.levels.values[li]}</data>\n`;
      xml += `    <data name="lat" units="degrees_north">${p.latitude}</data>\n`;
      xml += `    <data name="lon" units="degrees_east">${p.longitude}</data>\n`;
      for (const c of s.columns)
        xml += `    <data name="${esc(c.name)}" units="${esc(c.units ?? '')}">${show(c.type, c.values[row] as number)}</data>\n`;
      xml += '  </point>\n';
    }
  });
  return `${xml}</grid>\n`;
}
