/** Scans through the API, and a test hook on a running app's listings, shared by the ingest suites. */
import { StorageService, type StoredObject } from '@climcat/platform';
import { ADMIN, type RunningApp } from '../harness/app';
import { api } from '../catalog/seed';

const ENDED = ['completed', 'failed', 'cancelled'];

/** Starts a scan as the admin; the started response (202, or the problem). */
export function startScan(running: RunningApp, body: Record<string, unknown>, headers = ADMIN) {
  return api(running, 'POST', '/ingest/v1/scans', { headers, body });
}

/**
 * The scan's record once it has ended, or once `until` holds for it (a scan still running);
 * throws after `timeoutMs`.
 */
export async function waitScan(
  running: RunningApp,
  id: string,
  { timeoutMs = 30_000, until }: { timeoutMs?: number; until?: (scan: any) => boolean } = {},
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(running, 'GET', `/ingest/v1/scans/${id}`, { headers: ADMIN });
    if (until?.(res.body) || ENDED.includes(res.body.state)) return res.body;
    if (Date.now() > deadline) throw new Error(`scan did not finish: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a scan (expecting 202) and waits until it has ended. */
export async function scanToEnd(running: RunningApp, body: Record<string, unknown>, timeoutMs?: number) {
  const started = await startScan(running, body);
  expect(started.status).toBe(202);
  return waitScan(running, started.body.id as string, { timeoutMs });
}

/**
 * Every listing of the app stops after `files` files until `release()`;
 * `restore()` releases it and puts the real listing back (call it in `finally`).
 */
export function stallListing(running: RunningApp, files: number): { release(): void; restore(): void } {
  const storage = running.app.get(StorageService);
  const list = storage.list.bind(storage);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  storage.list = async function* (root: string, prefix?: string): AsyncGenerator<StoredObject> {
    let n = 0;
    for await (const object of list(root, prefix)) {
      if (n++ === files) await gate;
      yield object;
    }
  };
  return {
    release,
    restore() {
      release();
      storage.list = list;
    },
  };
}
