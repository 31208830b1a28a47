/**
 * The one place that reads `process.env`. Parsed once, validated, typed;
 * a bad value fails at boot with a message naming the variable.
 */
import { ROOT_NAME } from '@climcat/core';
import { randomBytes } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

export type ServiceName = 'catalog' | 'ingestor' | 'thredds-proxy' | 'scratch-quota' | 'standalone';

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  catalog: 3000,
  ingestor: 3001,
  'thredds-proxy': 3002,
  'scratch-quota': 3003,
  standalone: 8080,
};

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z
    .string()
    .url({ message: 'must be a URL' })
    .refine((v) => protocols.some((p) => v.startsWith(`${p}:`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

const port = z.coerce
  .number({ message: 'must be a number' })
  .int({ message: 'must be an integer' })
  .min(1, { message: 'must be between 1 and 65535' })
  .max(65535, { message: 'must be between 1 and 65535' });

const UNITS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  KI: 2 ** 10,
  MI: 2 ** 20,
  GI: 2 ** 30,
  TI: 2 ** 40,
  PI: 2 ** 50,
};

/** Byte sizes as plain numbers or with SI / IEC suffixes: `100TB`, `40TiB`, `500G`. */
const bytes = z
  .string()
  .regex(/^\d+(\.\d+)?\s*([KMGTP]i?)?B?$/i, { message: 'must be a size such as 100TB, 40TiB or 1000000' })
  .transform((v) => {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]i?)?B?$/i.exec(v);
    return Math.round(Number(m?.[1]) * (UNITS[(m?.[2] ?? '').toUpperCase()] ?? 1));
  });

