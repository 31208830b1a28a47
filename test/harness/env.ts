import { Client } from 'minio';

/** Addresses of the servers global-setup started; fails loudly when run outside that harness. */
export function testEnv(
  name: 'TEST_MONGODB_URI' | 'TEST_REDIS_URL' | 'TEST_S3_ENDPOINT' | 'TEST_S3_BUCKET',
): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run this suite through "npm run test:e2e" so the harness starts the servers`,
    );
  return value;
}

/** A minio client for the harness's S3 server (s3rver), path-style, with its fixed test credentials. */
export function s3TestClient(): Client {
  const endpoint = new URL(testEnv('TEST_S3_ENDPOINT'));
  return new Client({
    endPoint: endpoint.hostname,
    port: Number(endpoint.port),
    useSSL: false,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    pathStyle: true,
  });
}
