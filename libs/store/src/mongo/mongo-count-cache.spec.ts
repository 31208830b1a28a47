import { CountCache, filterSignature } from './mongo-count-cache';

describe('CountCache', () => {
  let clock = 0;
  const now = () => clock;
  const counter = () => {
    let calls = 0;
    return { count: () => Promise.resolve(++calls), calls: () => calls };
  };

  beforeEach(() => {
    clock = 0;
  });

  it('answers a key from the cache while its generation is unchanged, and counts again after a bump', async () => {
    const cache = new CountCache(60_000, 10, now);
    const c = counter();
    expect(await cache.through('k', 1, c.count)).toBe(1);
    expect(await cache.through('k', 1, c.count)).toBe(1);
    expect(c.calls()).toBe(1);
    expect(await cache.through('k', 2, c.count)).toBe(2);
    expect(await cache.through('k', 2, c.count)).toBe(2);
    expect(c.calls()).toBe(2);
  });

  it('counts again once an entry is older than the max age, whatever the generation', async () => {
    const cache = new CountCache(1_000, 10, now);
    const c = counter();
    await cache.through('k', 1, c.count);
    clock = 1_000;
    expect(await cache.through('k', 1, c.count)).toBe(1);
    clock = 1_001;
    expect(await cache.through('k', 1, c.count)).toBe(2);
  });

  it('shares one computation between concurrent misses of a key', async () => {
    const cache = new CountCache(60_000, 10, now);
    const c = counter();
    const results = await Promise.all([1, 2, 3].map(() => cache.through('k', 1, c.count)));
    expect(results).toEqual([1, 1, 1]);
    expect(c.calls()).toBe(1);
  });

  it('does not keep a failed count', async () => {
    const cache = new CountCache(60_000, 10, now);
    await expect(cache.through('k', 1, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.through('k', 1, () => Promise.resolve(7))).toBe(7);
  });

  it('drops the least recently used entry beyond its size', async () => {
    const cache = new CountCache(60_000, 2, now);
    const c = counter();
    await cache.through('a', 1, c.count); // 1
    await cache.through('b', 1, c.count); // 2
    await cache.through('a', 1, c.count); // hit: a is now the most recent
    await cache.through('c', 1, c.count); // 3, drops b
    expect(await cache.through('a', 1, c.count)).toBe(1);
    expect(await cache.through('b', 1, c.count)).toBe(4);
  });

  it('hands out copies, so a caller changing its answer leaves the cached one intact', async () => {
    const cache = new CountCache(60_000, 10, now);
    const facets = () => Promise.resolve({ model: [{ value: 'A', count: 1 }] });
    const first = await cache.through('k', 1, facets);
    first.model.push({ value: 'B', count: 9 });
    expect(await cache.through('k', 1, facets)).toEqual({ model: [{ value: 'A', count: 1 }] });
  });

  it('forgets everything on clear', async () => {
    const cache = new CountCache(60_000, 10, now);
    const c = counter();
    await cache.through('k', 1, c.count);
    cache.clear();
    expect(await cache.through('k', 1, c.count)).toBe(2);
  });
});

describe('filterSignature', () => {
  it('is the same for filters differing only in key order or in the order of $in, $and and $or operands', () => {
    const a = {
      $and: [
        { kind: { $in: ['standard', 'derived'] } },
        { $or: [{ 'access.public': true }, { 'access.ownerGroup': { $in: ['g1', 'g2'] } }] },
      ],
    };
    const b = {
      $and: [
        { $or: [{ 'access.ownerGroup': { $in: ['g2', 'g1'] } }, { 'access.public': true }] },
        { kind: { $in: ['derived', 'standard'] } },
      ],
    };
    expect(filterSignature(a)).toBe(filterSignature(b));
  });

  it('differs when the match differs, ordered arrays and regular expressions included', () => {
    const sig = (filter: unknown) => filterSignature(filter);
    expect(sig({ kind: { $in: ['standard'] } })).not.toBe(sig({ kind: { $in: ['derived'] } }));
    expect(sig({ 'search.tokens': { $regex: '^ab' } })).not.toBe(sig({ 'search.tokens': { $regex: '^a' } }));
    expect(sig({ t: /^ab/ })).not.toBe(sig({ t: /^a/ }));
    expect(sig({ bbox: [1, 2] })).not.toBe(sig({ bbox: [2, 1] }));
    expect(sig({ size: { $gte: 1 } })).not.toBe(sig({ size: { $lte: 1 } }));
    expect(sig({})).not.toBe(sig({ 'access.public': true }));
  });
});
