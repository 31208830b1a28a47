/** The standalone server as a child process, for suites that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, TEST_ADMIN_KEY } from '../harness/app';
import { transpileTree, TRANSPILED_MARK } from '../harness/transpile';

const ROOT = join(__dirname, '../..');

let build: string | undefined;

/**
 * apps/ and libs/ transpiled (no type check, as ts-node's transpile-only
 * does), so each server start loads plain JavaScript: a start takes about half
 * as long as through ts-node. global-setup transpiles once per jest run into
 * TEST_BUILD_DIR (10-20 s of CPU that each suite starting servers used to
 * spend); outside the harness, one tree per test process.
 */
function compiled(): string {
  if (build) return build;
  const shared = process.env.TEST_BUILD_DIR;
  if (shared) {
    if (!existsSync(join(shared, TRANSPILED_MARK)))
      throw new Error(`TEST_BUILD_DIR ${shared} holds no transpiled tree (global-setup builds it)`);
    return (build = shared);
  }
  const out = tempDir('climcat-build-');
  transpileTree(out);
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  return (build = out);
}

export function standalone(env: Record<string, string>): ChildProcess {
  return serviceProcess('standalone', env, 'ignore');
}

/**
 * `node <script>` for a module of apps/ or libs/ (path without extension, from
 * the repository root) run from the transpiled tree: node's arguments and the
 * environment it needs beside the caller's.
 */
export function transpiledScript(script: string): { args: string[]; env: Record<string, string> } {
  const out = compiled();
  return {
    args: ['-r', 'tsconfig-paths/register', join(out, `${script}.js`)],
    // The build lives outside the tree: packages from the project's node_modules, @climcat/* from the build.
    env: { NODE_PATH: join(ROOT, 'node_modules'), TS_NODE_BASEURL: out },
  };
}

/** One service's entry point (`apps/<name>/src/main.js`) as a child process. */
export function serviceProcess(
  name: 'standalone' | 'catalog' | 'ingestor' | 'thredds-proxy' | 'scratch-quota',
  env: Record<string, string>,
  stdio: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  const script = transpiledScript(`apps/${name}/src/main`);
  return spawn(process.execPath, script.args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      ...script.env,
      ...env,
    },
    stdio,
  });
}

export async function getJson(port: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
  });
  return res.json();
}

/** Resolves when the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
