import { BufferLenderClosedError, BufferPool } from './buffer-pool';

describe('BufferPool and BufferLender', () => {
  it('lends at most maxHeld buffers, hands a released one to the next waiter, and reuses them', async () => {
    const pool = new BufferPool(16);
    const lender = pool.lender(2);
    const a = await lender.acquire();
    const b = await lender.acquire();
    expect(a.buffer).not.toBe(b.buffer);
    let third: Buffer | undefined;
    const waiting = lender.acquire().then((buffer) => (third = buffer));
    await new Promise((r) => setImmediate(r));
    expect(third).toBeUndefined();
    // Any view of a lent buffer gives it back; unknown memory is not the lender's.
    expect(lender.release(Buffer.alloc(16))).toBe(false);
    expect(lender.release(a.subarray(4, 8))).toBe(true);
    await waiting;
    expect(third?.buffer).toBe(a.buffer);
  });

  it('returns a closed stream’s buffers to the pool as they come back, for the next stream', async () => {
    const pool = new BufferPool(16);
    const lender = pool.lender(3);
    const held = [await lender.acquire(), await lender.acquire(), await lender.acquire()];
    lender.release(held[0] as Buffer);
    lender.close();
    expect(pool.idleCount).toBe(1);
    lender.release(held[1] as Buffer);
    lender.release(held[2] as Buffer);
    expect(pool.idleCount).toBe(3);
    // The next stream starts with buffers that are already there.
    const next = await pool.lender(1).acquire();
    expect(held.map((b) => b?.buffer)).toContain(next.buffer);
  });

  it('cuts buffers from slabs and frees the slabs nothing is lent from once the pool is idle', async () => {
    const idleMs = 40;
    const pool = new BufferPool(16, { slabBytes: 64, idleMs });
    expect(pool.buffersPerSlab).toBe(4);
    const first = pool.lender(3);
    const a = [await first.acquire(), await first.acquire(), await first.acquire()];
    const second = pool.lender(3);
    const b = [await second.acquire(), await second.acquire()];
    expect(pool.slabCount).toBe(2);
    // Four buffers of one slab, each its own 16 bytes of it.
    const one = a.concat(b[0] as Buffer);
    expect(new Set(one.map((x) => x.buffer)).size).toBe(1);
    expect(one.map((x) => x.byteOffset).sort((x, y) => x - y)).toEqual([0, 16, 32, 48]);
    expect(one.every((x) => x.length === 16)).toBe(true);
    // A view of a buffer releases that buffer, not its neighbours.
    expect(first.release((a[1] as Buffer).subarray(3, 9))).toBe(true);
    expect(first.release((a[1] as Buffer).subarray(3, 9))).toBe(false);
    for (const x of [a[0], a[2]]) first.release(x as Buffer);
    first.close();
    // The second stream never gives b[1] back (its socket was destroyed mid-write): closed, it
    // does not keep the second slab alive; b[0] comes back.
    second.release(b[0] as Buffer);
    second.close();
    expect(pool.slabCount).toBe(2);
    await new Promise((r) => setTimeout(r, idleMs / 4));
    // Still within idleMs: the next stream reuses the memory already there.
    const third = pool.lender(1);
    const again = await third.acquire();
    expect(again.buffer).toBe(a[0]?.buffer);
    await new Promise((r) => setTimeout(r, idleMs * 2));
    // The first slab is still lent from; the second is freed (its abandoned buffer with it).
    expect(pool.slabCount).toBe(1);
    expect(pool.idleCount).toBe(3);
    third.release(again);
    third.close();
    await new Promise((r) => setTimeout(r, idleMs * 2));
    expect(pool.slabCount).toBe(0);
    expect(pool.idleCount).toBe(0);
    // A late release of a freed slab's buffer is ignored, and the next stream gets fresh memory.
    expect(second.release(b[1] as Buffer)).toBe(false);
    const fresh = await pool.lender(1).acquire();
    expect([a[0]?.buffer, b[1]?.buffer]).not.toContain(fresh.buffer);
    expect(pool.slabCount).toBe(1);
  });

  it('wakes a reader waiting for a buffer when the stream is closed, and refuses later requests', async () => {
    const lender = new BufferPool(16).lender(1);
    await lender.acquire();
    const waiting = lender.acquire();
    lender.close();
    await expect(waiting).rejects.toBeInstanceOf(BufferLenderClosedError);
    await expect(lender.acquire()).rejects.toBeInstanceOf(BufferLenderClosedError);
  });
});
