/**
 * Read buffers reused across streamed answers. A buffer handed to a socket
 * must not be overwritten until the socket has written it, and a fresh
 * multi-MiB buffer per chunk costs page faults and garbage collection
 * (measured: most of a 16-stream `.dods` run's CPU). So a stream borrows a
 * few buffers through a {@link BufferLender}, gives each back when the
 * socket's write callback says it is done, and reads into it again.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  /**
   * @param bufferBytes size of every buffer
   * @param maxIdle buffers kept for the next stream when none is lent (the rest go to the GC)
   */
  constructor(
    readonly bufferBytes: number,
    private readonly maxIdle: number,
  ) {}

  /** A buffer of `bufferBytes`, old contents included. */
  take(): Buffer {
    // Its own ArrayBuffer (not Buffer's shared slab): a view of it identifies the buffer.
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  give(buffer: Buffer): void {
    if (this.idle.length < this.maxIdle && buffer.byteLength === this.bufferBytes) this.idle.push(buffer);
  }

  /** Buffers waiting for a stream (diagnostics, tests). */
  get idleCount(): number {
    return this.idle.length;
  }

  /** A lender for one stream, holding at most `maxHeld` buffers of this pool at once. */
  lender(maxHeld: number): BufferLender {
    return new BufferLender(this, maxHeld);
  }
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
  private readonly lent = new Map<ArrayBufferLike, Buffer>();
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

  /**
   * A buffer of `bufferBytes`; waits for a release when `maxHeld` are out.
   * Rejects once the lender is closed, so a reader waiting for a buffer of
   * a stream that ended (its client gone) stops instead of waiting forever.
   */
  acquire(): Promise<Buffer> {
    if (this.closed) return Promise.reject(new BufferLenderClosedError());
    const buffer = this.free.pop() ?? (this.held < this.maxHeld ? this.fresh() : undefined);
    if (buffer) {
      this.lent.set(buffer.buffer, buffer);
      return Promise.resolve(buffer);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Gives back the lent buffer `view` belongs to; true when it was one. */
  release(view: Uint8Array): boolean {
    const buffer = this.lent.get(view.buffer);
    if (!buffer) return false;
    this.lent.delete(view.buffer);
    const next = this.waiting.shift();
    if (next && !this.closed) {
      this.lent.set(buffer.buffer, buffer);
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
   * with writes pending) are left to the GC, never reused.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new BufferLenderClosedError());
    for (const buffer of this.free.splice(0)) {
      this.held--;
      this.pool.give(buffer);
    }
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
