import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { InvalidError } from '@climcat/core';
import type { Logger as PinoLogger } from 'pino';
import { ConfigError, loadConfig, type AppConfig, type ServiceName } from './config/config';
import { answerClientError, sendProblem } from './errors/problem.filter';
import {
  PARSER_MAX_HEAD_BYTES,
  pathHygiene,
  requestHeadLimit,
  requestHygiene,
} from './errors/request-hygiene';
import { conditionalGet } from './http/conditional-get';
import { jsonLimitExceeded } from './http/json-limits';
import { countBytesSent, newRequestId, requestContext, ROOT_LOGGER } from './observability/logging';
import { httpMetrics, MetricsService } from './observability/metrics';
import { setupOpenApi } from './openapi/openapi';
import { PlatformModule, type PlatformOptions } from './platform.module';

/** The application type of every climcat process: Nest on Fastify. */
export type ClimcatApp = NestFastifyApplication;

@Module({})
class RootModule {}

/** The root module of one process: the platform plus the given feature modules. */
export function rootModule(
  config: AppConfig,
  features: (Type | DynamicModule)[],
  options: PlatformOptions = {},
): DynamicModule {
  return { module: RootModule, imports: [PlatformModule.forRoot(config, options), ...features] };
}

/** application/json, application/merge-patch+json and other `+json` types. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json(\s*;.*)?$/i;

/** Longest path parameter (dataset id, archive path) accepted; longer ones get a 414 problem. */
export const MAX_PARAM_LENGTH = 2048;

/** Request bodies larger than this get a 413 problem. */
export const BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/**
 * JupyterHub's proxy forwards `/services/<name>/api/...` with its prefix:
 * without it the request reaches the same routes as when climcat is called
 * directly (`request.originalUrl` keeps what was sent).
 */
export function stripServicePrefix(url: string, prefix: string): string {
  if (url.startsWith(prefix)) return `/${url.slice(prefix.length)}`;
  const bare = prefix.slice(0, -1);
  if (url === bare || url.startsWith(`${bare}?`)) return `/${url.slice(bare.length)}`;
  return url;
}

/** Fastify server options shared by every service. */
function fastifyAdapter(config: AppConfig): FastifyAdapter {
  const prefix = config.jupyterhub?.servicePrefix;
  return new FastifyAdapter({
    ...(prefix && prefix !== '/'
      ? { rewriteUrl: (req: { url?: string }) => stripServicePrefix(req.url ?? '/', prefix) }
      : {}),
    bodyLimit: BODY_LIMIT_BYTES,
    http: { maxHeaderSize: PARSER_MAX_HEAD_BYTES },
    trustProxy: 'loopback, linklocal, uniquelocal',
    // The caller's X-Request-Id when well-formed, else a new UUID (see requestContext).
    genReqId: newRequestId,
    // Dataset ids and archive paths are long (CORDEX ids exceed Fastify's default of 100).
    // `/api/v1/datasets/` is `/api/v1/datasets`, as it always was for clients of the Express version.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, ignoreTrailingSlash: true },
    // Malformed URLs and overlong ids are refused before routing, outside Nest: same problem answers.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(request, reply, error),
    // What Node's HTTP parser refuses (431 headers too large, unknown method): a problem as well.
    clientErrorHandler: (error, socket) => answerClientError(error, socket),
  });
}

