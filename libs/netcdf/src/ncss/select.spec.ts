import {
  applyStride,
  cellEdges,
  nearestCell2d,
  nearestLongitude,
  selectCurvilinear,
  selectLatitudes,
  selectLongitudes,
  selectTimes,
  toRuns,
} from './select';

const lon0to360 = Array.from({ length: 24 }, (_, i) => i * 15);
const lon180 = Array.from({ length: 36 }, (_, i) => -175 + i * 10);

describe('longitude selection (modulo 360)', () => {
  it('keeps the file order and values for a box inside the grid', () => {
    expect(selectLongitudes(lon0to360, undefined, 20, 50)).toEqual({ indices: [1, 2, 3], shifts: [0, 0, 0] });
    // east past 180 on a -180..180 grid wraps: 170..190 takes 175 and -175 (as 185).
    expect(selectLongitudes(lon180, undefined, 170, 190)).toEqual({ indices: [35, 0], shifts: [0, 360] });
  });

  it('a box across the seam of a 0..360 grid comes out west to east, shifted', () => {
    expect(selectLongitudes(lon0to360, undefined, -20, 20)).toEqual({
      indices: [23, 0, 1],
      shifts: [-360, 0, 0],
    });
    // The same box given as 340..20 (east < west) and as 340..380.
    expect(selectLongitudes(lon0to360, undefined, 340, 20).indices).toEqual([23, 0, 1]);
    expect(selectLongitudes(lon0to360, undefined, 340, 380).indices).toEqual([23, 0, 1]);
  });

  it('uses bounds when given; a whole circle is the whole axis in file order', () => {
    const bounds = lon0to360.flatMap((c) => [c - 7.5, c + 7.5]);
    expect(selectLongitudes(lon0to360, bounds, 8, 9).indices).toEqual([1]);
    expect(selectLongitudes(lon0to360, undefined, -180, 180).indices).toEqual(lon0to360.map((_, i) => i));
  });
});

describe('other selections', () => {
  it('latitude cells overlapping the box, on increasing and decreasing axes', () => {
    const lat = [-60, 0, 60];
    const bounds = [-90, -30, -30, 30, 30, 90];
    expect(selectLatitudes(lat, bounds, -70, 10)).toEqual([0, 1]);
    expect(selectLatitudes([60, 0, -60], [90, 30, 30, -30, -30, -90], -70, 10)).toEqual([1, 2]);
    expect(selectLatitudes(lat, bounds, 30, 30)).toEqual([1, 2]);
    expect(cellEdges([0, 10, 30])).toEqual([
      [-5, 5],
      [5, 20],
      [20, 40],
    ]);
  });

  it('runs of constant step, strides, nearest cells and times', () => {
    expect(toRuns([35, 0, 1, 2, 5, 8])).toEqual([
      { start: 35, count: 1, stride: 1 },
      { start: 0, count: 3, stride: 1 },
      { start: 5, count: 2, stride: 3 },
    ]);
    expect(applyStride([1, 2, 3, 4, 5], 2)).toEqual([1, 3, 5]);
    expect(nearestLongitude(lon0to360, -7)).toEqual(0);
    expect(nearestLongitude(lon0to360, -8)).toEqual(23);
    expect(selectTimes([10, 20, 30, 40], 15, 30)).toEqual([1, 2]);
    expect(nearestCell2d([10, 10, 20, 20], [0, 10, 0, 10], 2, 19, 9)).toEqual({ y: 1, x: 1 });
  });

  it('curvilinear: the smallest index box whose cells meet the box', () => {
    // A 4×5 grid of centres every 10°: lat 0..30, lon 0..40.
    const lat: number[] = [];
    const lon: number[] = [];
    for (let j = 0; j < 4; j++)
      for (let i = 0; i < 5; i++) {
        lat.push(j * 10);
        lon.push(i * 10);
      }
    expect(selectCurvilinear(lat, lon, 4, 5, { south: 12, north: 14, west: 21, east: 22 })).toEqual({
      y: [1, 1],
      x: [2, 2],
    });
    // Touching cells 1..2 in latitude (edges at 15), cells 2..3 in longitude (edge at 25).
    expect(selectCurvilinear(lat, lon, 4, 5, { south: 14, north: 16, west: 24, east: 26 })).toEqual({
      y: [1, 2],
      x: [2, 3],
    });
    expect(selectCurvilinear(lat, lon, 4, 5, { south: 50, north: 60, west: 0, east: 10 })).toBeUndefined();
    // Across the antimeridian of the box (350..5) reaches the first column.
    expect(selectCurvilinear(lat, lon, 4, 5, { south: 0, north: 1, west: 350, east: 2 })).toEqual({
      y: [0, 0],
      x: [0, 0],
    });
  });
});
