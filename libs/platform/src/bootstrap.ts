import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { InvalidError, TooLargeError } from '@climcat/core';
import { json, type NextFunction, type Request, type Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { Logger } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { ConfigError, loadConfig, type AppConfig, type ServiceName } from './config/config';
import { requestHygiene } from './errors/request-hygiene.middleware';
import { requestContext, ROOT_LOGGER } from './observability/logging';
import { httpMetrics, MetricsService } from './observability/metrics';
import { setupOpenApi } from './openapi/openapi';
import { PlatformModule } from './platform.module';

@Module({})
class RootModule {}

/** The root module of one process: the platform plus the given feature modules. */
export function rootModule(config: AppConfig, features: (Type | DynamicModule)[]): DynamicModule {
  return { module: RootModule, imports: [PlatformModule.forRoot(config), ...features] };
}

/** HTTP settings shared by every service, production and tests alike. */
export function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.set('query parser', 'simple');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.disable('x-powered-by');
  // Plain Express middleware for every request, in this order, so that even a request
  // rejected early (bad body, operator injection) has a request id, a log line, a
  // latency sample, security and CORS headers.
  app.use(requestContext(app.get<PinoLogger>(ROOT_LOGGER)));
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(helmet(SECURITY_HEADERS));
  app.enableCors({
    origin: true,
    exposedHeaders: ['ETag', 'X-Request-Id', 'Content-Range', 'Accept-Ranges', 'Content-Length', 'Location'],
  });
  const parseJson = json({
    limit: '5mb',
    type: ['application/json', 'application/merge-patch+json', 'application/*+json'],
  });
  // Body-parser errors become domain errors here, so clients learn what was wrong with their body.
  app.use((req: Request, res: Response, next: NextFunction) =>
    parseJson(req, res, (error?: unknown) => next(error === undefined ? undefined : bodyError(error))),
  );
  app.use(requestHygiene);
  app.enableShutdownHooks();
  setupOpenApi(app, config);
}

/**
 * The headers that matter for a JSON API (and its docs page): no MIME
 * sniffing, no framing by other sites, no referrer, HSTS (ignored by
 * browsers on plain HTTP, so harmless when TLS ends at the ingress), and
 * CORP open to other origins like CORS. Left out: headers for HTML
 * documents and long-gone browsers (X-XSS-Protection, X-Download-Options,
 * X-DNS-Prefetch-Control, X-Permitted-Cross-Domain-Policies,
 * Origin-Agent-Cluster, COOP); X-Powered-By is never set (see above).
 */
const SECURITY_HEADERS: HelmetOptions = {
  contentSecurityPolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xPoweredBy: false,
  xXssProtection: false,
};

function bodyError(error: unknown): unknown {
  const e = error as { type?: string; message?: string; limit?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return new InvalidError(`Request body is not valid JSON: ${e.message ?? 'parse error'}`, [
        { field: 'body', message: e.message ?? 'not valid JSON' },
      ]);
    case 'entity.too.large':
      return new TooLargeError(`Request body exceeds the ${e.limit ?? ''} byte limit`.replace('  ', ' '));
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new InvalidError(`Request body encoding is not supported: ${e.message ?? ''}`);
    default:
      return error;
  }
}

/** Creates a configured, not yet listening application (tests use this too). */
export async function createApp(
  config: AppConfig,
  features: (Type | DynamicModule)[],
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(rootModule(config, features), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  configureHttp(app, config);
  return app;
}

/** Loads config or exits with a message naming the bad variable (exit code 78, EX_CONFIG). */
export function loadConfigOrExit(service: ServiceName): AppConfig {
  try {
    return loadConfig(service);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`climcat ${service}: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

/** Starts one service (or standalone) and prints what runs where. */
export async function runService(
  service: ServiceName,
  features: (Type | DynamicModule)[],
  hooks: {
    /** Runs before the application is created; may complete the config (e.g. the standalone admin key). */
    prepare?: (config: AppConfig) => Promise<AppConfig>;
    beforeListen?: (app: INestApplication, config: AppConfig) => Promise<void>;
    banner?: (config: AppConfig) => string[];
  } = {},
): Promise<INestApplication> {
  const loaded = loadConfigOrExit(service);
  const config = hooks.prepare ? await hooks.prepare(loaded) : loaded;
  const app = await createApp(config, features);
  await hooks.beforeListen?.(app, config);
  await app.listen(config.port, config.host);
  // Nest closes the app on these signals; this bounds how long in-flight work may delay the exit.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stderr.write(
          `climcat ${service}: shutdown exceeded ${config.shutdownTimeoutMs} ms, exiting\n`,
        );
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  const lines = [
    `climcat ${service} listening on ${config.host}:${config.port}`,
    `  API docs       ${config.publicUrl}/api/docs  (OpenAPI JSON: /api/docs-json)`,
    `  health         ${config.publicUrl}/health/ready   metrics: /metrics`,
    `  store          ${config.store.adapter === 'sqlite' ? `sqlite (embedded) ${config.store.path}` : 'mongo (MONGODB_URI)'}`,
    `  queue          ${config.redisUrl ? 'bull on Redis (REDIS_URL)' : 'in-process runner (embedded; set REDIS_URL for bull)'}`,
    `  object store   ${config.s3 ? `S3 at ${config.s3.endPoint}:${config.s3.port}` : 'none (set S3_ENDPOINT for S3/MinIO)'}`,
    ...(hooks.banner?.(config) ?? []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return app;
}
