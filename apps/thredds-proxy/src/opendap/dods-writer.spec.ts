import { Writable } from 'node:stream';
import { BufferPool } from '@climcat/netcdf';
import { pumpAnswer, TurnGate, WRITE_SLICE_BYTES, type StreamedAnswer } from './dods-writer';

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('TurnGate', () => {
  it('lets the first writer of a turn go, queues what exceeds the budget, and lets it go next turn in order', async () => {
    const gate = new TurnGate(100);
    // Two streams share it.
    gate.enter();
    gate.enter();
    expect(gate.pass(80)).toBeUndefined();
    expect(gate.pass(20)).toBeUndefined();
    const order: string[] = [];
    const a = gate.pass(60)?.then(() => order.push('a'));
    const b = gate.pass(60)?.then(() => order.push('b'));
    // Even a write that would fit waits behind the queue.
    const c = gate.pass(1)?.then(() => order.push('c'));
    expect([a, b, c].every((p) => p instanceof Promise)).toBe(true);
    await nextTurn();
    expect(order).toEqual(['a']);
    // The next turn: b, and c which fits beside it.
    await nextTurn();
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('never holds a stream that is alone, and holds it again once another comes', async () => {
    const gate = new TurnGate(100);
    gate.enter();
    expect([gate.pass(80), gate.pass(80), gate.pass(80)]).toEqual([undefined, undefined, undefined]);
    gate.enter();
    expect(gate.pass(80)).toBeUndefined();
    const queued = gate.pass(80);
    expect(queued).toBeInstanceOf(Promise);
    gate.leave();
    // Alone again, but behind the write already queued.
    expect(gate.pass(80)).toBeInstanceOf(Promise);
    await nextTurn();
    await nextTurn();
    expect([gate.pass(80), gate.pass(80)]).toEqual([undefined, undefined]);
  });
});

/** A sink that records what it was given and finishes each write only when told to. */
class SlowSink extends Writable {
  readonly got: Buffer[] = [];
  private pending: (() => void)[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.got.push(Buffer.from(chunk));
    this.pending.push(done);
  }
  flush(): void {
    for (const done of this.pending.splice(0)) done();
  }
  /** Writes received and not yet finished. */
  get waiting(): number {
    return this.pending.length;
  }
}

function answerOf(chunks: Buffer[], lender?: StreamedAnswer['lender']) {
  let closed = 0;
  const answer: StreamedAnswer = {
    chunks: (async function* () {
      yield* chunks;
    })(),
    lender,
    close: async () => {
      closed++;
    },
  };
  return { answer, closed: () => closed };
}

describe('pumpAnswer', () => {
  it('writes every chunk in slices, releases a lent buffer only once its writes are done, then ends', async () => {
    const lender = new BufferPool(WRITE_SLICE_BYTES * 2 + 10).lender(1);
    const lent = await lender.acquire();
    lent.fill(7);
    const { answer, closed } = answerOf([Buffer.from('head'), lent], lender);
    const sink = new SlowSink();
    let written = 0;
    const done = pumpAnswer(answer, sink, (n) => (written += n));
    let second: Buffer | undefined;
    void lender.acquire().then((b) => (second = b));
    for (let i = 0; i < 10; i++) {
      await nextTurn();
      // Not given back while its slices are still being written.
      expect(second).toBeUndefined();
      sink.flush();
      if (sink.got.length === 4) break;
    }
    await done;
    expect(sink.got.map((b) => b.length)).toEqual([4, WRITE_SLICE_BYTES, WRITE_SLICE_BYTES, 10]);
    expect(written).toBe(4 + lent.length);
    expect(second?.buffer).toBe(lent.buffer);
    expect(sink.writableEnded).toBe(true);
    expect(closed()).toBe(1);
  });

  it('writes the views of one block in groups up to a slice, and releases their buffer after the last', async () => {
    const run = WRITE_SLICE_BYTES / 2 - 8;
    const lender = new BufferPool(4 * (run + 8)).lender(1);
    const lent = await lender.acquire();
    for (let i = 0; i < 4; i++) lent.fill(i, i * (run + 8), (i + 1) * (run + 8));
    // Records of `run` bytes, each after 8 bytes of something else.
    const views = [0, 1, 2, 3].map((i) => lent.subarray(i * (run + 8) + 8, (i + 1) * (run + 8)));
    const { answer } = answerOf([], lender);
    answer.chunks = (async function* () {
      yield views;
    })();
    const sink = new SlowSink();
    let written = 0;
    const done = pumpAnswer(answer, sink, (n) => (written += n));
    let second: Buffer | undefined;
    void lender.acquire().then((b) => (second = b));
    for (let i = 0; i < 10; i++) {
      await nextTurn();
      // Not given back while any of its views is still being written.
      expect(second).toBeUndefined();
      sink.flush();
      if (sink.got.length === 4 && sink.waiting === 0) break;
    }
    await done;
    // Each view as it was, in order (two to a group: they fit in a slice together).
    expect(sink.got.map((b) => [b.length, b[0]])).toEqual([0, 1, 2, 3].map((i) => [run, i]));
    expect(written).toBe(4 * run);
    expect(second?.buffer).toBe(lent.buffer);
  });

  it('stops at once when the sink closes early and still gives the answer back', async () => {
    const { answer, closed } = answerOf([Buffer.alloc(10), Buffer.alloc(10), Buffer.alloc(10)]);
    const sink = new SlowSink();
    const done = pumpAnswer(answer, sink);
    await nextTurn();
    expect(sink.got).toHaveLength(1);
    sink.destroy();
    expect(await done).toEqual({});
    expect(sink.got).toHaveLength(1);
    expect(closed()).toBe(1);
  });
});
