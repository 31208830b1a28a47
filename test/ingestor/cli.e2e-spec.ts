import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../harness/app';
import { badFiles, demoArchive } from './archive';

const ROOT = join(__dirname, '../..');

function ingest(
  args: string[],
  env: Record<string, string>,
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      'apps/ingestor/src/cli.ts',
      ...args,
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
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
    const dry = ingest([data, '--dry-run'], { STATE_DIR: state });
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
