import { normalizeBBox } from './bbox';

describe('normalizeBBox', () => {
  it('keeps a box in -180..180 as it is', () => {
    expect(normalizeBBox(-10, 35, 30, 70)).toEqual([-10, 35, 30, 70]);
  });

  it('brings 0..360 longitudes into -180..180, crossing the antimeridian where the box does', () => {
    expect(normalizeBBox(170, -10, 190, 10)).toEqual([170, -10, -170, 10]);
    expect(normalizeBBox(200, 0, 300, 10)).toEqual([-160, 0, -60, 10]);
  });

  it('treats a box 360 degrees wide as the whole globe', () => {
    expect(normalizeBBox(0, -90, 360, 90)).toEqual([-180, -90, 180, 90]);
  });

  it.each([
    [[-200, 0, 10, 10], 'longitudes must be within -180..360'],
    [[0, -91, 10, 10], 'latitudes must be within -90..90'],
    [[0, 20, 10, 10], 'south must not exceed north'],
    [[0, Number.NaN, 10, 10], 'must be four finite numbers'],
  ])('says what is wrong with %j', (box, problem) => {
    const [w, s, e, n] = box as [number, number, number, number];
    expect(normalizeBBox(w, s, e, n)).toBe(problem);
  });
});
