import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configVariables } from './config';

const ROOT = join(__dirname, '..', '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { reference } = require(join(ROOT, 'scripts', 'config-reference.js')) as { reference(): string };

const exampleVariables = () =>
  [...readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);

describe('configuration documentation', () => {
  it('.env.example lists every variable the config schema reads, and no other', () => {
    expect([...exampleVariables()].sort()).toEqual([...configVariables()].sort());
  });

  it('every variable in .env.example has a comment saying what it does', () => {
    const text = reference();
    for (const name of configVariables())
      expect([name, text.includes(`| \`${name}\` | —`)]).toEqual([name, false]);
  });

  it("docs/operations.md's configuration reference is the generated one (node scripts/config-reference.js --write)", () => {
    expect(readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')).toContain(reference());
  });
});
