import { startJongodb, startRedis, startS3rver, type Started } from './servers';

declare global {
  var __climcatServers: Started[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  const [mongo, redis, s3] = await Promise.all([startJongodb(), startRedis(), startS3rver()]);
  globalThis.__climcatServers = [mongo, redis, s3];
  process.env.TEST_MONGODB_URI = mongo.url;
  process.env.TEST_REDIS_URL = redis.url;
  process.env.TEST_S3_ENDPOINT = s3.url;
  process.env.TEST_S3_BUCKET = 'climcat-test';
  process.env.TEST_S3_ACCESS_KEY = 'S3RVER';
  process.env.TEST_S3_SECRET_KEY = 'S3RVER';
}
