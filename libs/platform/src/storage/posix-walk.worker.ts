/**
 * The listing worker: runs POSIX walks for the thread that started it, each
 * sending chunks of files as it goes and pausing when CHUNKS_AHEAD of them
 * are not yet taken.
 */
import { parentPort } from 'node:worker_threads';
import { walk, type WalkedFile } from './posix-walk';
import type { WalkFailure, WalkReply, WalkRequest } from './posix-walk.protocol';

/** Files per message: a message costs ~10 µs on each side, a file ~1 µs. */
const CHUNK_FILES = 1024;
/** Chunks sent and not yet taken: the walk runs ahead of its consumer by at most this many. */
const CHUNKS_AHEAD = 4;

interface Walk {
  credit: number;
  stopped: boolean;
  resume?: () => void;
}

const walks = new Map<number, Walk>();

function post(reply: WalkReply): void {
  parentPort?.postMessage(reply);
}

async function send(id: number, state: Walk, files: WalkedFile[]): Promise<void> {
  while (state.credit === 0 && !state.stopped) await new Promise<void>((resolve) => (state.resume = resolve));
  if (state.stopped) return;
  state.credit--;
  post({
    type: 'chunk',
    id,
    paths: files.map((f) => f.path),
    sizes: Float64Array.from(files, (f) => f.size),
    mtimes: files.map((f) => f.mtime),
  });
}

function failureOf(error: unknown): WalkFailure {
  const e = error as NodeJS.ErrnoException;
  return {
    message: e instanceof Error ? e.message : String(error),
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    ...(e.syscall !== undefined ? { syscall: e.syscall } : {}),
    ...(e.path !== undefined ? { path: e.path } : {}),
  };
}

async function run(id: number, base: string, relative: string): Promise<void> {
  const state: Walk = { credit: CHUNKS_AHEAD, stopped: false };
  walks.set(id, state);
  let chunk: WalkedFile[] = [];
  try {
    for await (const batch of walk(base, relative)) {
      for (const file of batch) chunk.push(file);
      if (chunk.length >= CHUNK_FILES) {
        await send(id, state, chunk);
        chunk = [];
      }
      // Leaving the loop returns the walk, which stops its reads.
      if (state.stopped) return;
    }
    if (chunk.length) await send(id, state, chunk);
    if (!state.stopped) post({ type: 'end', id });
  } catch (error) {
    // What was found before the failure first: the listing fails where the walk did.
    if (chunk.length) await send(id, state, chunk);
    if (!state.stopped) post({ type: 'error', id, error: failureOf(error) });
  } finally {
    walks.delete(id);
  }
}

parentPort?.on('message', (request: WalkRequest) => {
  if (request.type === 'start') {
    void run(request.id, request.base, request.relative);
    return;
  }
  const state = walks.get(request.id);
  if (!state) return;
  if (request.type === 'more') state.credit++;
  else state.stopped = true;
  state.resume?.();
  state.resume = undefined;
});
