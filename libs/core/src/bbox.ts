import type { BBox } from './model';

/**
 * The one rule for a bounding box `[west, south, east, north]`, given in a
 * body or a query: longitudes within -180..360 (0..360 grids are common in
 * CMIP5), stored in -180..180; a box 360° wide or more is the whole globe;
 * west > east after normalising means the box crosses the antimeridian.
 * Returns the normalised box, or what is wrong with it.
 */
export function normalizeBBox(west: number, south: number, east: number, north: number): BBox | string {
  if (![west, south, east, north].every(Number.isFinite)) return 'must be four finite numbers';
  if (west < -180 || west > 360 || east < -180 || east > 360) return 'longitudes must be within -180..360';
  if (south < -90 || south > 90 || north < -90 || north > 90) return 'latitudes must be within -90..90';
  if (south > north) return 'south must not exceed north';
  if (east - west >= 360) return [-180, south, 180, north];
  const wrap = (longitude: number): number => (longitude > 180 ? longitude - 360 : longitude);
  return [wrap(west), south, wrap(east), north];
}
