/** The two store adapters every contract suite runs on, opened the same way in each. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@climcat/core';
import { createStore, type StoreOptions } from '@climcat/store';
import { testEnv } from '../harness/env';

/**
 * An adapter's name, an opener of a new empty store, and an opener of a second connection to
 * the store the first opener gave last (as a second process would see it).
 */
export type StoreAdapter = [name: string, open: () => Promise<Store>, openAgain: () => Promise<Store>];

/**
 * sqlite in a temporary file (removed after the suite) and MongoDB on the test server
 * (`TEST_MONGODB_URI`), in a database of its own per store (`<suite>_<run>_<n>`). `mongo`
 * adds options of the mongo adapter (a suite's maxTimeMS, say).
 */
export function storeAdapters(
  suite: string,
  mongo: Omit<Extract<StoreOptions, { adapter: 'mongo' }>, 'adapter' | 'uri' | 'dbName'> = {},
): StoreAdapter[] {
  const tempDir = mkdtempSync(join(tmpdir(), `climcat-${suite}-store-`));
  afterAll(() => rmSync(tempDir, { recursive: true, force: true }));
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  let opened = 0;
  const sqlite = (n: number) => createStore({ adapter: 'sqlite', path: join(tempDir, `${suite}-${n}.db`) });
  const mongoStore = (n: number) =>
    createStore({
      adapter: 'mongo',
      uri: testEnv('TEST_MONGODB_URI'),
      dbName: `${suite}_${runId}_${n}`,
      ...mongo,
    });
  return [
    ['sqlite', () => sqlite(++opened), () => sqlite(opened)],
    ['mongo', () => mongoStore(++opened), () => mongoStore(opened)],
  ];
}
