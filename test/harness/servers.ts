/**
 * Real servers for the test run: the MongoDB-wire server from npm
 * (@jongodb/memory-server-bin-linux-x64-gnu), Debian's redis-server and
 * s3rver. Each is started once per jest run by global-setup; suites read
 * their addresses from the TEST_* variables set here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const JONGODB_BIN = join(
  __dirname,
  '../../node_modules/@jongodb/memory-server-bin-linux-x64-gnu/bin/jongodb',
);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function which(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

export interface Started {
  process: ChildProcess;
  url: string;
  cleanup?: () => void;
}

/**
 * `replicaSet`: jongodb's single-node replica-set profile (a `hello` with
 * `setName`; it refuses reads other than primary, write concerns other than
 * 1 or majority, as a real set's primary would not).
 */
export async function startJongodb(options: { replicaSet?: string } = {}): Promise<Started> {
  if (!existsSync(JONGODB_BIN)) {
    throw new Error(
      `MongoDB-wire test server missing at ${JONGODB_BIN}: run "npm ci" (devDependency @jongodb/memory-server-bin-linux-x64-gnu)`,
    );
  }
  const port = await freePort();
  const rs = options.replicaSet;
  const args = [
    `--port=${port}`,
    ...(rs ? ['--topology-profile=singlenodereplicaset', `--replica-set-name=${rs}`] : []),
  ];
  const child = spawn(JONGODB_BIN, args, { stdio: 'ignore', detached: false });
  await waitForPort(port, 20_000, 'jongodb');
  return { process: child, url: `mongodb://127.0.0.1:${port}${rs ? `/?replicaSet=${rs}` : ''}` };
}

export async function startRedis(): Promise<Started> {
  const bin = which('redis-server');
  if (!bin)
    throw new Error(
      'redis-server not found: install it with "apt-get install redis-server" (or run scripts/install-system-deps.sh)',
    );
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'climcat-redis-'));
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  await waitForPort(port, 10_000, 'redis-server');
  return {
    process: child,
    url: `redis://127.0.0.1:${port}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function startS3rver(): Promise<Started> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'climcat-s3-'));
  // s3rver runs in its own node process so jest workers and teardown stay simple.
  const script = `
    const S3rver = require('s3rver');
    new S3rver({ port: ${port}, address: '127.0.0.1', silent: true, directory: ${JSON.stringify(dir)},
      configureBuckets: [{ name: 'climcat-test' }] }).run().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore', cwd: join(__dirname, '../..') });
  await waitForPort(port, 15_000, 's3rver');
  return {
    process: child,
    url: `http://127.0.0.1:${port}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
