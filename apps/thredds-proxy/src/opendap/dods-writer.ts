import type { Writable } from 'node:stream';
import type { BufferLender } from '@climcat/netcdf';

/**
 * Shares the event loop between all streamed answers of the process and
 * everything else it serves (the catalog API runs in the same process): at
 * most `budget` bytes are handed to sockets per event-loop turn, the first
 * writer of a turn always goes, the others wait for the next turn in arrival
 * order. A socket write copies its bytes into the kernel on the main thread,
 * so without this 16 streams whose reads completed together would write 16
 * chunks in one turn and hold every other request for all of them. A stream
 * alone is not held back: waiting a turn per `budget` would only slow it, and
 * other requests get the loop whenever its socket is full or its next read is due.
 */
export class TurnGate {
  private used = 0;
  private scheduled = false;
  private readonly queue: { bytes: number; go: () => void }[] = [];
  private streams = 0;

  constructor(readonly budget: number) {}

  /** A stream starts writing through the gate (leave() when it is done). */
  enter(): void {
    this.streams++;
  }

  leave(): void {
    this.streams--;
  }

  /** Undefined when `bytes` may be written now; otherwise a promise for the turn they may. */
  pass(bytes: number): Promise<void> | undefined {
    if (this.streams <= 1 && this.queue.length === 0) return undefined;
    if (this.queue.length === 0 && (this.used === 0 || this.used + bytes <= this.budget)) {
      this.used += bytes;
      this.schedule();
      return undefined;
    }
    return new Promise((go) => {
      this.queue.push({ bytes, go });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: the next turn comes after the poll phase, where other requests' I/O is handled.
    setImmediate(this.nextTurn);
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.used = 0;
    for (
      let w = this.queue[0];
      w && (this.used === 0 || this.used + w.bytes <= this.budget);
      w = this.queue[0]
    ) {
      this.queue.shift();
      this.used += w.bytes;
      w.go();
    }
    if (this.used > 0 || this.queue.length > 0) this.schedule();
  };
}

/**
 * Bytes written to sockets per event-loop turn by all streams together (~0.3 ms of
 * copying into loopback sockets): a short request waits for about that much per turn it needs.
 */
const BYTES_PER_TURN = 512 * 1024;
/** Largest write (one group of views): what one stream may still have queued when its socket is full. */
export const WRITE_SLICE_BYTES = 256 * 1024;

const gate = new TurnGate(BYTES_PER_TURN);

/** A streamed answer: its chunks, the lender of the ones that are borrowed, and what to close. */
export interface StreamedAnswer {
  /** Buffers, or arrays of views of one block (encodeDodsParts), to write in order. */
  chunks: AsyncGenerator<Buffer | Buffer[]>;
  /** Chunks that are views of its buffers go back to it once written. */
  lender?: BufferLender;
  /** Stops reading and gives the file back; idempotent. */
  close(): Promise<void>;
}

/** Writes `parts` in order and resolves true once the sink is done with their bytes, false if the sink closed first. */
function writeAll(sink: Writable, parts: readonly Buffer[]): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    sink.once('close', onClose);
    // Written in one go (an HTTP response batches the writes of one tick into one vectored write);
    // callbacks come in order, so the last one's says all are done.
    for (let i = 0; i < parts.length - 1; i++) sink.write(parts[i]);
    sink.write(parts[parts.length - 1], (error) => {
      sink.off('close', onClose);
      resolve(!error);
    });
  });
}

/**
 * Writes an answer's chunks to `sink` (a raw HTTP response or a compressor
 * in front of one) and ends it: each chunk (or array of views of one block)
 * in groups of up to {@link WRITE_SLICE_BYTES} through the turn gate, one
 * group in flight at a time (the socket's own buffer keeps the pipe full),
 * a borrowed chunk released once its last group is written. When the sink
 * closes early (client gone, time limit) it stops at once: the reader waiting
 * for a buffer is woken, no more is read, and the file is given back.
 * Never throws: a failure mid-stream can only cut the answer short.
 */
export async function pumpAnswer(
  answer: StreamedAnswer,
  sink: Writable,
  onWritten: (bytes: number) => void = () => undefined,
): Promise<{ error?: unknown }> {
  let gone = sink.destroyed;
  const onClose = () => {
    gone = true;
    // Wakes a read waiting for a buffer that a destroyed socket will never give back.
    answer.lender?.close();
  };
  sink.once('close', onClose);
  gate.enter();
  let group: Buffer[] = [];
  let groupBytes = 0;
  const flush = async (): Promise<void> => {
    const wait = gate.pass(groupBytes);
    if (wait) await wait;
    if (gone || !(await writeAll(sink, group))) gone = true;
    else onWritten(groupBytes);
    group = [];
    groupBytes = 0;
  };
  try {
    for (;;) {
      if (gone) return {};
      const next = await answer.chunks.next();
      if (next.done) break;
      const parts = Array.isArray(next.value) ? next.value : [next.value];
      for (const part of parts)
        for (let at = 0; at < part.length && !gone; at += WRITE_SLICE_BYTES) {
          const slice = part.subarray(at, Math.min(part.length, at + WRITE_SLICE_BYTES));
          if (groupBytes > 0 && groupBytes + slice.length > WRITE_SLICE_BYTES) await flush();
          group.push(slice);
          groupBytes += slice.length;
        }
      if (groupBytes > 0 && !gone) await flush();
      // Written (or never to be written by a closed sink, which keeps no reference we reuse).
      if (!gone && parts[0]) answer.lender?.release(parts[0]);
    }
    sink.end();
    return {};
  } catch (error) {
    // A read that failed after the answer started: nothing to do but cut it short.
    if (!gone) sink.destroy(error instanceof Error ? error : new Error(String(error)));
    return gone ? {} : { error };
  } finally {
    gate.leave();
    sink.off('close', onClose);
    await answer.close();
  }
}
