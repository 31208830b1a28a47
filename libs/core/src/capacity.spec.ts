import { coverageOverlaps, standardRoom, trendOf } from './capacity';

describe('trendOf', () => {
  it('is the least-squares slope in bytes per day over the days the series spans', () => {
    const series = [
      { at: '2026-01-03', bytes: 300 },
      { at: '2026-01-01', bytes: 100 },
      { at: '2026-01-02', bytes: 200 },
      { at: '2026-01-11', bytes: 1100 },
    ];
    expect(trendOf(series)).toEqual({ days: 10, bytesPerDay: 100 });
  });

  it('is negative when usage shrinks', () => {
    expect(
      trendOf([
        { at: '2026-01-01T00:00:00Z', bytes: 1000 },
        { at: '2026-01-05T00:00:00Z', bytes: 600 },
      ]),
    ).toEqual({ days: 4, bytesPerDay: -100 });
  });

  it('is undefined without two distinct instants', () => {
    expect(trendOf([])).toBeUndefined();
    expect(trendOf([{ at: '2026-01-01', bytes: 5 }])).toBeUndefined();
    expect(
      trendOf([
        { at: '2026-01-01', bytes: 5 },
        { at: '2026-01-01', bytes: 9 },
      ]),
    ).toBeUndefined();
    expect(
      trendOf([
        { at: 'not a date', bytes: 5 },
        { at: '2026-01-01', bytes: 9 },
      ]),
    ).toBeUndefined();
  });
});

describe('standardRoom', () => {
  const usage = (derived: number, scratch: number) => ({
    standard: { bytes: 0 },
    derived: { bytes: derived },
    scratch: { bytes: scratch },
  });

  it('sets aside the larger of use and reservation for derived and scratch', () => {
    expect(standardRoom({ total: 100, derived: 20, scratch: 10 }, usage(30, 5))).toEqual({
      standardBudget: 100,
      derivedNeed: 30,
      scratchNeed: 10,
      room: 60,
    });
  });

  it('never exceeds the standard budget and is never negative', () => {
    expect(standardRoom({ total: 100, standard: 40 }, usage(10, 10)).room).toBe(40);
    expect(standardRoom({ total: 100 }, usage(80, 40)).room).toBe(0);
  });
});

describe('coverageOverlaps', () => {
  const c = { start: '2006-01-16T00:00:00', end: '2030-12-16T00:00:00' };

  it('compares the calendar strings of both bounds', () => {
    expect(coverageOverlaps(c, { start: '2030-12-16T00:00:00' })).toBe(true);
    expect(coverageOverlaps(c, { start: '2030-12-16T00:00:01' })).toBe(false);
    expect(coverageOverlaps(c, { end: '2006-01-15T23:59:59' })).toBe(false);
    expect(coverageOverlaps(c, { start: '2000-01-01T00:00:00', end: '2006-01-16T00:00:00' })).toBe(true);
    // A 360_day date JS Date would reject still orders correctly.
    expect(coverageOverlaps(c, { start: '2030-02-30T00:00:00', end: '2030-02-30T23:59:59' })).toBe(true);
  });

  it('matches when there is no interval or no coverage (fx files)', () => {
    expect(coverageOverlaps(c, undefined)).toBe(true);
    expect(coverageOverlaps(null, { start: '2100-01-01T00:00:00' })).toBe(true);
  });
});
