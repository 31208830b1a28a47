/**
 * Entry file of the HDF5 worker thread, started by h5-worker-client.ts.
 * h5wasm runs here, not in the service's event loop: a damaged file that
 * makes the HDF5 library abort, loop or allocate without bound only takes
 * this worker down, and the client replaces it.
 */
import fs from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { failureOf, H5Handler, loadH5wasm } from './h5-handler';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './h5-protocol';

const MAX_DIAGNOSTICS = 8192;

/**
 * HDF5 prints its error stack straight to fd 2 (NODERAWFS) and emscripten
 * reports aborts through console.error: keep the tail of both for the
 * failure message instead of spamming the service's stderr.
 */
function captureDiagnostics(): { take(): string; clear(): void } {
  let text = '';
  const keep = (more: string): void => {
    text = (text + more).slice(-MAX_DIAGNOSTICS);
  };
  const writeSync = fs.writeSync.bind(fs) as (...args: unknown[]) => number;
  (fs as { writeSync: unknown }).writeSync = (fd: number, data: unknown, ...rest: unknown[]): number => {
    if (fd !== 2) return writeSync(fd, data, ...rest);
    if (typeof data === 'string') {
      keep(data);
      return Buffer.byteLength(data);
    }
    // writeSync(fd, buffer, offset?, length?, position?): emscripten passes its whole heap.
    const bytes = data as Uint8Array;
    const offset = typeof rest[0] === 'number' ? rest[0] : 0;
    const length = typeof rest[1] === 'number' ? rest[1] : bytes.byteLength - offset;
    keep(Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(length, MAX_DIAGNOSTICS)).toString());
    return length;
  };
  console.error = (...args: unknown[]): void => keep(args.map(String).join(' ') + '\n');
  console.warn = console.error;
  return {
    take: () => text,
    clear: () => {
      text = '';
    },
  };
}

function serve(port: MessagePort, init: WorkerInit): void {
  const diagnostics = captureDiagnostics();
  let handler: Promise<H5Handler> | undefined;
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    queue = queue.then(async () => {
      diagnostics.clear();
      try {
        handler ??= loadH5wasm(init.h5wasmPath).then((h5) => new H5Handler(h5));
        const result = (await handler).handle(req);
        const transfer =
          ArrayBuffer.isView(result) &&
          result.byteOffset === 0 &&
          result.byteLength === result.buffer.byteLength
            ? [result.buffer as ArrayBuffer]
            : [];
        port.postMessage({ id: req.id, ok: true, result } satisfies WorkerResponse, transfer);
      } catch (err) {
        port.postMessage({
          id: req.id,
          ok: false,
          failure: failureOf(err, diagnostics.take()),
        } satisfies WorkerResponse);
      }
    });
  });
}

if (parentPort && (workerData as Partial<WorkerInit> | null)?.h5wasmPath)
  serve(parentPort, workerData as WorkerInit);
