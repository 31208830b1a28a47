import { BYTE_SWAP_WASM_BASE64 } from './byte-swap.wasm';

type Swap = (ptr: number, len: number) => void;
type Gather = (dst: number, src: number, run: number, step: number, count: number) => void;

/** byte-swap.wat's exports, and the parts of the WebAssembly API used here (the tsconfig lib has no DOM types). */
interface SwapExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  swap16: Swap;
  swap32: Swap;
  swap64: Swap;
  gather16: Gather;
  gather32: Gather;
  gather64: Gather;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: SwapExports };
};

const PAGE_BYTES = 64 * 1024;
/** Buffers start on cache-line boundaries (which also aligns every typed-array view). */
const ALIGN = 64;

let compiled: object | null | undefined;

/** The byte-swap module, compiled on first use; null when this runtime lacks WebAssembly SIMD. */
function swapModule(): object | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(BYTE_SWAP_WASM_BASE64, 'base64');
    compiled =
      typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Arena memory (the ArrayBuffer of a live instance) to that instance's exports. */
const instances = new WeakMap<ArrayBufferLike, SwapExports>();

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkElements(byteLength: number, elementSize: number): void {
  if (byteLength % elementSize !== 0)
    throw new RangeError(`${byteLength} bytes are not a whole number of ${elementSize}-byte elements`);
}

/**
 * Big-endian bytes to host order (or back), in place. Bytes in a SwapArena
 * are swapped with WebAssembly SIMD (4-byte elements: about 4x
 * Buffer.swap32), any others with Buffer.swap16/32/64.
 */
export function swapToNative(bytes: Uint8Array, elementSize: number): void {
  checkElements(bytes.byteLength, elementSize);
  if (!littleEndianHost || elementSize === 1) return;
  const wasm = instances.get(bytes.buffer);
  if (wasm) {
    const swap = elementSize === 2 ? wasm.swap16 : elementSize === 4 ? wasm.swap32 : wasm.swap64;
    swap(bytes.byteOffset, bytes.byteLength);
    return;
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (elementSize === 2) buf.swap16();
  else if (elementSize === 4) buf.swap32();
  else buf.swap64();
}

/**
 * Moves `count` runs of `run` bytes, the first at `src` and each `step` bytes
 * after the previous one, to lie back to back from `dst` (offsets into
 * `bytes`, `dst <= src`: a forward move in place), and swaps them to host
 * order. In a SwapArena both happen in one pass.
 */
export function gatherToNative(
  bytes: Uint8Array,
  dst: number,
  src: number,
  run: number,
  step: number,
  count: number,
  elementSize: number,
): void {
  checkElements(run, elementSize);
  if (count <= 0) return;
  if (dst > src || step < run || src + (count - 1) * step + run > bytes.length)
    throw new RangeError(
      `${count} runs of ${run} bytes every ${step} from ${src} to ${dst} in ${bytes.length}`,
    );
  const wasm = littleEndianHost && elementSize > 1 ? instances.get(bytes.buffer) : undefined;
  if (wasm) {
    const gather = elementSize === 2 ? wasm.gather16 : elementSize === 4 ? wasm.gather32 : wasm.gather64;
    gather(bytes.byteOffset + dst, bytes.byteOffset + src, run, step, count);
    return;
  }
  for (let r = 0, from = src, to = dst; r < count; r++, from += step, to += run) {
    if (from === to) continue;
    // For short runs copyWithin's call costs more than the copy.
    if (run >= 32) bytes.copyWithin(to, from, from + run);
    else for (let i = 0; i < run; i++) bytes[to + i] = bytes[from + i] as number;
  }
  swapToNative(bytes.subarray(dst, dst + count * run), elementSize);
}

/**
 * Moves `count` runs of `run` bytes, the first at `src` and each `step` bytes
 * after the previous one, to lie back to back from `dst` (`dst <= src`: a
 * forward move in place), keeping their byte order: the gather of
 * gatherToNative without the swap, for bytes that leave as they are stored.
 */
export function gather(
  bytes: Uint8Array,
  dst: number,
  src: number,
  run: number,
  step: number,
  count: number,
): void {
  if (count <= 0) return;
  if (dst > src || step < run || src + (count - 1) * step + run > bytes.length)
    throw new RangeError(
      `${count} runs of ${run} bytes every ${step} from ${src} to ${dst} in ${bytes.length}`,
    );
  if (run >= 32 || dst === src) {
    for (let r = 0, from = src, to = dst; r < count; r++, from += step, to += run)
      if (from !== to) bytes.copyWithin(to, from, from + run);
    return;
  }
  // Short runs: copyWithin's call costs more than the copy, so move the widest words that divide everything.
  const w = [4, 2].find((n) => (bytes.byteOffset | dst | src | run | step) % n === 0) ?? 1;
  const words =
    w === 4
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
      : w === 2
        ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 1)
        : bytes;
  const n = run / w;
  const stepW = step / w;
  for (let r = 0, from = src / w, to = dst / w; r < count; r++, from += stepW, to += n)
    for (let i = 0; i < n; i++) words[to + i] = words[from + i] as number;
}

