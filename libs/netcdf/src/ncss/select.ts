/**
 * Index selection on coordinate values, as NCSS needs it: cells of a 1-D
 * latitude or longitude axis that intersect a box (longitude modulo 360,
 * boxes across the antimeridian on 0..360 and -180..180 grids), the index
 * box of a curvilinear (rotated-pole) grid whose 2-D lat/lon cells intersect
 * a box, nearest cells and times. Pure functions on plain arrays.
 */

/** Source indices `start, start+stride, …` (count of them), in output order. */
export interface Run {
  start: number;
  count: number;
  stride: number;
}

/** Splits output-ordered source indices into runs of constant positive step. */
export function toRuns(indices: readonly number[]): Run[] {
  const runs: Run[] = [];
  let i = 0;
  while (i < indices.length) {
    const start = indices[i] as number;
    const next = indices[i + 1];
    if (next === undefined || next <= start) {
      runs.push({ start, count: 1, stride: 1 });
      i++;
      continue;
    }
    const stride = next - start;
    let count = 2;
    while (
      i + count < indices.length &&
      (indices[i + count] as number) - (indices[i + count - 1] as number) === stride
    )
      count++;
    runs.push({ start, count, stride });
    i += count;
  }
  return runs;
}

/** Every `stride`-th entry, starting with the first. */
export function applyStride<T>(items: readonly T[], stride: number): T[] {
  return stride <= 1 ? [...items] : items.filter((_, j) => j % stride === 0);
}

/** [lo, hi] of each cell: from bounds (n×2) when given, else halfway to the neighbours. */
export function cellEdges(centers: ArrayLike<number>, bounds?: ArrayLike<number>): [number, number][] {
  const n = centers.length;
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (bounds && bounds.length === 2 * n) {
      const a = bounds[2 * i] as number;
      const b = bounds[2 * i + 1] as number;
      out.push([Math.min(a, b), Math.max(a, b)]);
      continue;
    }
    const c = centers[i] as number;
    const prev = i > 0 ? (centers[i - 1] as number) : undefined;
    const next = i + 1 < n ? (centers[i + 1] as number) : undefined;
    const down = prev !== undefined ? (c - prev) / 2 : next !== undefined ? (next - c) / 2 : 0;
    const up = next !== undefined ? (next - c) / 2 : down;
    const lo = c - down;
    const hi = c + up;
    out.push([Math.min(lo, hi), Math.max(lo, hi)]);
  }
  return out;
}

const mod360 = (x: number): number => ((x % 360) + 360) % 360;

/** Width of a longitude box west→east: east may exceed 180; east < west crosses the antimeridian. */
export function lonWidth(west: number, east: number): number {
  if (east - west >= 360) return 360;
  return east >= west ? east - west : east - west + 360;
}

const overlaps = (lo: number, hi: number, a: number, b: number): boolean =>
  Math.min(hi, b) - Math.max(lo, a) > 0 ||
  (a === b && lo <= a && a <= hi) ||
  (lo === hi && a <= lo && lo <= b);

/** Cells whose [lo, hi] intersects [south, north] (any axis direction): first..last source index, or undefined. */
export function selectLatitudes(
  centers: ArrayLike<number>,
  bounds: ArrayLike<number> | undefined,
  south: number,
  north: number,
): [number, number] | undefined {
  const edges = cellEdges(centers, bounds);
  let first = -1;
  let last = -1;
  edges.forEach(([lo, hi], i) => {
    if (!overlaps(lo, hi, south, north)) return;
    if (first < 0) first = i;
    last = i;
  });
  return first < 0 ? undefined : [first, last];
}

export interface LongitudeSelection {
  /** Source indices in output order. */
  indices: number[];
  /** Degrees to add to each selected longitude (and its bounds) so the output is monotonic. */
  shifts: number[];
}

/**
 * Longitude cells intersecting the box from `west` eastwards to `east`
 * (modulo 360). A selection contiguous in the file keeps the file's order
 * and values; one that wraps (a box across the grid's seam, e.g. -10..10 on
 * a 0..360 grid) is ordered west to east with its longitudes shifted into
 * the box's range so the output axis stays monotonic.
 */
export function selectLongitudes(
  centers: ArrayLike<number>,
  bounds: ArrayLike<number> | undefined,
  west: number,
  east: number,
): LongitudeSelection {
  const width = lonWidth(west, east);
  const edges = cellEdges(centers, bounds);
  const picked: { i: number; key: number }[] = [];
  edges.forEach(([lo, hi], i) => {
    const c = centers[i] as number;
    const s = west + mod360(c - west) - c;
    for (const shift of [s, s - 360]) {
      if (overlaps(lo + shift, hi + shift, west, west + width)) {
        picked.push({ i, key: c + shift });
        return;
      }
    }
  });
  const contiguous = picked.every((p, k) => k === 0 || p.i === (picked[k - 1] as { i: number }).i + 1);
  if (contiguous) return { indices: picked.map((p) => p.i), shifts: picked.map(() => 0) };
  picked.sort((a, b) => a.key - b.key);
  return {
    indices: picked.map((p) => p.i),
    shifts: picked.map((p) => Math.round(p.key - (centers[p.i] as number))),
  };
}