/** Durations as seconds or with a unit: `600`, `90s`, `10m`, `1h`, `7d`; milliseconds out. */
const duration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)?$/i, { message: 'must be a duration such as 600, 90s, 10m, 1h or 7d' })
  .transform((v) => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(v);
    const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[
      (m?.[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h' | 'd'
    ];
    return Math.round(Number(m?.[1]) * unit);
  })
  .refine((ms) => ms > 0, { message: 'must be > 0' });

const nonNegativeInt = z.coerce
  .number({ message: 'must be a number' })
  .int({ message: 'must be an integer' })
  .min(0, { message: 'must be >= 0' });

const positiveInt = z.coerce
  .number({ message: 'must be a number' })
  .int()
  .positive({ message: 'must be > 0' });

/** Every variable climcat reads. Keep `.env.example` in step with this object. */
const envSchema = z
  .object({
    PORT: port.optional(),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: url(['http', 'https']).optional(),
    STATE_DIR: z.string().min(1).default('./.climcat'),
    DATA_ROOT: z.string().min(1).optional(),
    SCRATCH_ROOT: z.string().min(1).optional(),
    DERIVED_ROOT: z.string().min(1).optional(),
    DEMO_DATA: bool.optional(),
    ADMIN_API_KEY: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    STORE_ADAPTER: z.enum(['sqlite', 'mongo'], { message: 'must be sqlite or mongo' }).optional(),
    MONGODB_URI: url(['mongodb', 'mongodb+srv']).optional(),
    MONGODB_DB: z.string().min(1).default('climcat'),
    MONGODB_IDS_PER_CALL: positiveInt
      .max(10_000, { message: 'must be at most 10000 (a larger $in risks the 16 MB command limit)' })
      .default(10_000),
    MONGODB_MIGRATE: z.enum(['auto', 'verify'], { message: 'must be auto or verify' }).default('auto'),
    MONGODB_MAX_TIME_MS: positiveInt.default(30_000),
    MONGODB_TRANSACTIONS: z.enum(['auto', 'off'], { message: 'must be auto or off' }).default('auto'),
    REDIS_URL: url(['redis', 'rediss']).optional(),
    S3_ENDPOINT: url(['http', 'https']).optional(),
    S3_REGION: z.string().min(1).default('us-east-1'),
    S3_ACCESS_KEY: z.string().min(1).optional(),
    S3_SECRET_KEY: z.string().min(1).optional(),
    S3_BUCKET: z.string().min(3).optional(),
    S3_DERIVED_PREFIX: z
      .string()
      .regex(/^(?!scratch(\/|$))[\w.-]+(\/[\w.-]+)*$/, {
        message: 'must be a key prefix such as derived (no leading or trailing /, not under scratch/)',
      })
      .default('derived'),
    S3_PUBLIC_ENDPOINT: url(['http', 'https'])
      .refine((v) => new URL(v).pathname === '/' && !new URL(v).search, {
        message: 'must be scheme://host[:port] only (presigned URLs cannot carry a path prefix)',
      })
      .optional(),
    OIDC_JWKS_URL: url(['http', 'https']).optional(),
    OIDC_ISSUER: z.string().min(1).optional(),
    OIDC_AUDIENCE: z.string().min(1).optional(),
    OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
    OIDC_ROLES_CLAIM: z.string().min(1).default('roles'),
    OIDC_DEFAULT_ROLE: z.enum(['reader', 'curator', 'admin', 'none']).default('reader'),
    // JupyterHub names: a hub-managed service gets them from the hub (see README, JupyterHub).
    JUPYTERHUB_API_URL: url(['http', 'https']).optional(),
    JUPYTERHUB_API_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    JUPYTERHUB_SERVICE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9][\w.-]{0,127}$/, {
        message: 'must be a JupyterHub service name (letters, digits, _ . -)',
      })
      .default('climcat'),
    JUPYTERHUB_SERVICE_PREFIX: z
      .string()
      .regex(/^\/([\w.~%@+-]+\/)*$/, { message: 'must be a URL path that starts and ends with /' })
      .optional(),
    JUPYTERHUB_CLIENT_ID: z
      .string()
      .regex(/^service-/, { message: 'must start with service-' })
      .optional(),
    JUPYTERHUB_HOST: url(['http', 'https'])
      .refine((v) => new URL(v).pathname === '/' && !new URL(v).search, {
        message: 'must be scheme://host[:port] only (the hub path is JUPYTERHUB_BASE_URL)',
      })
      .optional(),
    JUPYTERHUB_BASE_URL: z
      .string()
      .regex(/^\/([\w.~%@+-]+\/)*$/, { message: 'must be a URL path that starts and ends with /' })
      .default('/'),
    JUPYTERHUB_OAUTH_CALLBACK_URL: z
      .string()
      .refine((v) => v.startsWith('/') || /^https?:\/\//.test(v), {
        message: 'must be an absolute path or an http(s) URL',
      })
      .optional(),
    JUPYTERHUB_GROUP_PREFIX: z.string().min(1).optional(),
    JUPYTERHUB_GROUP_MAP: z
      .string()
      .regex(/^\s*[^=,\s]+=[^=,\s]+(\s*,\s*[^=,\s]+=[^=,\s]+)*\s*$/, {
        message: 'must be hubgroup=cataloggroup pairs, comma-separated',
      })
      .optional(),
    JUPYTERHUB_CACHE_TTL: duration.optional(),
    JUPYTERHUB_TIMEOUT: duration.optional(),
    SESSION_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
    SESSION_TTL: duration.optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_PRETTY: bool.optional(),
    INGEST_CONCURRENCY: positiveInt.default(2),
    SCAN_ON_BOOT: bool.optional(),
    CHECKSUM_ENABLED: bool.optional(),
    CHECKSUM_CONCURRENCY: positiveInt.default(2),
    CHECKSUM_BYTES_PER_SECOND: bytes.optional(),
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
    ROOTS: z
      .string()
      .regex(/^\s*[a-z][\w-]*=[^,]+(,\s*[a-z][\w-]*=[^,]+)*\s*$/i, {
        message: 'must be name=/path or name=s3://bucket[/prefix], comma-separated',
      })
      .optional(),
    INGEST_WEBHOOK_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    INGEST_DEFAULT_GROUP: z.string().min(1).default('data-managers'),
    INGEST_PUBLIC: bool.optional(),
    NODE_RED_ENABLED: bool.optional(),
    NODE_RED_EDITOR: bool.optional(),
    NODE_RED_CREDENTIAL_SECRET: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    REMOTE_CACHE_SIZE: bytes.optional(),
    CAPACITY_TOTAL: bytes.optional(),
    CAPACITY_STANDARD: bytes.optional(),
    CAPACITY_DERIVED: bytes.optional(),
    CAPACITY_SCRATCH: bytes.optional(),
    THREDDS_BIN_LIMIT: bytes.optional(),
    THREDDS_ASC_LIMIT: bytes.optional(),
    THREDDS_MAX_CONCURRENT_PER_CALLER: positiveInt.default(4),
    THREDDS_REQUEST_TIMEOUT: duration.optional(),
    // SigV4 presigned URLs live 1 s to 7 days, in whole seconds.
    THREDDS_S3_PRESIGN_EXPIRY: duration
      .refine((ms) => ms % 1000 === 0, { message: 'must be whole seconds' })
      .refine((ms) => ms >= 1000 && ms <= 604_800_000, {
        message: 'must be between 1s and 7 days (604800 s), the limits of S3 presigned URLs',
      })
      .optional(),
    THREDDS_CACHE_FILES: nonNegativeInt.default(256),
    THREDDS_CACHE_MEMORY: bytes.optional(),
    SCRATCH_SOFT_BYTES: bytes.optional(),
    SCRATCH_HARD_BYTES: bytes.optional(),
    SCRATCH_SOFT_FILES: positiveInt.optional(),
    SCRATCH_HARD_FILES: positiveInt.optional(),
    SCRATCH_GRACE: duration.optional(),
    SCRATCH_PURGE_AFTER: duration.optional(),
    SCRATCH_PURGE_NOTICE: duration.optional(),
    SCRATCH_NOATIME: bool.optional(),
    // `off` or 0 turns the scheduled purge job off (admins can still start runs).
    SCRATCH_PURGE_INTERVAL: z
      .union([z.enum(['off', '0']).transform(() => 0), duration], {
        errorMap: () => ({ message: 'must be a duration such as 1d or 12h, or off' }),
      })
      .optional(),
    SCRATCH_PURGE_DRY_RUN: bool.optional(),
    SCRATCH_PURGED_RETENTION: duration.optional(),
    SCRATCH_NOTIFY_WEBHOOK: url(['http', 'https']).optional(),
    SCRATCH_RESERVATION_TTL: duration.optional(),
    SCRATCH_RECONCILE_INTERVAL: duration
      .refine((ms) => ms >= 1000, { message: 'must be at least 1s' })
      .optional(),
    SCRATCH_MAX_WATCHES: positiveInt.optional(),
    SCRATCH_HISTORY_KEEP: duration
      .refine((ms) => ms >= 86400e3, { message: 'must be at least 1d' })
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.STORE_ADAPTER === 'mongo' && !env.MONGODB_URI) {
      ctx.addIssue({
        code: 'custom',
        path: ['MONGODB_URI'],
        message: 'is required when STORE_ADAPTER=mongo',
      });
    }
    // S3_BUCKET is also the name of its root, the first segment of its /thredds paths.
    if (
      env.S3_BUCKET &&
      (!ROOT_NAME.test(env.S3_BUCKET) || ['data', 'scratch', 'derived'].includes(env.S3_BUCKET))
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_BUCKET'],
        message:
          'must be a bucket name other than data, scratch or derived (or name its root with ROOTS=name=s3://bucket)',
      });
    }
    for (const [soft, hard] of [
      ['SCRATCH_SOFT_BYTES', 'SCRATCH_HARD_BYTES'],
      ['SCRATCH_SOFT_FILES', 'SCRATCH_HARD_FILES'],
    ] as const) {
      const s = env[soft];
      const h = env[hard];
      if (s !== undefined && h !== undefined && s > h)
        ctx.addIssue({ code: 'custom', path: [soft], message: `must not exceed ${hard}` });
    }
    if (env.S3_ENDPOINT && (!env.S3_ACCESS_KEY || !env.S3_SECRET_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.S3_ACCESS_KEY ? 'S3_SECRET_KEY' : 'S3_ACCESS_KEY'],
        message: 'is required when S3_ENDPOINT is set',
      });
    }
    if (env.JUPYTERHUB_API_URL && !env.JUPYTERHUB_API_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['JUPYTERHUB_API_TOKEN'],
        message: "is required when JUPYTERHUB_API_URL is set (the service's api_token in the hub config)",
      });
    }
    if (env.S3_PUBLIC_ENDPOINT && !env.S3_ENDPOINT) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_PUBLIC_ENDPOINT'],
        message: 'needs S3_ENDPOINT (it only renames the object store for clients)',
      });
    }
  });

