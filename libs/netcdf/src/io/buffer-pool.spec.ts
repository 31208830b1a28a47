import { BufferLenderClosedError, BufferPool } from './buffer-pool';

describe('BufferPool and BufferLender', () => {
  it('lends at most maxHeld buffers, hands a released one to the next waiter, and reuses them', async () => {
    const pool = new BufferPool(16, 4);
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

  it('returns a closed stream’s buffers to the pool as they come back, keeping at most maxIdle', async () => {
    const pool = new BufferPool(16, 2);
    const lender = pool.lender(3);
    const held = [await lender.acquire(), await lender.acquire(), await lender.acquire()];
    lender.release(held[0] as Buffer);
    lender.close();
    expect(pool.idleCount).toBe(1);
    lender.release(held[1] as Buffer);
    lender.release(held[2] as Buffer);
    expect(pool.idleCount).toBe(2);
    // The next stream starts with buffers that are already there.
    const next = await pool.lender(1).acquire();
    expect([held[0]?.buffer, held[1]?.buffer]).toContain(next.buffer);
  });

  it('wakes a reader waiting for a buffer when the stream is closed, and refuses later requests', async () => {
    const lender = new BufferPool(16, 2).lender(1);
    await lender.acquire();
    const waiting = lender.acquire();
    lender.close();
    await expect(waiting).rejects.toBeInstanceOf(BufferLenderClosedError);
    await expect(lender.acquire()).rejects.toBeInstanceOf(BufferLenderClosedError);
  });
});
