import type { Writable } from 'node:stream';
import type { BufferLender } from '@climcat/netcdf';

/**
 * Shares the event loop between all streamed answers of the process and
 * everything else it serves (the catalog API runs in the same process): at
 * most `budget` bytes are handed to sockets per event-loop turn, the first
 * writer of a turn always goes, the others wait for the next turn in arrival
 * order. A socket write copies its bytes into the kernel on the main thread,
 * so without this 16 streams whose reads completed together would write 16
 * chunks in one turn and hold every other request for all of them.
 */
export class TurnGate {
  private used = 0;
  private scheduled = false;
  private readonly queue: { bytes: number; go: () => void }[] = [];

  constructor(readonly budget: number) {}

  /** Undefined when `bytes` may be written now; otherwise a promise for the turn they may. */
  pass(bytes: number): Promise<void> | undefined {
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

/** Bytes written to sockets per event-loop turn by all streams together (~0.3 ms of copying). */
const BYTES_PER_TURN = 1024 * 1024;
/** Largest single write: what one stream may still have queued when its socket is full. */
export const WRITE_SLICE_BYTES = 512 * 1024;

const gate = new TurnGate(BYTES_PER_TURN);

/** A streamed answer: its chunks, the lender of the ones that are borrowed, and what to close. */
export interface StreamedAnswer {
  chunks: AsyncGenerator<Buffer>;
  /** Chunks that are views of its buffers go back to it once written. */
  lender?: BufferLender;
  /** Stops reading and gives the file back; idempotent. */
  close(): Promise<void>;
}

/** Writes `chunk` and resolves true once the sink is done with its bytes, false if the sink closed first. */
function write(sink: Writable, chunk: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    sink.once('close', onClose);
    sink.write(chunk, (error) => {
      sink.off('close', onClose);
      resolve(!error);
    });
  });
}

/**
 * Writes an answer's chunks to `sink` (a raw HTTP response or a compressor
 * in front of one) and ends it: each chunk in slices through the turn gate,
 * one slice in flight at a time (the socket's own buffer keeps the pipe full),
 * a borrowed chunk released once its last slice is written. When the sink
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
  try {
    for (;;) {
      if (gone) return {};
      const next = await answer.chunks.next();
      if (next.done) break;
      const chunk = next.value;
      for (let at = 0; at < chunk.length && !gone; at += WRITE_SLICE_BYTES) {
        const slice = chunk.subarray(at, Math.min(chunk.length, at + WRITE_SLICE_BYTES));
        const wait = gate.pass(slice.length);
        if (wait) await wait;
        if (gone || !(await write(sink, slice))) {
          gone = true;
          break;
        }
        onWritten(slice.length);
      }
      // Written (or never to be written by a closed sink, which keeps no reference we reuse).
      if (!gone) answer.lender?.release(chunk);
    }
    sink.end();
    return {};
  } catch (error) {
    // A read that failed after the answer started: nothing to do but cut it short.
    if (!gone) sink.destroy(error instanceof Error ? error : new Error(String(error)));
    return gone ? {} : { error };
  } finally {
    sink.off('close', onClose);
    await answer.close();
  }
}