export interface S3Config {
  endPoint: string;
  port: number;
  useSSL: boolean;
  region: string;
  accessKey: string;
  secretKey: string;
  bucket?: string;
  /** Key prefix in `bucket` that promoted S3 scratch objects are copied under (S3_DERIVED_PREFIX). */
  derivedPrefix: string;
  /** Where clients reach the store (S3_PUBLIC_ENDPOINT), when not at the internal endpoint: presigned URLs name it. */
  public?: { endPoint: string; port: number; useSSL: boolean };
}

/** A named place files live: a POSIX directory or an S3 bucket (+ optional key prefix). */
export type RootConfig =
  { name: string; kind: 'posix'; dir: string } | { name: string; kind: 's3'; bucket: string; prefix: string };

export interface AppConfig {
  service: ServiceName;
  port: number;
  host: string;
  publicUrl: string;
  stateDir: string;
  dataRoot: string;
  /** True when DATA_ROOT was not set: standalone owns it and may write demo data. */
  dataRootIsDefault: boolean;
  scratchRoot: string;
  /** Shared derived data (root name `derived`): where scratch promotions move files. */
  derivedRoot: string;
  demoData: boolean;
  adminApiKey?: string;
  store:
    | { adapter: 'sqlite'; path: string }
    | {
        adapter: 'mongo';
        uri: string;
        dbName: string;
        /** Most ids per `$in` / by-id write (bulk writes are cut into calls of this size). */
        idsPerCall: number;
        /** `auto`: migrate at start (standalone, dev); `verify`: `climcat migrate` runs apart (the chart's Job). */
        migrate: 'auto' | 'verify';
        /** Server-side limit of every read and aggregation (maxTimeMS); exceeded → 503. */
        maxTimeMS: number;
        /** `auto`: delete cascades and audit batches as transactions where the server has them; `off`: sequential. */
        transactions: 'auto' | 'off';
      };
  redisUrl?: string;
  s3?: S3Config;
  oidc?: {
    jwksUrl: string;
    issuer?: string;
    audience?: string;
    groupsClaim: string;
    rolesClaim: string;
    defaultRole: 'reader' | 'curator' | 'admin' | 'none';
  };
  /** Identity from a JupyterHub (JUPYTERHUB_API_URL): tokens, hub OAuth for browsers, session cookies. */
  jupyterhub?: JupyterHubConfig;
  log: { level: string; pretty: boolean };
  /** Storage roots by name: `data` (DATA_ROOT), `scratch` (SCRATCH_ROOT), `derived` (DERIVED_ROOT), S3_BUCKET, plus ROOTS. */
  roots: RootConfig[];
  ingest: {
    concurrency: number;
    scanOnBoot: boolean;
    /**
     * The checksum stage after each scan: SHA256 of files lacking a current one,
     * `concurrency` files at a time, reads paced to `bytesPerSecond` overall (0 = unpaced).
     */
    checksums: { enabled: boolean; concurrency: number; bytesPerSecond: number };
    webhookToken?: string;
    /** Owner group and public flag of datasets created by ingestion. */
    defaultGroup: string;
    public: boolean;
  };
  /** Embedded Node-RED of the ingestor (`/red`). */
  nodeRed: {
    enabled: boolean;
    /** False = headless: flows run, no editor and no admin API. */
    editor: boolean;
    /** Encrypts flow credentials; unset = derived from ADMIN_API_KEY (see node-red.service.ts). */
    credentialSecret?: string;
  };
  shutdownTimeoutMs: number;
  /** Local copies of remote NetCDF-4 objects (h5wasm needs a file): where, and how many bytes at most. */
  remoteCache: { dir: string; maxBytes: number };
  /** Byte budgets: the whole archive (seeds: 100 TB shared) and optional per-tier shares. */
  capacity: { total: number; standard?: number; derived?: number; scratch?: number };
  /** Largest OPeNDAP answers (estimated before reading): binary (.dods) and text (.ascii), like TDS. */
  opendap: { binLimit: number; ascLimit: number };
  /** /thredds data requests (.dods, .ascii, fileServer GET): at once per caller, and how long each may run. */
  threddsLimits: { maxConcurrentPerCaller: number; requestTimeoutMs: number };
  /** `/thredds/s3`: how long the presigned GET URLs it redirects to stay valid. */
  s3Presign: { expirySeconds: number };
  /** Opened files kept between requests (0 = none), and the estimated memory their headers and DDS/DAS may hold. */
  datasetCache: { maxEntries: number; maxBytes: number };
  /** Default per-user scratch quota (admins override per user or group) and upload grant lifetime. */
  scratch: {
    softBytes: number;
    hardBytes: number;
    softFiles: number;
    hardFiles: number;
    graceSeconds: number;
    reservationTtlSeconds: number;
    /**
     * Fair-use purge: files unused this many days are purged, after being on the plan `noticeDays`;
     * the job runs every `intervalMs` (0 = never on its own), deletes nothing when `dryRun`,
     * keeps records of purged files `retentionMs`, and posts notices to `webhook` if set.
     */
    purge: {
      maxIdleDays: number;
      noticeDays: number;
      noatime: boolean;
      intervalMs: number;
      dryRun: boolean;
      retentionMs: number;
      webhook?: string;
    };
    /** Live usage: full scans that correct the watcher's drift, and the most directories it may watch. */
    usage: { reconcileIntervalMs: number; maxWatches?: number; historyKeepDays: number };
  };
}

