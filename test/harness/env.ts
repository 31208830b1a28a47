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
