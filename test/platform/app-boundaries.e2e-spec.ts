/**
 * The lint rule that keeps apps from importing each other (`npm run lint`),
 * run through ESLint's Linter on files placed (by name) in the real tree.
 */
import { Linter, type Rule } from 'eslint';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
let rule: Rule.RuleModule;

beforeAll(async () => {
  ({ appBoundaries: rule } = await import('../../scripts/eslint-app-boundaries.mjs'));
});

function lint(file: string, code: string): string[] {
  const messages = new Linter({ configType: 'flat' }).verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
        plugins: { climcat: { rules: { 'app-boundaries': rule } } },
        rules: { 'climcat/app-boundaries': 'error' },
      },
    ],
    join(ROOT, file),
  );
  return messages.map((m) => m.message);
}

describe('climcat/app-boundaries', () => {
  it.each([
    ['a lib', 'apps/catalog/src/x.ts', "import { STORE } from '@climcat/core';"],
    ['the same app', 'apps/catalog/src/esgf/x.ts', "import { a } from '../datasets/search-params';"],
    [
      "another app's public module from standalone",
      'apps/standalone/src/main.ts',
      "import { IngestorModule } from '../../ingestor/src/ingestor.module';",
    ],
    [
      'apps from tests',
      'test/harness/app.ts',
      "import { x } from '../../apps/ingestor/src/scans/scan.service';",
    ],
  ])('allows importing %s', (_label, file, code) => {
    expect(lint(file, code)).toEqual([]);
  });

  it.each([
    [
      'apps/ingestor/src/records/x.ts',
      "import { DatasetService } from '../../../catalog/src/datasets/dataset.service';",
      'apps/ingestor must not import from apps/catalog',
    ],
    [
      'apps/thredds-proxy/src/x.ts',
      "export * from '../../catalog/src/catalog.module';",
      'apps/thredds-proxy must not import from apps/catalog',
    ],
    [
      'apps/scratch-quota/src/x.ts',
      "const m = import('../../catalog/src/datasets/dataset.service');",
      'apps/scratch-quota must not import from apps/catalog',
    ],
    [
      'apps/standalone/src/main.ts',
      "import { ScanService } from '../../ingestor/src/scans/scan.service';",
      'standalone composes apps/ingestor only through apps/ingestor/src/ingestor.module',
    ],
  ])('refuses %s: %s', (file, code, message) => {
    const messages = lint(file, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(message);
  });
});
