import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { gatherToNative, SwapArena, swapToNative } from './byte-swap';

const SIZES = [2, 4, 8] as const;
/** Element counts around the 16- and 64-byte vector steps, and a few MB. */
const COUNTS = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 400_000];
/** Byte offsets into an arena buffer: aligned, element-aligned but not vector-aligned, unaligned. */
const OFFSETS = [0, 8, 24, 40, 3];
const BUFFER_BYTES = 3_300_000;

/** Buffer.swapNN on a copy: the reference. */
function bufferSwapped(bytes: Uint8Array, elementSize: number): Buffer {
  const copy = Buffer.from(bytes);
  if (elementSize === 2) copy.swap16();
  else if (elementSize === 4) copy.swap32();
  else copy.swap64();
  return copy;
}

describe('SwapArena', () => {
  const wasm = new SwapArena(3, BUFFER_BYTES);
  const plain = new SwapArena(3, BUFFER_BYTES, { wasm: false });

  it('uses WebAssembly here (Node >= 16.4 has SIMD), plain memory when asked', () => {
    expect(wasm.wasm).toBe(true);
    expect(plain.wasm).toBe(false);
  });

  it('gives out aligned, disjoint buffers of the asked size', () => {
    for (const arena of [wasm, plain]) {
      expect(arena.buffers).toHaveLength(3);
      for (const [i, b] of arena.buffers.entries()) {
        expect(b.length).toBe(BUFFER_BYTES);
        expect(b.byteOffset % 64).toBe(0);
        if (i > 0)
          expect(b.byteOffset).toBeGreaterThanOrEqual(
            (arena.buffers[i - 1] as Uint8Array).byteOffset + BUFFER_BYTES,
          );
      }
    }
    expect(new SwapArena(2, 0).buffers.map((b) => b.length)).toEqual([0, 0]);
  });

  it('hands released memory to later arenas that fit in it, and only released memory', () => {
    const a = new SwapArena(2, 100_000);
    const memory = (a.buffers[0] as Uint8Array).buffer;
    expect((new SwapArena(2, 100_000).buffers[0] as Uint8Array).buffer).not.toBe(memory);
    a.release();
    a.release(); // once only
    expect((new SwapArena(3, 20_000).buffers[0] as Uint8Array).buffer).toBe(memory);
    expect((new SwapArena(1, 20_000).buffers[0] as Uint8Array).buffer).not.toBe(memory);
    // More than the 16 MiB kept idle is left to the GC.
    const big = new SwapArena(1, 17 << 20);
    big.release();
    expect((new SwapArena(1, 17 << 20).buffers[0] as Uint8Array).buffer).not.toBe(
      (big.buffers[0] as Uint8Array).buffer,
    );
  });

  describe.each([
    ['WebAssembly', wasm],
    ['plain', plain],
  ])('%s swapToNative', (_, arena) => {
    it.each(SIZES)('equals Buffer.swap for %i-byte elements at every length and offset', (e) => {
      for (const [k, buffer] of arena.buffers.entries())
        for (const offset of OFFSETS.map((o) => o + k))
          for (const count of COUNTS) {
            const end = offset + count * e;
            // The view and 100 bytes either side: nothing outside it may change.
            const region = buffer.subarray(0, end + 100);
            randomFillSync(region);
            const expected = Buffer.from(region);
            expected.set(bufferSwapped(expected.subarray(offset, end), e), offset);
            swapToNative(buffer.subarray(offset, end), e);
            expect(Buffer.from(region).equals(expected)).toBe(true);
          }
    });
  });

  describe.each([
    ['WebAssembly', wasm],
    ['plain', plain],
  ])('%s gatherToNative', (_, arena) => {
    it.each(SIZES)('moves and swaps %i-byte runs like copyWithin + Buffer.swap', (e) => {
      const buffer = arena.buffers[1] as Uint8Array;
      // [elements per run, gap elements between runs, runs, destination offset before the source]
      const cases: [number, number, number, number][] = [
        [1, 1, 100, 0],
        [3, 0, 50, 0],
        [5, 2, 333, 0],
        [16, 16, 64, 8],
        [17, 1, 64, 1],
        [48, 16, 4_000, 4],
        [192, 64, 1_000, 1_000],
        [1000, 7, 1, 9],
        [0, 4, 3, 0],
      ];
      for (const [runElements, gapElements, count, back] of cases) {
        const run = runElements * e;
        const step = run + gapElements * e;
        const src = back * e + 5;
        const dst = src - back * e;
        randomFillSync(buffer);
        const expected = Buffer.from(buffer);
        for (let r = 0; r < count; r++)
          expected.copyWithin(dst + r * run, src + r * step, src + r * step + run);
        expected.set(bufferSwapped(expected.subarray(dst, dst + count * run), e), dst);
        gatherToNative(buffer, dst, src, run, step, count, e);
        // The gathered, swapped runs; the bytes before them untouched (after them, the runs' old bytes).
        const end = dst + count * run;
        expect(Buffer.from(buffer.subarray(0, end)).equals(expected.subarray(0, end))).toBe(true);
      }
    });
  });

  it('refuses partial elements, backward moves and runs past the end', () => {
    const b = wasm.buffers[0] as Uint8Array;
    expect(() => swapToNative(b.subarray(0, 6), 4)).toThrow(RangeError);
    expect(() => gatherToNative(b, 0, 8, 6, 8, 2, 4)).toThrow(RangeError);
    expect(() => gatherToNative(b, 16, 8, 8, 8, 2, 4)).toThrow(RangeError);
    expect(() => gatherToNative(b, 0, 8, 8, 16, BUFFER_BYTES / 16 + 1, 4)).toThrow(RangeError);
    expect(() => gatherToNative(b, 0, 8, 16, 8, 2, 4)).toThrow(RangeError);
  });

  it('falls back to plain memory where WebAssembly SIMD is unavailable', () => {
    const validate = jest.spyOn((globalThis as any).WebAssembly, 'validate').mockReturnValue(false);
    try {
      jest.isolateModules(() => {
        const fresh = jest.requireActual('./byte-swap');
        const arena = new fresh.SwapArena(1, 4096);
        expect(arena.wasm).toBe(false);
        const bytes = randomFillSync(arena.buffers[0] as Uint8Array);
        const expected = bufferSwapped(bytes, 4);
        fresh.swapToNative(bytes, 4);
        expect(Buffer.from(bytes).equals(expected)).toBe(true);
      });
      expect(validate).toHaveBeenCalled();
    } finally {
      validate.mockRestore();
    }
  });

  it('leaves buffers of other memory to Buffer.swap', () => {
    const bytes = randomFillSync(new Uint8Array(1000));
    const expected = bufferSwapped(bytes, 4);
    swapToNative(bytes, 4);
    expect(Buffer.from(bytes).equals(expected)).toBe(true);
  });
});

describe('byte-swap.wasm.ts', () => {
  it('is the compiled byte-swap.wat (npm run build:wasm)', () => {
    const script = join(__dirname, '../../../../scripts/build-wasm.js');
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