/** HTTP settings shared by every service, production and tests alike. */
export async function configureHttp(app: ClimcatApp, config: AppConfig): Promise<void> {
  const server = app.getHttpAdapter().getInstance();
  // Hooks for every request, in this order, so that even a request rejected early (bad body,
  // operator injection, unknown route) has a request id, a log line, a latency sample,
  // security and CORS headers.
  requestContext(server, app.get<PinoLogger>(ROOT_LOGGER));
  httpMetrics(server, app.get(MetricsService));
  server.addHook('onRequest', pathHygiene);
  await securityHeaders(server);
  app.enableCors({
    origin: true,
    // @fastify/cors allows only GET, HEAD and POST unless told: notebooks in browsers curate too.
    methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
    // An OPTIONS request that is not a CORS preflight is answered (204 with the allowed methods)
    // instead of @fastify/cors's 400 text/plain.
    strictPreflight: false,
    exposedHeaders: ['ETag', 'X-Request-Id', 'Content-Range', 'Accept-Ranges', 'Content-Length', 'Location'],
  });
  // JSON Merge Patch and other JSON media types parse like application/json; an empty body is no body
  // (clients send Content-Type on DELETE too). Prototype-poisoning keys make the body invalid, and
  // so does nesting or a member count beyond the limits of json-limits.ts.
  const parseJson = server.getDefaultJsonParser('error', 'error');
  // Fastify's own parsers (application/json, text/plain) give way: bodies are JSON, read by the one below.
  server.removeAllContentTypeParsers();
  server.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text === '') {
      done(null, undefined);
      return;
    }
    // Before parsing: thousands of levels would exhaust the stack of whatever walks the value next.
    const exceeded = jsonLimitExceeded(text);
    if (exceeded) {
      done(InvalidError.field('body', exceeded), undefined);
      return;
    }
    void parseJson(request, text, (error, value) => done(error ? invalidJson(text) : null, value));
  });
  // preParsing: after every onRequest hook, so a feature may first refuse its own URLs in its own format.
  server.addHook('preParsing', requestHeadLimit);
  // Raw bytes are streamed to the handler, untouched and uncounted by bodyLimit, only where a
  // route writes them itself (scratch files, which count them against the quota).
  server.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    if (STREAMED_BODY_ROUTES.some((prefix) => request.url.startsWith(prefix))) done(null, payload);
    else done(unsupportedMediaType(), undefined);
  });
  server.addHook('preHandler', requestHygiene);
  conditionalGet(server);
  countBytesSent(server);
  app.enableShutdownHooks();
  setupOpenApi(app, config);
}

/** URL prefixes whose handlers read an application/octet-stream body as a stream. */
const STREAMED_BODY_ROUTES = ['/scratch/v1/files/'];

function unsupportedMediaType(): Error {
  // Shaped like Fastify's own error so the problem filter keeps its 415.
  return Object.assign(new Error('Unsupported Media Type: application/octet-stream'), {
    statusCode: 415,
    code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  });
}

/** Says why a body the JSON parser refused is invalid (the parser itself only says that it is). */
function invalidJson(text: string): InvalidError {
  let reason = 'member names "__proto__" and "constructor.prototype" are not accepted';
  try {
    JSON.parse(text);
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  return new InvalidError(`Request body is not valid JSON: ${reason}`, [{ field: 'body', message: reason }]);
}

/**
 * The headers that matter for a JSON API (and its docs page): no MIME
 * sniffing, no framing by other sites, no referrer, HSTS (ignored by
 * browsers on plain HTTP, so harmless when TLS ends at the ingress), and
 * CORP open to other origins like CORS. Left out: headers for HTML
 * documents and long-gone browsers (X-XSS-Protection, X-Download-Options,
 * X-DNS-Prefetch-Control, X-Permitted-Cross-Domain-Policies,
 * Origin-Agent-Cluster, COOP).
 */
const SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * Sets the headers @fastify/helmet sets with SECURITY_HEADERS on every
 * request, in the same place (an onRequest hook, on the raw response, so
 * that hijacked replies have them too). The plugin builds helmet's middleware
 * anew on each request, in two async hooks; without CSP nonces the headers
 * never vary, so they are taken once from the plugin itself, from one
 * request to a probe server.
 */
async function securityHeaders(server: FastifyInstance): Promise<void> {
  const probe = Fastify();
  await probe.register(helmet, SECURITY_HEADERS);
  let headers: [string, string][] = [];
  // After the plugin's hooks, before anything else touches the response: exactly what it set.
  probe.addHook('onRequest', (_request, reply, done) => {
    headers = Object.entries(reply.raw.getHeaders()).map(([name, value]) => [name, String(value)]);
    done();
  });
  probe.get('/', () => '');
  await probe.inject('/');
  await probe.close();
  if (!headers.some(([name]) => name === 'x-content-type-options'))
    throw new Error('@fastify/helmet set no security headers on the probe request');
  server.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
}

/** Creates a configured, not yet listening application (tests use this too). */
export async function createApp(
  config: AppConfig,
  features: (Type | DynamicModule)[],
  options: PlatformOptions = {},
): Promise<ClimcatApp> {
  const app = await NestFactory.create<ClimcatApp>(
    rootModule(config, features, options),
    fastifyAdapter(config),
    {
      bufferLogs: true,
      // The body parsers are ours (configureHttp): JSON types only, empty bodies allowed.
      bodyParser: false,
    },
  );
  app.useLogger(app.get(Logger));
  await configureHttp(app, config);
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
    banner?: (config: AppConfig) => string[];
  } = {},
): Promise<INestApplication> {
  const loaded = loadConfigOrExit(service);
  const config = hooks.prepare ? await hooks.prepare(loaded) : loaded;
  const app = await createApp(config, features);
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
