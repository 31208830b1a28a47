/**
 * Read buffers reused across streamed answers. A buffer handed to a socket
 * must not be overwritten until the socket has written it, and a fresh
 * multi-MiB buffer per chunk costs page faults and garbage collection
 * (measured: most of a 16-stream `.dods` run's CPU). So a stream borrows a
 * few buffers through a {@link BufferLender}, gives each back when the
 * socket's write callback says it is done, and reads into it again.
 *
 * Buffers are cut from slabs, and a slab none of whose buffers is lent is
 * freed once the pool has lent nothing for `idleMs`, so a burst of streams
 * does not leave its memory resident. Freeing separate 2 MiB buffers does
 * not give the memory back: once glibc has freed one mmap'ed chunk it raises
 * its mmap threshold and serves later chunks of that size from the heap,
 * which it keeps (measured: 48 × 2 MiB freed, RSS unchanged). Chunks of 32 MiB
 * and more are always mmap'ed, and unmapped when freed, so `slabBytes` should
 * be above that where the memory is meant to come back.
 */
interface Slab {
  /** Every buffer of the slab, by index. */
  readonly buffers: readonly Buffer[];
  /** Buffers waiting to be taken (last given, first taken: their pages are the warmest). */
  readonly free: Buffer[];
  /** Buffers a closed lender never got back (a socket destroyed with writes pending): never reused. */
  readonly abandoned: Set<Buffer>;
}

export interface BufferPoolOptions {
  /** Bytes per slab, rounded up to whole buffers (default one buffer per slab). */
  slabBytes?: number;
  /** A slab with nothing lent is freed once the pool has lent nothing for this long (default 10 s). */
  idleMs?: number;
  /** Slabs in SharedArrayBuffers, so a worker thread can read into them (io/pread-worker.ts). */
  shared?: boolean;
}

export class BufferPool {
  readonly buffersPerSlab: number;
  private readonly idleMs: number;
  readonly shared: boolean;
  /** By the slab's memory, oldest first (taken from first, so later slabs empty out). */
  private readonly slabs = new Map<ArrayBufferLike, Slab>();
  private lastTake = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly bufferBytes: number,
    options: BufferPoolOptions = {},
  ) {
    this.buffersPerSlab = Math.max(1, Math.ceil((options.slabBytes ?? bufferBytes) / bufferBytes));
    this.idleMs = options.idleMs ?? 10_000;
    this.shared = options.shared ?? false;
  }

  /** A buffer of `bufferBytes`, old contents included. */
  take(): Buffer {
    this.lastTake = performance.now();
    for (const slab of this.slabs.values()) {
      const buffer = slab.free.pop();
      if (buffer) return buffer;
    }
    // Its own ArrayBuffer (not Buffer's shared slab): the memory identifies the slab.
    const bytes = this.buffersPerSlab * this.bufferBytes;
    const memory = this.shared ? Buffer.from(new SharedArrayBuffer(bytes)) : Buffer.allocUnsafeSlow(bytes);
    const buffers = Array.from({ length: this.buffersPerSlab }, (_, i) =>
      memory.subarray(i * this.bufferBytes, (i + 1) * this.bufferBytes),
    );
    // Reversed: the lowest buffers are taken first, so a slab's untouched pages stay unmapped.
    const slab: Slab = { buffers, free: buffers.slice(1).reverse(), abandoned: new Set() };
    this.slabs.set(memory.buffer, slab);
    return buffers[0] as Buffer;
  }

  /** The pooled buffer `view` lies in, if any. */
  owner(view: Uint8Array): Buffer | undefined {
    const slab = this.slabs.get(view.buffer);
    return slab?.buffers[Math.floor(view.byteOffset / this.bufferBytes)];
  }

  /** Takes back a buffer of this pool (a buffer of a slab already freed is dropped). */
  give(buffer: Buffer): void {
    const slab = this.slabs.get(buffer.buffer);
    if (!slab || slab.buffers[buffer.byteOffset / this.bufferBytes] !== buffer) return;
    slab.abandoned.delete(buffer);
    slab.free.push(buffer);
    this.arm();
  }

  /** A lent buffer that may never come back: it no longer keeps its slab from being freed. */
  abandon(buffer: Buffer): void {
    const slab = this.slabs.get(buffer.buffer);
    if (!slab) return;
    slab.abandoned.add(buffer);
    this.arm();
  }

  /** Buffers waiting for a stream (diagnostics, tests). */
  get idleCount(): number {
    let n = 0;
    for (const slab of this.slabs.values()) n += slab.free.length;
    return n;
  }

  /** Slabs allocated and not yet freed (diagnostics, tests). */
  get slabCount(): number {
    return this.slabs.size;
  }

  /** A lender for one stream, holding at most `maxHeld` buffers of this pool at once. */
  lender(maxHeld: number): BufferLender {
    return new BufferLender(this, maxHeld);
  }

  private unused(slab: Slab): boolean {
    return slab.free.length + slab.abandoned.size === this.buffersPerSlab;
  }

  private arm(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastTake + this.idleMs - performance.now());
    // Unref'd: a pool waiting to shrink does not keep the process alive.
    this.timer = setTimeout(this.shrink, wait).unref();
  }

  private readonly shrink = (): void => {
    this.timer = undefined;
    if (performance.now() - this.lastTake < this.idleMs) {
      // Lent again meanwhile: look again once that is idleMs old.
      this.arm();
      return;
    }
    for (const [memory, slab] of this.slabs) if (this.unused(slab)) this.slabs.delete(memory);
  };
}