export interface JupyterHubConfig {
  /** The hub API, e.g. http://hub:8081/hub/api (no trailing slash). */
  apiUrl: string;
  /** This service's own token: the OAuth client secret. Never logged. */
  apiToken: string;
  serviceName: string;
  /** The scopes that let a hub token reach this service; one is required. */
  accessScopes: string[];
  /** Where the hub proxy routes this service (`/services/<name>/`); stripped from request paths. */
  servicePrefix: string;
  clientId: string;
  /** Where browsers are sent to log in: `JUPYTERHUB_HOST` + base URL + `hub/api/oauth2/authorize`. */
  authorizeUrl: string;
  tokenUrl: string;
  /** The redirect_uri registered for the OAuth client (the hub's `oauth_redirect_uri`). */
  callbackUrl: string;
  /** Hub groups named `<prefix>x` become catalog group `x` (others are dropped unless mapped). */
  groupPrefix?: string;
  /** Hub group → catalog groups; with neither this nor a prefix, hub group names are catalog groups. */
  groupMap?: Record<string, string[]>;
  cacheTtlMs: number;
  /** Refusals (unknown token, missing scope) are remembered for less time than identities. */
  negativeCacheTtlMs: number;
  timeoutMs: number;
  /** Seals the browser session cookie; `generated` when SESSION_SECRET was unset (standalone only). */
  session: { secret: string; generated: boolean; ttlMs: number };
}

