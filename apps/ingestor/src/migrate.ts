/**
 * `climcat migrate` (`npm run migrate`, or `node dist/apps/ingestor/src/migrate.js`
 * in the image; the Helm chart runs it as a pre-install/pre-upgrade Job):
 * brings the configured store's schema to this release's (see migrateStore).
 * Exit 0 when done, 1 on a failure, 2 on bad configuration.
 */
import { ConfigError, loadConfig, type AppConfig } from '@climcat/platform';
import { migrateStore } from '@climcat/store';

export async function runMigrate(
  env: Record<string, string | undefined>,
  out: (line: string) => void,
): Promise<number> {
  let config: AppConfig;
  try {
    config = loadConfig('ingestor', env);
  } catch (error) {
    out(error instanceof ConfigError ? error.message : (error as Error).message);
    return 2;
  }
  try {
    const report = await migrateStore({ ...config.store, roots: config.roots }, out);
    if (!report) {
      out(`sqlite store ${config.store.adapter === 'sqlite' ? config.store.path : ''} is up to date`);
      return 0;
    }
    out(
      `schema version ${report.fromVersion} -> ${report.toVersion}; ` +
        `created ${report.created.length ? report.created.join(', ') : 'no index'}; ` +
        `dropped ${report.dropped.length ? report.dropped.join(', ') : 'no index'}`,
    );
    return 0;
  } catch (error) {
    out(`migration failed: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  void runMigrate(process.env, (line) => process.stdout.write(`${line}\n`)).then((code) =>
    process.exit(code),
  );
}