/** Index of the value nearest `x` (first on ties). */
export function nearestIndex(values: ArrayLike<number>, x: number): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let i = 0; i < values.length; i++) {
    const d = Math.abs((values[i] as number) - x);
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  }
  return best;
}

/** Degrees between two longitudes the short way round. */
export function lonDistance(a: number, b: number): number {
  return Math.abs(mod360(a - b + 180) - 180);
}

export function nearestLongitude(values: ArrayLike<number>, lon: number): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let i = 0; i < values.length; i++) {
    const d = lonDistance(values[i] as number, lon);
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  }
  return best;
}

const RAD = Math.PI / 180;

/** The cell of a 2-D lat/lon grid (row-major ny×nx) nearest a point, by great-circle distance. */
export function nearestCell2d(
  lat: ArrayLike<number>,
  lon: ArrayLike<number>,
  nx: number,
  latitude: number,
  longitude: number,
): { y: number; x: number } {
  let best = 0;
  let bestCos = -2;
  const sinP = Math.sin(latitude * RAD);
  const cosP = Math.cos(latitude * RAD);
  for (let i = 0; i < lat.length; i++) {
    const la = (lat[i] as number) * RAD;
    const cosD = sinP * Math.sin(la) + cosP * Math.cos(la) * Math.cos(((lon[i] as number) - longitude) * RAD);
    if (cosD > bestCos) {
      bestCos = cosD;
      best = i;
    }
  }
  return { y: Math.floor(best / nx), x: best % nx };
}

const wrap180 = (x: number): number => mod360(x + 180) - 180;

/**
 * The smallest index box of a curvilinear grid (row-major ny×nx centres)
 * holding every cell that intersects the box. A cell reaches halfway to its
 * eight neighbours (mirrored at the grid's edges); longitudes modulo 360.
 */
export function selectCurvilinear(
  lat: ArrayLike<number>,
  lon: ArrayLike<number>,
  ny: number,
  nx: number,
  box: { north: number; south: number; east: number; west: number },
): { y: [number, number]; x: [number, number] } | undefined {
  const width = lonWidth(box.west, box.east);
  let y0 = Infinity;
  let y1 = -Infinity;
  let x0 = Infinity;
  let x1 = -Infinity;
  const at = (j: number, i: number): [number, number] | undefined =>
    j >= 0 && j < ny && i >= 0 && i < nx ? [lat[j * nx + i] as number, lon[j * nx + i] as number] : undefined;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const [cLat, cLon] = at(j, i) as [number, number];
      if (!Number.isFinite(cLat) || !Number.isFinite(cLon)) continue;
      let latLo = cLat;
      let latHi = cLat;
      let dLo = 0;
      let dHi = 0;
      for (let dj = -1; dj <= 1; dj++)
        for (let di = -1; di <= 1; di++) {
          if (dj === 0 && di === 0) continue;
          const n = at(j + dj, i + di);
          const o = at(j - dj, i - di);
          let mLat: number;
          let mLon: number;
          if (n) {
            mLat = (n[0] - cLat) / 2;
            mLon = wrap180(n[1] - cLon) / 2;
          } else if (o) {
            mLat = -(o[0] - cLat) / 2;
            mLon = -wrap180(o[1] - cLon) / 2;
          } else continue;
          latLo = Math.min(latLo, cLat + mLat);
          latHi = Math.max(latHi, cLat + mLat);
          dLo = Math.min(dLo, mLon);
          dHi = Math.max(dHi, mLon);
        }
      if (!overlaps(latLo, latHi, box.south, box.north)) continue;
      const s = box.west + mod360(cLon - box.west) - cLon;
      const hit = [s, s - 360].some((shift) =>
        overlaps(cLon + dLo + shift, cLon + dHi + shift, box.west, box.west + width),
      );
      if (!hit) continue;
      y0 = Math.min(y0, j);
      y1 = Math.max(y1, j);
      x0 = Math.min(x0, i);
      x1 = Math.max(x1, i);
    }
  }
  return y0 > y1 ? undefined : { y: [y0, y1], x: [x0, x1] };
}

/** Indices of times (epoch ms of the file's calendar) inside [startMs, endMs]. */
export function selectTimes(times: readonly number[], startMs: number, endMs: number): number[] {
  const out: number[] = [];
  times.forEach((t, i) => {
    if (t >= startMs && t <= endMs) out.push(i);
  });
  return out;
}
