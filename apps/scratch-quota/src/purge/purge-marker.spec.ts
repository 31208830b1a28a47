import { boundedMarker } from './purge-marker';

const run = (day: number, lines: number) =>
  `# 2026-06-${String(day).padStart(2, '0')}T00:00:00.000Z fair-use purge run r${day}\n` +
  Array.from({ length: lines }, (_, i) => `"f${i}.nc"\t1\n`).join('');

describe('the purge marker bound', () => {
  it('appends while it fits, then drops the oldest runs whole', () => {
    expect(boundedMarker(run(1, 2), run(2, 2), 1000)).toBe(run(1, 2) + run(2, 2));
    const kept = boundedMarker(run(1, 20) + run(2, 2), run(3, 2), 150);
    expect(kept).toBe(run(2, 2) + run(3, 2));
  });

  it('cuts a single run longer than the bound, saying where the rest is', () => {
    const out = boundedMarker('', run(4, 500), 300);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(300);
    expect(out.startsWith('# 2026-06-04')).toBe(true);
    expect(out).toMatch(/# \.\.\. \d+ more line\(s\): GET \/scratch\/v1\/me\/purged\n$/);
  });
});
