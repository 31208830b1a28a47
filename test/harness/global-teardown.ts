export default async function globalTeardown(): Promise<void> {
  for (const server of globalThis.__climcatServers ?? []) {
    server.process.kill('SIGTERM');
    server.cleanup?.();
  }
}
