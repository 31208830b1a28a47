import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../harness/app';
import { badFiles, demoArchive } from './archive';
import { transpiledScript } from './standalone';

const ROOT = join(__dirname, '../..');

/**
 * `npm run ingest` runs the CLI through ts-node (`via: 'ts-node'`); the other
 * runs load the same transpile (ts.transpileModule, as ts-node's
 * transpile-only) from the tree the harness builds once per jest run, which
 * saves each run the 5-10 s of CPU it takes ts-node to transpile the app.
 */
function ingest(
  args: string[],
  env: Record<string, string>,
  via: 'ts-node' | 'transpiled' = 'transpiled',
): { status: number | null; stdout: string; stderr: string } {
  const launch =
    via === 'ts-node'
      ? {
          args: [
            '-r',
            'ts-node/register/transpile-only',
            '-r',
            'tsconfig-paths/register',
            'apps/ingestor/src/cli.ts',
          ],
          env: {},
        }
      : transpiledScript('apps/ingestor/src/cli');
  const run = spawnSync(process.execPath, [...launch.args, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...launch.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const row = (out: string, name: string) =>
  Number(new RegExp(`\\| ${name}\\s+\\|\\s+(\\d+) \\|`).exec(out)?.[1]);

describe('ingest CLI', () => {
  const state = tempDir();
  const data = join(state, 'data');
  let demo: string[];
  beforeAll(async () => {
    demo = await demoArchive(data);
  });
  afterAll(() => rmSync(state, { recursive: true, force: true }));

  it('dry-runs without writing, then ingests with a summary table', () => {
    const dry = ingest([data, '--dry-run'], { STATE_DIR: state }, 'ts-node');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('would be (dry run)');
    expect(row(dry.stdout, 'new')).toBe(demo.length);
    const again = ingest([data, '--dry-run'], { STATE_DIR: state });
    expect(row(again.stdout, 'new')).toBe(demo.length);

    const real = ingest([data], { STATE_DIR: state });
    expect(real.status).toBe(0);
    expect(row(real.stdout, 'new')).toBe(demo.length);
    expect(real.stdout).toMatch(/\| files\/s\s+\|\s+[\d.]+ \|/);
    const rescan = ingest([data], { STATE_DIR: state });
    expect(row(rescan.stdout, 'unchanged')).toBe(demo.length);
  }, 120_000);

  it('exits 1 and lists failed files with reasons', () => {
    const bad = badFiles(data, 'incoming', demo[0]!);
    const run = ingest([join(data, 'incoming')], { STATE_DIR: state });
    expect(run.status).toBe(1);
    expect(row(run.stdout, 'failed')).toBe(3);
    expect(run.stdout).toContain(`failed: ${bad.html}:`);
  }, 60_000);

  it('explains a target outside every configured root and bad arguments', () => {
    const outside = ingest(['/etc'], { STATE_DIR: state });
    expect(outside.status).toBe(2);
    expect(outside.stderr).toMatch(/not under a configured root/);
    expect(ingest([], { STATE_DIR: state }).stderr).toMatch(/usage: npm run ingest/);
    expect(ingest([data, '--force'], { STATE_DIR: state }).stderr).toMatch(/unknown option --force/);
  }, 60_000);
});
