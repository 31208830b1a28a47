import { ReadPacer } from './read-pacer';

describe('ReadPacer', () => {
  it('lets the first read go at once and queues later ones at the configured rate', () => {
    const pacer = new ReadPacer(1000);
    expect(pacer.reserve(500, 10_000)).toBe(0);
    // 500 bytes at 1000 B/s hold the line for 500 ms; the next two reads queue behind it.
    expect(pacer.reserve(1000, 10_000)).toBe(500);
    expect(pacer.reserve(1000, 10_100)).toBe(1400);
  });

  it('does not bank idle time as a burst', () => {
    const pacer = new ReadPacer(1000);
    pacer.reserve(100, 0);
    expect(pacer.reserve(5000, 60_000)).toBe(0);
    expect(pacer.reserve(1, 60_000)).toBe(5000);
  });

  it('never waits when unpaced (0)', () => {
    const pacer = new ReadPacer(0);
    expect(pacer.reserve(1 << 30, 0)).toBe(0);
    expect(pacer.reserve(1 << 30, 0)).toBe(0);
  });
});
