import { bboxFromAxes, bboxFromPoints, normalizeLongitude, rotatedToGeographic } from './geo';

describe('normalizeLongitude', () => {
  it.each([
    [0, 0],
    [359, -1],
    [180, -180],
    [-180, -180],
    [540, -180],
    [-190, 170],
    [720.5, 0.5],
  ])('%d → %d', (lon, expected) => expect(normalizeLongitude(lon)).toBe(expected));
});

describe('bboxFromAxes', () => {
  it('treats a full circle of bounds as global', () => {
    expect(bboxFromAxes(-22.5, 337.5, -90, 90)).toEqual([-180, -90, 180, 90]);
  });

  it('treats centres whose spacing closes the circle as global', () => {
    expect(bboxFromAxes(0, 358.125, -89, 89, 1.875)).toEqual([-180, -89, 180, 89]);
  });

  it('keeps a region crossing 0° ordered west < east', () => {
    expect(bboxFromAxes(350, 400, 30, 60)).toEqual([-10, 30, 40, 60]);
  });

  it('gives west > east for a region crossing the antimeridian', () => {
    expect(bboxFromAxes(160, 200, -10, 10)).toEqual([160, -10, -160, 10]);
  });

  it('keeps an east edge at 180 as 180', () => {
    expect(bboxFromAxes(100, 180, 0, 10)).toEqual([100, 0, 180, 10]);
  });
});

describe('bboxFromPoints', () => {
  it('finds the short way round for grids crossing 0°', () => {
    expect(bboxFromPoints([350, 355, 0, 5, 10], [40, 41, 42, 43, 44])).toEqual([-10, 40, 10, 44]);
  });

  it('finds the short way round for grids crossing 180°', () => {
    expect(bboxFromPoints([170, 175, 180, -175, -170], [0, 1, 2, 3, 4])).toEqual([170, 0, -170, 4]);
  });

  it('is global when points surround the pole evenly', () => {
    const lons = Array.from({ length: 72 }, (_, i) => i * 5);
    expect(
      bboxFromPoints(
        lons,
        lons.map(() => 80),
      ),
    ).toEqual([-180, 80, 180, 80]);
  });

  it('ignores non-finite and out-of-range points', () => {
    expect(bboxFromPoints([NaN, 10, 20, 1e20], [0, 1, 2, 1e20])).toEqual([10, 1, 20, 2]);
    expect(bboxFromPoints([NaN], [NaN])).toBeUndefined();
  });
});

describe('rotatedToGeographic', () => {
  it('puts the EUR-44 grid origin at 18°E, 50.75°N', () => {
    const [lon, lat] = rotatedToGeographic(0, 0, -162, 39.25);
    expect(lon).toBeCloseTo(18, 6);
    expect(lat).toBeCloseTo(50.75, 6);
  });

  it('is the identity for a pole at 90°N, 180°', () => {
    const [lon, lat] = rotatedToGeographic(30, 45, 180, 90);
    expect(lon).toBeCloseTo(30, 6);
    expect(lat).toBeCloseTo(45, 6);
  });

  it('matches an independent vector rotation', () => {
    const pole = { lon: -162, lat: 39.25 };
    const rad = Math.PI / 180;
    for (const [rlon, rlat] of [
      [-28.375, -23.375],
      [18.155, 21.835],
      [5, -10],
    ] as const) {
      // Geographic = Rz(poleLon) · Ry(90 - poleLat) · Rz(180) · rotated unit vector.
      const x = -Math.cos(rlat * rad) * Math.cos(rlon * rad);
      const y = -Math.cos(rlat * rad) * Math.sin(rlon * rad);
      const z = Math.sin(rlat * rad);
      const t = (90 - pole.lat) * rad;
      const x1 = Math.cos(t) * x + Math.sin(t) * z;
      const z1 = -Math.sin(t) * x + Math.cos(t) * z;
      const p = pole.lon * rad;
      const x2 = Math.cos(p) * x1 - Math.sin(p) * y;
      const y2 = Math.sin(p) * x1 + Math.cos(p) * y;
      const expectedLon = Math.atan2(y2, x2) / rad;
      const expectedLat = Math.asin(z1) / rad;
      const [lon, lat] = rotatedToGeographic(rlon, rlat, pole.lon, pole.lat);
      expect(lat).toBeCloseTo(expectedLat, 6);
      expect(Math.abs(normalizeLongitude(lon - expectedLon))).toBeLessThan(1e-6);
    }
  });
});
