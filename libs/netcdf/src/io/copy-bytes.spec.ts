import { copyBytes } from './copy-bytes';

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);
const shared = (bytes: Uint8Array) => {
  const out = new Uint8Array(new SharedArrayBuffer(bytes.length + 16), 8, bytes.length);
  out.set(bytes);
  return out;
};

describe('copyBytes', () => {
  it.each([
    ['plain → plain', false, false],
    ['shared → plain', true, false],
    ['plain → shared', false, true],
    ['shared → shared', true, true],
  ])('copies %s like TypedArray.set, leaving the bytes around untouched', (_name, fromShared, toShared) => {
    for (const n of [0, 1, 63, 64, 65, 1000, 22_204]) {
      const src = fromShared ? shared(pattern(n, 3)) : pattern(n, 3);
      const expected = pattern(n + 20, 7);
      expected.set(pattern(n, 3), 10);
      const dst = toShared ? shared(pattern(n + 20, 7)) : pattern(n + 20, 7);
      copyBytes(dst, src, 10);
      expect(Buffer.from(dst).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('refuses a copy past the end of the target, as set does', () => {
    const dst = shared(new Uint8Array(100));
    // Matched by message: the plain path's RangeError comes from V8's realm, not jest's.
    expect(() => copyBytes(dst, new Uint8Array(100), 1)).toThrow(/100 bytes at 1 do not fit in 100/);
    expect(() => copyBytes(new Uint8Array(100), shared(new Uint8Array(80)), 30)).toThrow(/do not fit/);
    expect(() => copyBytes(new Uint8Array(100), new Uint8Array(80), 30)).toThrow(/out of bounds/);
  });

  it('copies a view of a larger shared buffer from its own offset', () => {
    const whole = shared(pattern(500, 1));
    const dst = new Uint8Array(200);
    copyBytes(dst, whole.subarray(100, 300));
    expect(Array.from(dst)).toEqual(Array.from(pattern(500, 1).subarray(100, 300)));
  });
});
