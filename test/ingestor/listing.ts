/** A test hook on a running app's listings, shared by the ingest suites. */
import { StorageService, type StoredObject } from '@climcat/platform';
import type { RunningApp } from '../harness/app';

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
