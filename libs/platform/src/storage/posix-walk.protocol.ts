/** Messages between StorageService's POSIX listings and the listing worker thread. */

/** To the worker. `start` begins a walk; each `more` lets it send one chunk beyond those in flight. */
export type WalkRequest =
  | { type: 'start'; id: number; base: string; relative: string }
  | { type: 'more'; id: number }
  | { type: 'stop'; id: number };

/**
 * From the worker: files as columns (a structured clone of three arrays costs
 * a fraction of one object per file), then `end` or `error`, in walk order.
 */
export type WalkReply =
  | { type: 'chunk'; id: number; paths: string[]; sizes: Float64Array; mtimes: string[] }
  | { type: 'end'; id: number }
  | { type: 'error'; id: number; error: WalkFailure };

/** An error of the walk (an fs error's fields: Error's own do not cross threads). */
export interface WalkFailure {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}
