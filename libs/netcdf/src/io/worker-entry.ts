import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from the entry file `<dir>/<name>.js` when compiled,
 * else `<name>.ts` (ts-node, jest), which a new thread cannot run by itself
 * (neither ts-node's hooks nor jest's transformer reach it), so a two-line
 * bootstrap registers ts-node (transpile only) there first.
 */
export function startWorkerEntry(dir: string, name: string, options: WorkerOptions = {}): Worker {
  const compiled = join(dir, `${name}.js`);
  if (existsSync(compiled)) return new Worker(compiled, options);
  const source = join(dir, `${name}.ts`);
  if (!existsSync(source)) throw new Error(`worker entry missing: neither ${compiled} nor ${source}`);
  const bootstrap = [
    `require('ts-node').register({ transpileOnly: true, projectSearchDir: ${JSON.stringify(dir)} });`,
    `require(${JSON.stringify(source)});`,
  ].join('\n');
  return new Worker(bootstrap, { ...options, eval: true });
}