/** Every variable the schema reads (`.env.example` and docs/operations.md list each; a test checks). */
export function configVariables(): string[] {
  return Object.keys(envSchema.innerType().shape);
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable} ${p.message}`).join('\n')}\n` +
        'See .env.example for every variable and its default.',
    );
    this.name = 'ConfigError';
  }
}

/** Parses an environment (defaults to `process.env`) into the typed config, or throws ConfigError. */
export function loadConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings mean "unset" so `FOO=` in a .env file does not trip validation.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: issue.path.join('.') || '(environment)',
        message: issue.message,
      })),
    );
  }
  const e = parsed.data;
  if (e.JUPYTERHUB_API_URL && !e.SESSION_SECRET && service !== 'standalone') {
    // Replicas must open each other's session cookies, so each cannot invent its own secret.
    throw new ConfigError([
      { variable: 'SESSION_SECRET', message: 'is required with JUPYTERHUB_API_URL outside standalone mode' },
    ]);
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(process.cwd(), p));
  const stateDir = abs(e.STATE_DIR);
  const port = e.PORT ?? DEFAULT_PORTS[service];
  const adapter = e.STORE_ADAPTER ?? (e.MONGODB_URI ? 'mongo' : 'sqlite');
  const publicHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;

  return {
    service,
    port,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://${publicHost}:${port}`).replace(/\/+$/, ''),
    stateDir,
    dataRoot: abs(e.DATA_ROOT ?? `${stateDir}/data`),
    dataRootIsDefault: e.DATA_ROOT === undefined,
    scratchRoot: abs(e.SCRATCH_ROOT ?? `${stateDir}/scratch`),
    derivedRoot: abs(e.DERIVED_ROOT ?? `${stateDir}/derived`),
    demoData: e.DEMO_DATA ?? e.DATA_ROOT === undefined,
    adminApiKey: e.ADMIN_API_KEY,
    store:
      adapter === 'mongo'
        ? {
            adapter,
            uri: e.MONGODB_URI ?? '',
            dbName: e.MONGODB_DB,
            idsPerCall: e.MONGODB_IDS_PER_CALL,
            migrate: e.MONGODB_MIGRATE,
            maxTimeMS: e.MONGODB_MAX_TIME_MS,
            transactions: e.MONGODB_TRANSACTIONS,
          }
        : { adapter, path: `${stateDir}/catalog.sqlite` },
    redisUrl: e.REDIS_URL,
    s3: e.S3_ENDPOINT ? s3Config(e.S3_ENDPOINT, e) : undefined,
    oidc: e.OIDC_JWKS_URL
      ? {
          jwksUrl: e.OIDC_JWKS_URL,
          issuer: e.OIDC_ISSUER,
          audience: e.OIDC_AUDIENCE,
          groupsClaim: e.OIDC_GROUPS_CLAIM,
          rolesClaim: e.OIDC_ROLES_CLAIM,
          defaultRole: e.OIDC_DEFAULT_ROLE,
        }
      : undefined,
    ...(e.JUPYTERHUB_API_URL ? { jupyterhub: jupyterhubConfig(e.JUPYTERHUB_API_URL, e) } : {}),
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY ?? false },
    roots: rootsFrom(e, abs, stateDir),
    ingest: {
      concurrency: e.INGEST_CONCURRENCY,
      scanOnBoot: e.SCAN_ON_BOOT ?? service === 'standalone',
      checksums: {
        enabled: e.CHECKSUM_ENABLED ?? true,
        concurrency: e.CHECKSUM_CONCURRENCY,
        bytesPerSecond: e.CHECKSUM_BYTES_PER_SECOND ?? 50 * 1024 * 1024,
      },
      ...(e.INGEST_WEBHOOK_TOKEN ? { webhookToken: e.INGEST_WEBHOOK_TOKEN } : {}),
      defaultGroup: e.INGEST_DEFAULT_GROUP,
      public: e.INGEST_PUBLIC ?? true,
    },
    nodeRed: {
      enabled: e.NODE_RED_ENABLED ?? true,
      editor: e.NODE_RED_EDITOR ?? true,
      ...(e.NODE_RED_CREDENTIAL_SECRET ? { credentialSecret: e.NODE_RED_CREDENTIAL_SECRET } : {}),
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    remoteCache: { dir: `${stateDir}/cache`, maxBytes: e.REMOTE_CACHE_SIZE ?? 10e9 },
    capacity: {
      total: e.CAPACITY_TOTAL ?? 100e12,
      ...(e.CAPACITY_STANDARD !== undefined ? { standard: e.CAPACITY_STANDARD } : {}),
      ...(e.CAPACITY_DERIVED !== undefined ? { derived: e.CAPACITY_DERIVED } : {}),
      ...(e.CAPACITY_SCRATCH !== undefined ? { scratch: e.CAPACITY_SCRATCH } : {}),
    },
    opendap: { binLimit: e.THREDDS_BIN_LIMIT ?? 500e6, ascLimit: e.THREDDS_ASC_LIMIT ?? 50e6 },
    threddsLimits: {
      maxConcurrentPerCaller: e.THREDDS_MAX_CONCURRENT_PER_CALLER,
      requestTimeoutMs: e.THREDDS_REQUEST_TIMEOUT ?? 600_000,
    },
    s3Presign: { expirySeconds: (e.THREDDS_S3_PRESIGN_EXPIRY ?? 900_000) / 1000 },
    datasetCache: { maxEntries: e.THREDDS_CACHE_FILES, maxBytes: e.THREDDS_CACHE_MEMORY ?? 256 * 2 ** 20 },
    scratch: {
      // A soft limit left at its default never exceeds a hard limit set lower.
      softBytes: e.SCRATCH_SOFT_BYTES ?? Math.min(1e12, e.SCRATCH_HARD_BYTES ?? 2e12),
      hardBytes: e.SCRATCH_HARD_BYTES ?? 2e12,
      softFiles: e.SCRATCH_SOFT_FILES ?? Math.min(1_000_000, e.SCRATCH_HARD_FILES ?? 2_000_000),
      hardFiles: e.SCRATCH_HARD_FILES ?? 2_000_000,
      graceSeconds: Math.round((e.SCRATCH_GRACE ?? 7 * 86400e3) / 1000),
      reservationTtlSeconds: Math.round((e.SCRATCH_RESERVATION_TTL ?? 3600e3) / 1000),
      purge: {
        maxIdleDays: (e.SCRATCH_PURGE_AFTER ?? 56 * 86400e3) / 86400e3,
        noticeDays: (e.SCRATCH_PURGE_NOTICE ?? 7 * 86400e3) / 86400e3,
        noatime: e.SCRATCH_NOATIME ?? false,
        intervalMs: e.SCRATCH_PURGE_INTERVAL ?? 86400e3,
        dryRun: e.SCRATCH_PURGE_DRY_RUN ?? false,
        retentionMs: e.SCRATCH_PURGED_RETENTION ?? 365 * 86400e3,
        ...(e.SCRATCH_NOTIFY_WEBHOOK ? { webhook: e.SCRATCH_NOTIFY_WEBHOOK } : {}),
      },
      usage: {
        reconcileIntervalMs: e.SCRATCH_RECONCILE_INTERVAL ?? 6 * 3600e3,
        ...(e.SCRATCH_MAX_WATCHES !== undefined ? { maxWatches: e.SCRATCH_MAX_WATCHES } : {}),
        historyKeepDays: Math.floor((e.SCRATCH_HISTORY_KEEP ?? 365 * 86400e3) / 86400e3),
      },
    },
  };
}

