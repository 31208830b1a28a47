import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Paces reads to an average of `bytesPerSecond` over every caller sharing the
 * pacer (the checksum workers of one process): each read reserves its bytes on
 * a timeline and waits until its slot. `bytesPerSecond` 0 means unpaced.
 */
export class ReadPacer {
  /** When (ms since epoch) the next reservation may start. */
  private next = 0;

  constructor(private readonly bytesPerSecond: number) {}

  /** Reserves `bytes` at `now`; returns how many ms to wait before reading them. */
  reserve(bytes: number, now: number): number {
    if (this.bytesPerSecond <= 0) return 0;
    const start = Math.max(this.next, now);
    this.next = start + (bytes * 1000) / this.bytesPerSecond;
    return start - now;
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(bytes, Date.now());
    if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {});
  }
}
