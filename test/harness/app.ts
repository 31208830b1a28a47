/**
 * Starts climcat in-process on a free port with a private STATE_DIR, the way
 * standalone mode runs it (all four feature modules unless told otherwise).
 */
import type { DynamicModule, Type } from '@nestjs/common';
import type { ClimcatApp } from '@climcat/platform';
import { createApp, loadConfig, type AppConfig, type ServiceName } from '@climcat/platform';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import { CatalogModule } from '../../apps/catalog/src/catalog.module';
import { IngestorModule } from '../../apps/ingestor/src/ingestor.module';
import { ScratchQuotaModule } from '../../apps/scratch-quota/src/scratch-quota.module';
import { ThreddsProxyModule } from '../../apps/thredds-proxy/src/thredds-proxy.module';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export const ALL_FEATURES: (Type | DynamicModule)[] = [
  CatalogModule,
  IngestorModule,
  ThreddsProxyModule,
  ScratchQuotaModule,
];

export interface RunningApp {
  app: ClimcatApp;
  config: AppConfig;
  url: string;
  stateDir: string;
  /** The JSON log lines written so far, when started with `logs: true` (at LOG_LEVEL info). */
  logs: LogLine[];
  close(options?: { keepState?: boolean }): Promise<void>;
}

/** One pino line as written by the app. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export function tempDir(prefix = 'climcat-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startApp(
  options: {
    service?: ServiceName;
    env?: Record<string, string>;
    features?: (Type | DynamicModule)[];
    stateDir?: string;
    /** Keep the app's log lines in `logs` (LOG_LEVEL info unless env says otherwise). */
    logs?: boolean;
  } = {},
): Promise<RunningApp> {
  const stateDir = options.stateDir ?? tempDir();
  const config = loadConfig(options.service ?? 'standalone', {
    STATE_DIR: stateDir,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: options.logs ? 'info' : 'silent',
    DEMO_DATA: 'false',
    // Node-RED allows one runtime per process; only its own suite turns it on.
    NODE_RED_ENABLED: 'false',
    // Suites start their own scans and count what they find.
    SCAN_ON_BOOT: 'false',
    PORT: '1',
    ...options.env,
  });
  const logs: LogLine[] = [];
  // nestjs-pino keeps its out-of-request logger process-wide (the first app's): lines written
  // outside a request (jobs, timers) go to this app's `logs` only after a reset.
  if (options.logs) __resetOutOfContextForTests();
  const app = await createApp(
    config,
    options.features ?? ALL_FEATURES,
    options.logs
      ? { logDestination: { write: (line: string) => logs.push(JSON.parse(line) as LogLine) } }
      : {},
  );
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    url: `http://127.0.0.1:${address.port}`,
    stateDir,
    logs,
    close: async ({ keepState = false } = {}) => {
      await app.close();
      if (!keepState) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export const ADMIN = bearer(TEST_ADMIN_KEY);

/** A valid dataset body for POST /api/v1/datasets. */
export function datasetBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    datasetId: 'cmip5.output1.MOHC.HadGEM2-ES.rcp45.mon.atmos.Amon.r1i1p1',
    version: '20111128',
    kind: 'standard',
    project: 'CMIP5',
    facets: { institute: 'MOHC', model: 'HadGEM2-ES', experiment: 'rcp45', variable: ['tas'] },
    access: { public: true, ownerGroup: 'climate', accessGroups: [] },
    ...overrides,
  };
}
