/**
 * apps/ and libs/ transpiled to plain JavaScript the way ts-node's
 * transpile-only does (ts.transpileModule per file, no type check), for suites
 * that start climcat as child processes (test/ingestor/standalone.ts).
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '../..');

/** Written last: a tree without it is incomplete. */
export const TRANSPILED_MARK = '.transpiled';

export function transpileTree(out: string): void {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
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
  writeFileSync(join(out, TRANSPILED_MARK), '');
}
