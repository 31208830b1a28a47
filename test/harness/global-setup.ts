import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transpileTree } from './transpile';
import { startJongodb, startRedis, startS3rver, type Started } from './servers';

declare global {
  var __climcatServers: Started[] | undefined;
  var __climcatRunDir: string | undefined;
}

export default async function globalSetup(): Promise<void> {
  const starting = Promise.all([startJongodb(), startRedis(), startS3rver()]);
  // The transpiled apps/ and libs/ for suites that start climcat as processes, built while the
  // servers boot; removed by global-teardown.
  globalThis.__climcatRunDir = mkdtempSync(join(tmpdir(), 'climcat-run-'));
  process.env.TEST_BUILD_DIR = join(globalThis.__climcatRunDir, 'build');
  transpileTree(process.env.TEST_BUILD_DIR);
  const [mongo, redis, s3] = await starting;
  globalThis.__climcatServers = [mongo, redis, s3];
  process.env.TEST_MONGODB_URI = mongo.url;
  process.env.TEST_REDIS_URL = redis.url;
  process.env.TEST_S3_ENDPOINT = s3.url;
  process.env.TEST_S3_BUCKET = 'climcat-test';
  process.env.TEST_S3_ACCESS_KEY = 'S3RVER';
  process.env.TEST_S3_SECRET_KEY = 'S3RVER';
}