/**
 * Instances whose arenas were released, for later arenas: a fresh
 * WebAssembly memory is new mmap'd pages, and faulting them in costs more
 * than reading a few MB from the page cache (3 MiB: ~3 ms against ~0.2 ms
 * for malloc'd memory that was used before).
 */
const idle: SwapExports[] = [];
/** Released memory kept for reuse, at most (the rest is left to the GC). */
const IDLE_BYTES = 16 * 1024 * 1024;

function takeInstance(module: object, bytes: number): SwapExports {
  let best = -1;
  for (const [i, inst] of idle.entries()) {
    const size = inst.memory.buffer.byteLength;
    if (size >= bytes && (best < 0 || size < (idle[best] as SwapExports).memory.buffer.byteLength)) best = i;
  }
  if (best >= 0) return idle.splice(best, 1)[0] as SwapExports;
  const exports = new WebAssembly.Instance(module).exports;
  exports.memory.grow(Math.max(0, Math.ceil(bytes / PAGE_BYTES) - 1));
  instances.set(exports.memory.buffer, exports);
  return exports;
}

/**
 * A fixed set of equal buffers whose bytes swapToNative and gatherToNative
 * convert at SIMD speed: views into one WebAssembly memory that never grows
 * (growing would detach the views), reused by later arenas once released.
 * Where WebAssembly SIMD is unavailable, or with `wasm: false`, the buffers
 * are plain memory and the conversions Buffer's swaps.
 */
export class SwapArena {
  /** `count` buffers of `bufferBytes` each, 64-byte aligned. */
  readonly buffers: readonly Uint8Array[];
  private instance: SwapExports | undefined;

  constructor(count: number, bufferBytes: number, options: { wasm?: boolean } = {}) {
    const module = options.wasm === false ? null : swapModule();
    const stride = Math.ceil(bufferBytes / ALIGN) * ALIGN;
    this.instance = module ? takeInstance(module, count * stride) : undefined;
    const memory = this.instance?.memory.buffer ?? Buffer.allocUnsafeSlow(count * stride).buffer;
    this.buffers = Array.from({ length: count }, (_, i) => new Uint8Array(memory, i * stride, bufferBytes));
  }

  /** True when the buffers are WebAssembly memory. */
  get wasm(): boolean {
    return this.buffers[0] !== undefined && instances.has(this.buffers[0].buffer);
  }

  /** Lets later arenas reuse the memory: the buffers must not be used after this. */
  release(): void {
    const instance = this.instance;
    this.instance = undefined;
    if (!instance) return;
    const idleBytes = idle.reduce((sum, inst) => sum + inst.memory.buffer.byteLength, 0);
    if (idleBytes + instance.memory.buffer.byteLength <= IDLE_BYTES) idle.push(instance);
  }
}