function rootsFrom(e: z.infer<typeof envSchema>, abs: (p: string) => string, stateDir: string): RootConfig[] {
  const roots: RootConfig[] = [
    { name: 'data', kind: 'posix', dir: abs(e.DATA_ROOT ?? `${stateDir}/data`) },
    { name: 'scratch', kind: 'posix', dir: abs(e.SCRATCH_ROOT ?? `${stateDir}/scratch`) },
    { name: 'derived', kind: 'posix', dir: abs(e.DERIVED_ROOT ?? `${stateDir}/derived`) },
  ];
  if (e.S3_BUCKET && e.S3_ENDPOINT)
    roots.push({ name: e.S3_BUCKET, kind: 's3', bucket: e.S3_BUCKET, prefix: '' });
  for (const entry of (e.ROOTS ?? '').split(',').filter((x) => x.trim())) {
    const [name = '', target = ''] = entry.trim().split(/=(.*)/s);
    const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(target.trim());
    const root: RootConfig = s3
      ? { name, kind: 's3', bucket: s3[1]!, prefix: s3[2]!.replace(/\/+$/, '') }
      : { name, kind: 'posix', dir: abs(target.trim()) };
    const at = roots.findIndex((r) => r.name === name);
    if (at >= 0) roots[at] = root;
    else roots.push(root);
  }
  return roots;
}

