/** The standalone server as a child process, for suites that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';
import { tempDir, TEST_ADMIN_KEY } from '../harness/app';

const ROOT = join(__dirname, '../..');

let build: string | undefined;

/**
 * apps/ and libs/ transpiled once per test process (no type check, as
 * ts-node's transpile-only does), so each server start loads plain JavaScript:
 * a start takes about half as long as through ts-node.
 */
function compiled(): string {
  if (build) return build;
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const out = tempDir('climcat-build-');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
          ? [join(dir, e.name)]
          : [],
    );
  for (const file of [...walk(join(ROOT, 'apps')), ...walk(join(ROOT, 'libs'))]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { ...options, sourceMap: false, inlineSourceMap: false },
      fileName: file,
    });
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  // Node-RED loads the climcat node package (JavaScript, no build step) from the tree beside the code.
  symlinkSync(join(ROOT, 'apps/ingestor/node-red'), join(out, 'apps/ingestor/node-red'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  build = out;
  return out;
}

export function standalone(env: Record<string, string>): ChildProcess {
  return serviceProcess('standalone', env, 'ignore');
}

/** One service's entry point (`apps/<name>/src/main.js`) as a child process. */
export function serviceProcess(
  name: 'standalone' | 'catalog' | 'ingestor' | 'thredds-proxy' | 'scratch-quota',
  env: Record<string, string>,
  stdio: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  const out = compiled();
  return spawn(process.execPath, ['-r', 'tsconfig-paths/register', join(out, `apps/${name}/src/main.js`)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      // The build lives outside the tree: packages from the project's node_modules, @climcat/* from the build.
      NODE_PATH: join(ROOT, 'node_modules'),
      TS_NODE_BASEURL: out,
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
