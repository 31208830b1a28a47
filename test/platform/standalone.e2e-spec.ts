import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from '../harness/servers';
import { ADMIN, datasetBody, startApp, tempDir } from '../harness/app';
import { transpiledScript } from '../ingestor/standalone';

const ROOT = join(__dirname, '../..');

/**
 * Runs apps/standalone/src/main.ts as `npm start` would run the build, with the given env:
 * through ts-node (as `npm run start:dev`), or from the transpiled tree the harness builds once
 * per jest run (the same ts.transpileModule output; saves ts-node's 5-10 s of CPU per start).
 */
function launch(env: Record<string, string>, via: 'ts-node' | 'transpiled' = 'transpiled') {
  const script =
    via === 'ts-node'
      ? {
          args: [
            '-r',
            'ts-node/register/transpile-only',
            '-r',
            'tsconfig-paths/register',
            'apps/standalone/src/main.ts',
          ],
          env: {},
        }
      : transpiledScript('apps/standalone/src/main');
  const child = spawn(process.execPath, script.args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      ...script.env,
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal === 'SIGTERM' ? 143 : code)),
  );
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('standalone mode', () => {
  it('keeps a dataset created through the API across a clean restart (sqlite)', async () => {
    const first = await startApp();
    const created = await fetch(`${first.url}/api/v1/datasets`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify(datasetBody()),
    });
    expect(created.status).toBe(201);
    const before = (await created.json()) as { id: string };
    await first.close({ keepState: true });

    const second = await startApp({ stateDir: first.stateDir });
    try {
      const res = await fetch(`${second.url}/api/v1/datasets/${encodeURIComponent(before.id)}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(before);
    } finally {
      await second.close();
    }
  });

  it('boots as a process with embedded defaults, serves readiness and OpenAPI, stops on SIGTERM', async () => {
    const stateDir = tempDir();
    const port = await freePort();
    const proc = launch({ PORT: String(port), STATE_DIR: stateDir }, 'ts-node');
    try {
      await waitForPort(port, 60_000, 'standalone');
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      const docs = (await (await fetch(`http://127.0.0.1:${port}/api/docs-json`)).json()) as {
        openapi: string;
      };
      expect(docs.openapi).toMatch(/^3\./);
      const { stdout } = proc.output();
      expect(stdout).toContain(`/api/docs`);
      expect(stdout).toContain('sqlite (embedded)');
      expect(stdout).toContain('in-process runner');
      const keyFile = join(stateDir, 'admin-api-key');
      expect(existsSync(keyFile)).toBe(true);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(stdout).not.toContain(readFileSync(keyFile, 'utf8').trim());
    } finally {
      proc.child.kill('SIGTERM');
    }
    // Nest closes the app (store, queues, server) and re-raises SIGTERM: 128 + 15.
    expect(await proc.exited).toBe(143);
  }, 90_000);

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be a number'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL must be a URL'],
    [{ STORE_ADAPTER: 'mongo' }, 'MONGODB_URI is required when STORE_ADAPTER=mongo'],
  ])(
    'refuses bad config %j at boot naming the variable',
    async (env, message) => {
      const proc = launch({ STATE_DIR: tempDir(), ...env });
      expect(await proc.exited).toBe(78);
      expect(proc.output().stderr).toContain(message);
    },
    60_000,
  );
});