/**
 * One stream's share of a {@link BufferPool}: at most `maxHeld` buffers at
 * once, so the bytes a stream has read but not yet written are bounded.
 * `acquire` waits while all of them are out; `release` takes any view of a
 * lent buffer (other buffers are ignored, so a consumer can release every
 * chunk it was given).
 */
export class BufferLender {
  private readonly free: Buffer[] = [];
  private readonly lent = new Set<Buffer>();
  private readonly waiting: { resolve: (buffer: Buffer) => void; reject: (error: Error) => void }[] = [];
  private held = 0;
  private closed = false;

  constructor(
    private readonly pool: BufferPool,
    readonly maxHeld: number,
  ) {}

  get bufferBytes(): number {
    return this.pool.bufferBytes;
  }

  /** Whether the buffers lie in shared memory (a worker thread can fill them). */
  get shared(): boolean {
    return this.pool.shared;
  }

  /**
   * A buffer of `bufferBytes`; waits for a release when `maxHeld` are out.
   * Rejects once the lender is closed, so a reader waiting for a buffer of
   * a stream that ended (its client gone) stops instead of waiting forever.
   */
  acquire(): Promise<Buffer> {
    if (this.closed) return Promise.reject(new BufferLenderClosedError());
    const buffer = this.free.pop() ?? (this.held < this.maxHeld ? this.fresh() : undefined);
    if (buffer) {
      this.lent.add(buffer);
      return Promise.resolve(buffer);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Gives back the lent buffer `view` belongs to; true when it was one. */
  release(view: Uint8Array): boolean {
    const buffer = this.pool.owner(view);
    if (!buffer || !this.lent.delete(buffer)) return false;
    const next = this.waiting.shift();
    if (next && !this.closed) {
      this.lent.add(buffer);
      next.resolve(buffer);
    } else if (this.closed) {
      this.held--;
      this.pool.give(buffer);
    } else this.free.push(buffer);
    return true;
  }

  /**
   * The stream is over: free buffers go back to the pool, and so do lent
   * ones as they are released. Buffers never released (a socket destroyed
   * with writes pending) are never reused, and do not keep their slab from
   * being freed.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new BufferLenderClosedError());
    for (const buffer of this.free.splice(0)) {
      this.held--;
      this.pool.give(buffer);
    }
    for (const buffer of this.lent) this.pool.abandon(buffer);
  }

  private fresh(): Buffer {
    this.held++;
    return this.pool.take();
  }
}

/** What a read waiting for a buffer gets when its stream was closed meanwhile. */
export class BufferLenderClosedError extends Error {
  constructor() {
    super('the stream reading into these buffers was closed');
    this.name = 'BufferLenderClosedError';
  }
}