function jupyterhubConfig(apiUrl: string, e: z.infer<typeof envSchema>): JupyterHubConfig {
  const name = e.JUPYTERHUB_SERVICE_NAME;
  const prefix = e.JUPYTERHUB_SERVICE_PREFIX ?? `${e.JUPYTERHUB_BASE_URL}services/${name}/`;
  const api = apiUrl.replace(/\/+$/, '');
  let groupMap: Record<string, string[]> | undefined;
  if (e.JUPYTERHUB_GROUP_MAP) {
    groupMap = {};
    for (const pair of e.JUPYTERHUB_GROUP_MAP.split(',')) {
      const [hub = '', catalog = ''] = pair.trim().split('=');
      (groupMap[hub] ??= []).push(catalog);
    }
  }
  const cacheTtlMs = e.JUPYTERHUB_CACHE_TTL ?? 60_000;
  return {
    apiUrl: api,
    apiToken: e.JUPYTERHUB_API_TOKEN ?? '',
    serviceName: name,
    accessScopes: ['access:services', `access:services!service=${name}`],
    servicePrefix: prefix,
    clientId: e.JUPYTERHUB_CLIENT_ID ?? `service-${name}`,
    // JupyterHub's own default: relative, for a service reached through the hub's proxy.
    authorizeUrl: `${e.JUPYTERHUB_HOST?.replace(/\/+$/, '') ?? ''}${e.JUPYTERHUB_BASE_URL}hub/api/oauth2/authorize`,
    tokenUrl: `${api}/oauth2/token`,
    callbackUrl: e.JUPYTERHUB_OAUTH_CALLBACK_URL ?? `${prefix}oauth_callback`,
    ...(e.JUPYTERHUB_GROUP_PREFIX ? { groupPrefix: e.JUPYTERHUB_GROUP_PREFIX } : {}),
    ...(groupMap ? { groupMap } : {}),
    cacheTtlMs,
    negativeCacheTtlMs: Math.min(cacheTtlMs, 10_000),
    timeoutMs: e.JUPYTERHUB_TIMEOUT ?? 5_000,
    session: {
      secret: e.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
      generated: !e.SESSION_SECRET,
      ttlMs: e.SESSION_TTL ?? 8 * 3600e3,
    },
  };
}

function s3Config(endpoint: string, e: z.infer<typeof envSchema>): S3Config {
  return {
    ...hostOf(endpoint),
    region: e.S3_REGION,
    accessKey: e.S3_ACCESS_KEY ?? '',
    secretKey: e.S3_SECRET_KEY ?? '',
    bucket: e.S3_BUCKET,
    derivedPrefix: e.S3_DERIVED_PREFIX,
    ...(e.S3_PUBLIC_ENDPOINT ? { public: hostOf(e.S3_PUBLIC_ENDPOINT) } : {}),
  };
}

function hostOf(endpoint: string): { endPoint: string; port: number; useSSL: boolean } {
  const u = new URL(endpoint);
  const useSSL = u.protocol === 'https:';
  return {
    endPoint: u.hostname,
    port: u.port ? Number(u.port) : useSSL ? 443 : 80,
    useSSL,
  };
}

/** Injection token for AppConfig. */
export const APP_CONFIG = Symbol('climcat.config');
