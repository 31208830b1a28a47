/** Spatial extent helpers: longitude normalisation, bounding boxes, rotated-pole grids. */

/** `[west, south, east, north]` in degrees; west > east when the box crosses the antimeridian. */
export type BBox = [number, number, number, number];

/** Maps a longitude into [-180, 180). */
export function normalizeLongitude(lon: number): number {
  const x = ((((lon + 180) % 360) + 360) % 360) - 180;
  return Object.is(x, -0) ? 0 : x;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

function finish(west: number, south: number, east: number, north: number): BBox {
  if (east === -180 && west !== -180) east = 180;
  return [round6(west), round6(Math.max(-90, south)), round6(east), round6(Math.min(90, north))];
}

/**
 * Box of a monotonic 1-D longitude axis from `first` to `last` (centres or
 * outer bounds) and latitude range; `spacing` is the cell width when the
 * values are centres (0 for bounds). A span of a full circle gives [-180, 180].
 */
export function bboxFromAxes(
  lonMin: number,
  lonMax: number,
  latMin: number,
  latMax: number,
  spacing = 0,
): BBox {
  const span = lonMax - lonMin;
  if (span + spacing >= 360 - 1e-6) return finish(-180, latMin, 180, latMax);
  return finish(normalizeLongitude(lonMin), latMin, normalizeLongitude(lonMax), latMax);
}

/**
 * Box of scattered points (2-D curvilinear or rotated grids): the longitude
 * extent is the circle minus its largest empty arc, so grids crossing 0° or
 * 180° get the short way round. When no gap stands out (points all around the
 * circle) the box is global.
 */
export function bboxFromPoints(lons: ArrayLike<number>, lats: ArrayLike<number>): BBox | undefined {
  const xs: number[] = [];
  let south = Infinity;
  let north = -Infinity;
  for (let i = 0; i < lons.length; i++) {
    const lon = lons[i] as number;
    const lat = lats[i] as number;
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lat) > 90 || Math.abs(lon) > 1e4) continue;
    xs.push(normalizeLongitude(lon));
    if (lat < south) south = lat;
    if (lat > north) north = lat;
  }
  if (xs.length === 0) return undefined;
  const sorted = Float64Array.from(xs).sort();
  let largest = -1;
  let at = 0;
  const gaps: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as number;
    const b = i + 1 < sorted.length ? (sorted[i + 1] as number) : (sorted[0] as number) + 360;
    const g = b - a;
    if (g > 0) gaps.push(g);
    if (g > largest) {
      largest = g;
      at = i;
    }
  }
  gaps.sort((a, b) => a - b);
  const typical = gaps.length > 0 ? (gaps[Math.floor(gaps.length / 2)] as number) : 0;
  if (sorted.length > 2 && largest <= Math.max(1.5 * typical, 1e-9) && largest < 30)
    return finish(-180, south, 180, north);
  const west = sorted[(at + 1) % sorted.length] as number;
  const east = sorted[at] as number;
  return finish(west, south, east, north);
}

const RAD = Math.PI / 180;

/**
 * Geographic (lon, lat) of a rotated-pole grid point, as CF's
 * `rotated_latitude_longitude` (the COSMO/CDO formulas, north_pole_grid_longitude 0).
 */
export function rotatedToGeographic(
  rlon: number,
  rlat: number,
  poleLongitude: number,
  poleLatitude: number,
): [number, number] {
  const sinPol = Math.sin(poleLatitude * RAD);
  const cosPol = Math.cos(poleLatitude * RAD);
  const lamPol = poleLongitude * RAD;
  const phi = rlat * RAD;
  const lam = normalizeLongitude(rlon) * RAD;
  const lat =
    Math.asin(Math.max(-1, Math.min(1, cosPol * Math.cos(phi) * Math.cos(lam) + sinPol * Math.sin(phi)))) /
    RAD;
  const t = -sinPol * Math.cos(lam) * Math.cos(phi) + cosPol * Math.sin(phi);
  const a1 = Math.sin(lamPol) * t - Math.cos(lamPol) * Math.sin(lam) * Math.cos(phi);
  let a2 = Math.cos(lamPol) * t + Math.sin(lamPol) * Math.sin(lam) * Math.cos(phi);
  if (a2 === 0) a2 = 1e-20;
  return [normalizeLongitude(Math.atan2(a1, a2) / RAD), lat];
}
