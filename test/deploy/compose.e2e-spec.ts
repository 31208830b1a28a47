/**
 * deploy/compose.yaml, validated offline by Debian's docker-compose (`config`
 * resolves anchors, interpolation and the schema) and read back to check that
 * the services are wired as the product needs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_PORTS } from '@climcat/platform';
import { which } from '../harness/servers';

const ROOT = join(__dirname, '..', '..');
const COMPOSE = join(ROOT, 'deploy', 'compose.yaml');
const SECRETS = {
  ADMIN_API_KEY: 'admin-key-0123456789abcdef',
  INGEST_WEBHOOK_TOKEN: 'webhook-token-0123456789',
  NODE_RED_CREDENTIAL_SECRET: 'nodered-secret-0123456789',
  MINIO_ROOT_PASSWORD: 'minio-secret-0123456789',
};
const CLIMCAT = ['catalog', 'ingestor', 'thredds-proxy', 'scratch-quota'] as const;

type Service = Record<string, any>;

function compose(env: Record<string, string>): { status: number; stdout: string; stderr: string } {
  const binary = which('docker-compose');
  if (!binary)
    throw new Error(
      'docker-compose is not installed: apt-get install docker-compose (scripts/install-system-deps.sh)',
    );
  // Only the variables given: nothing from the developer's shell leaks into the check.
  const out = spawnSync(binary, ['-f', COMPOSE, 'config'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  return { status: out.status ?? -1, stdout: out.stdout, stderr: out.stderr };
}

let services: Record<string, Service>;
let volumes: Record<string, unknown>;

beforeAll(() => {
  const out = compose(SECRETS);
  if (out.status !== 0) throw new Error(`docker-compose config failed: ${out.stderr}`);
  const parsed = parse(out.stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  services = parsed.services;
  volumes = parsed.volumes;
});

test('docker-compose config accepts the file: the four services, the router and real MongoDB, Redis, MinIO', () => {
  expect(Object.keys(services).sort()).toEqual(
    [
      'catalog',
      'ingestor',
      'minio',
      'minio-init',
      'mongo',
      'mongo-init',
      'redis',
      'router',
      'scratch-quota',
      'thredds-proxy',
    ].sort(),
  );
  expect(Object.keys(volumes).sort()).toEqual(['minio-data', 'mongo-data', 'redis-data']);
});

test.each(CLIMCAT)(
  '%s runs its entry point on its port, non-root and read-only, once its dependencies are up',
  (name) => {
    const s = services[name]!;
    expect(s.command).toEqual(['node', `dist/apps/${name}/src/main.js`]);
    expect(s.environment.PORT).toBe(String(DEFAULT_PORTS[name]));
    expect(s.user).toBe('10001:10001');
    expect(s.read_only).toBe(true);
    expect(s.cap_drop).toEqual(['ALL']);
    expect(s.healthcheck.test.join(' ')).toContain('/health/ready');
    expect(s.depends_on).toEqual({
      'mongo-init': { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
      'minio-init': { condition: 'service_completed_successfully' },
    });
    expect(s.environment).toMatchObject({
      STORE_ADAPTER: 'mongo',
      REDIS_URL: 'redis://redis:6379',
      S3_ENDPOINT: 'http://minio:9000',
      ADMIN_API_KEY: SECRETS.ADMIN_API_KEY,
    });
    // The archive is read-only everywhere; scratch is writable only where quotas are enforced.
    const mounts: string[] = (s.volumes ?? []).map((v: string | { target: string; read_only?: boolean }) =>
      typeof v === 'string' ? v : `${v.target}${v.read_only ? ':ro' : ''}`,
    );
    expect(mounts.some((m) => /\/data(:ro)?$/.test(m) && m.endsWith(':ro'))).toBe(true);
    expect(mounts.some((m) => m.includes('/scratch'))).toBe(name === 'scratch-quota');
    // Promotions write the derived area (scratch-quota); the other services read it.
    const derived = mounts.find((m) => /:\/data\/derived(:r[ow])?$/.test(m));
    expect([name, derived?.endsWith(':ro')]).toEqual([name, name !== 'scratch-quota']);
    expect(s.environment.DERIVED_ROOT).toBe('/data/derived');
  },
);

test('every climcat variable set in compose is one the config schema documents', () => {
  const known = new Set(
    readFileSync(join(ROOT, '.env.example'), 'utf8')
      .split('\n')
      .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
      .filter((k): k is string => !!k),
  );
  for (const name of CLIMCAT)
    for (const key of Object.keys(services[name]!.environment))
      expect([name, key, known.has(key)]).toEqual([name, key, true]);
});

test('MongoDB is a replica set, initiated once, and the URI names it', () => {
  expect(services.mongo!.command).toEqual(['mongod', '--replSet', 'rs0', '--bind_ip_all']);
  expect(services['mongo-init']!.command.join(' ')).toContain("rs.initiate({ _id: 'rs0'");
  expect(services.catalog!.environment.MONGODB_URI).toContain('replicaSet=rs0');
});

test("MinIO sends the archive bucket's events to the ingestor's webhook with its token", () => {
  const minio = services.minio!.environment;
  const ingestor = services.ingestor!.environment;
  expect(minio.MINIO_NOTIFY_WEBHOOK_ENDPOINT_CLIMCAT).toBe(
    `http://ingestor:${ingestor.PORT}/ingest/v1/webhooks/s3`,
  );
  expect(minio.MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_CLIMCAT).toBe(ingestor.INGEST_WEBHOOK_TOKEN);
  const init = services['minio-init']!.command.join(' ');
  expect(init).toContain(`local/${ingestor.S3_BUCKET}`);
  expect(init).toContain(
    `mc event add local/${ingestor.S3_BUCKET} arn:minio:sqs::CLIMCAT:webhook --event put,delete`,
  );
  expect(ingestor.S3_SECRET_KEY).toBe(SECRETS.MINIO_ROOT_PASSWORD);
});

test('the router mounts the nginx files of the repository and waits for healthy services', () => {
  const router = services.router!;
  for (const v of router.volumes as (string | { source: string })[]) {
    const source = typeof v === 'string' ? v.split(':')[0]! : v.source;
    expect([source, existsSync(resolve(dirname(COMPOSE), source))]).toEqual([source, true]);
  }
  expect(
    Object.values(router.depends_on as Record<string, { condition: string }>).map((d) => d.condition),
  ).toEqual(CLIMCAT.map(() => 'service_healthy'));
});

test.each(Object.keys(SECRETS))('a missing %s stops the stack before it starts, naming it', (secret) => {
  const env: Record<string, string> = { ...SECRETS };
  delete env[secret];
  const out = compose(env);
  expect(out.status).not.toBe(0);
  expect(out.stderr).toContain(`set ${secret}`);
});
