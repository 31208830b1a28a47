import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  await Promise.all(
    (globalThis.__climcatServers ?? []).map(
      (server) =>
        new Promise<void>((resolve) => {
          const done = () => {
            server.cleanup?.();
            resolve();
          };
          if (server.process.exitCode !== null || server.process.signalCode !== null) return done();
          const timer = setTimeout(() => {
            server.process.kill('SIGKILL');
          }, 5000);
          server.process.once('exit', () => {
            clearTimeout(timer);
            done();
          });
          server.process.kill('SIGTERM');
        }),
    ),
  );
  if (globalThis.__climcatRunDir) rmSync(globalThis.__climcatRunDir, { recursive: true, force: true });
}
