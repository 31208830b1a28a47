import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives standalone embedded defaults: sqlite under STATE_DIR, port 8080, demo data', () => {
    const config = loadConfig('standalone', { STATE_DIR: '/tmp/cc' });
    expect(config.port).toBe(8080);
    expect(config.store).toEqual({ adapter: 'sqlite', path: '/tmp/cc/catalog.sqlite' });
    expect(config.dataRoot).toBe('/tmp/cc/data');
    expect(config.demoData).toBe(true);
    expect(config.redisUrl).toBeUndefined();
  });

  it('uses each service default port', () => {
    expect(loadConfig('thredds-proxy', {}).port).toBe(3002);
  });

  it('switches to mongo when MONGODB_URI is set', () => {
    const config = loadConfig('catalog', { MONGODB_URI: 'mongodb://db:27017', MONGODB_DB: 'cat' });
    expect(config.store).toEqual({
      adapter: 'mongo',
      uri: 'mongodb://db:27017',
      dbName: 'cat',
      idsPerCall: 10_000,
      migrate: 'auto',
      maxTimeMS: 30_000,
      transactions: 'auto',
    });
  });

  it('lets MONGODB_TRANSACTIONS=off force sequential writes, and rejects other values', () => {
    const env = { MONGODB_URI: 'mongodb://db:27017' };
    expect(loadConfig('catalog', { ...env, MONGODB_TRANSACTIONS: 'off' }).store).toMatchObject({
      transactions: 'off',
    });
    expect(() => loadConfig('catalog', { ...env, MONGODB_TRANSACTIONS: 'yes' })).toThrow(
      'MONGODB_TRANSACTIONS must be auto or off',
    );
  });

  it.each([
    ['PORT', { PORT: 'eighty' }, 'PORT must be a number'],
    ['PORT range', { PORT: '70000' }, 'PORT must be between 1 and 65535'],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }, 'REDIS_URL must start with redis://'],
    ['MONGODB_URI scheme', { MONGODB_URI: 'http://db' }, 'MONGODB_URI must start with mongodb://'],
    ['STORE_ADAPTER', { STORE_ADAPTER: 'postgres' }, 'STORE_ADAPTER must be sqlite or mongo'],
    ['mongo without uri', { STORE_ADAPTER: 'mongo' }, 'MONGODB_URI is required when STORE_ADAPTER=mongo'],
    ['short admin key', { ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY must be at least 16 characters'],
    [
      'S3 without keys',
      { S3_ENDPOINT: 'http://minio:9000' },
      'S3_ACCESS_KEY is required when S3_ENDPOINT is set',
    ],
    ['boolean', { DEMO_DATA: 'maybe' }, 'DEMO_DATA must be true or false'],
    ['size', { CAPACITY_TOTAL: 'lots' }, 'CAPACITY_TOTAL must be a size such as 100TB'],
    ['duration', { THREDDS_REQUEST_TIMEOUT: 'soon' }, 'THREDDS_REQUEST_TIMEOUT must be a duration such as'],
    ['zero duration', { THREDDS_REQUEST_TIMEOUT: '0s' }, 'THREDDS_REQUEST_TIMEOUT must be > 0'],
    [
      'concurrency',
      { THREDDS_MAX_CONCURRENT_PER_CALLER: '0' },
      'THREDDS_MAX_CONCURRENT_PER_CALLER must be > 0',
    ],
    [
      'S3_BUCKET named like a POSIX root',
      { S3_BUCKET: 'data' },
      'S3_BUCKET must be a bucket name other than',
    ],
    ['S3_BUCKET not a root name', { S3_BUCKET: 'a/b:c' }, 'S3_BUCKET must be a bucket name other than'],
    [
      'presign expiry',
      { THREDDS_S3_PRESIGN_EXPIRY: 'later' },
      'THREDDS_S3_PRESIGN_EXPIRY must be a duration',
    ],
    ['zero presign expiry', { THREDDS_S3_PRESIGN_EXPIRY: '0' }, 'THREDDS_S3_PRESIGN_EXPIRY must be > 0'],
    [
      'presign expiry over 7 days',
      { THREDDS_S3_PRESIGN_EXPIRY: '169h' },
      'THREDDS_S3_PRESIGN_EXPIRY must be between 1s and 7 days',
    ],
    [
      'presign expiry under 1 s',
      { THREDDS_S3_PRESIGN_EXPIRY: '500ms' },
      'THREDDS_S3_PRESIGN_EXPIRY must be whole seconds',
    ],
    [
      'presign expiry in fractions',
      { THREDDS_S3_PRESIGN_EXPIRY: '1.5' },
      'THREDDS_S3_PRESIGN_EXPIRY must be whole seconds',
    ],
    ['S3_PUBLIC_ENDPOINT scheme', { S3_PUBLIC_ENDPOINT: 'ftp://s3' }, 'S3_PUBLIC_ENDPOINT must start with'],
    [
      'S3_PUBLIC_ENDPOINT with a path',
      {
        S3_ENDPOINT: 'http://minio:9000',
        S3_ACCESS_KEY: 'a',
        S3_SECRET_KEY: 'b',
        S3_PUBLIC_ENDPOINT: 'https://s3.example.org/minio',
      },
      'S3_PUBLIC_ENDPOINT must be scheme://host[:port] only',
    ],
    [
      'S3_PUBLIC_ENDPOINT without S3_ENDPOINT',
      { S3_PUBLIC_ENDPOINT: 'https://s3.example.org' },
      'S3_PUBLIC_ENDPOINT needs S3_ENDPOINT',
    ],
  ])('rejects bad %s naming the variable', (_name, env, message) => {
    expect(() => loadConfig('catalog', env)).toThrow(ConfigError);
    expect(() => loadConfig('catalog', env)).toThrow(message);
  });

  it('schedules the fair-use purge daily by default, off with off or 0, and checks the webhook URL', () => {
    expect(loadConfig('scratch-quota', {}).scratch.purge).toEqual({
      maxIdleDays: 56,
      noticeDays: 7,
      noatime: false,
      intervalMs: 86400e3,
      dryRun: false,
      retentionMs: 365 * 86400e3,
    });
    const purge = (env: Record<string, string>) => loadConfig('scratch-quota', env).scratch.purge;
    expect([purge({ SCRATCH_PURGE_INTERVAL: 'off' }), purge({ SCRATCH_PURGE_INTERVAL: '0' })]).toEqual([
      expect.objectContaining({ intervalMs: 0 }),
      expect.objectContaining({ intervalMs: 0 }),
    ]);
    expect(
      purge({
        SCRATCH_PURGE_INTERVAL: '12h',
        SCRATCH_PURGE_DRY_RUN: 'true',
        SCRATCH_PURGED_RETENTION: '30d',
        SCRATCH_NOTIFY_WEBHOOK: 'https://hooks.example.org/purge',
      }),
    ).toMatchObject({
      intervalMs: 12 * 3600e3,
      dryRun: true,
      retentionMs: 30 * 86400e3,
      webhook: 'https://hooks.example.org/purge',
    });
    expect(() => loadConfig('scratch-quota', { SCRATCH_PURGE_INTERVAL: 'sometimes' })).toThrow(
      /SCRATCH_PURGE_INTERVAL/,
    );
    expect(() => loadConfig('scratch-quota', { SCRATCH_NOTIFY_WEBHOOK: 'ftp://x.org/' })).toThrow(
      /SCRATCH_NOTIFY_WEBHOOK/,
    );
  });

  it("parses byte budgets with SI and IEC suffixes, defaulting to the seeds' 100 TB", () => {
    expect(loadConfig('catalog', {}).capacity).toEqual({ total: 100e12 });
    expect(loadConfig('catalog', { CAPACITY_TOTAL: '2PB', CAPACITY_SCRATCH: '40TiB' }).capacity).toEqual({
      total: 2e15,
      scratch: 40 * 2 ** 40,
    });
  });

  it('limits /thredds data requests: 4 per caller and 10 minutes each by default, durations with units', () => {
    expect(loadConfig('thredds-proxy', {}).threddsLimits).toEqual({
      maxConcurrentPerCaller: 4,
      requestTimeoutMs: 600_000,
    });
    const set = (v: string) => loadConfig('thredds-proxy', { THREDDS_REQUEST_TIMEOUT: v }).threddsLimits;
    expect(
      [set('90'), set('90s'), set('10m'), set('1h'), set('1500ms')].map((l) => l.requestTimeoutMs),
    ).toEqual([90e3, 90e3, 600e3, 3600e3, 1500]);
    expect(
      loadConfig('thredds-proxy', { THREDDS_MAX_CONCURRENT_PER_CALLER: '16' }).threddsLimits
        .maxConcurrentPerCaller,
    ).toBe(16);
  });

  it('sizes the opened-file cache: 256 files and 256 MiB by default, 0 files turns it off', () => {
    expect(loadConfig('thredds-proxy', {}).datasetCache).toEqual({
      maxEntries: 256,
      maxBytes: 256 * 2 ** 20,
    });
    expect(
      loadConfig('thredds-proxy', { THREDDS_CACHE_FILES: '0', THREDDS_CACHE_MEMORY: '1GB' }).datasetCache,
    ).toEqual({ maxEntries: 0, maxBytes: 1e9 });
    expect(() => loadConfig('thredds-proxy', { THREDDS_CACHE_FILES: '-1' })).toThrow(/THREDDS_CACHE_FILES/);
  });

  it('reads ROOTS: POSIX directories and S3 bucket + prefix, named', () => {
    const { roots } = loadConfig('catalog', {
      STATE_DIR: '/tmp/cc',
      S3_ENDPOINT: 'http://minio:9000',
      S3_ACCESS_KEY: 'a',
      S3_SECRET_KEY: 'b',
      S3_BUCKET: 'whole',
      ROOTS: 'arch=/srv/arch, era=s3://shared/p1/, obs=s3://shared/p10/sub',
    });
    expect(roots).toEqual([
      { name: 'data', kind: 'posix', dir: '/tmp/cc/data' },
      { name: 'scratch', kind: 'posix', dir: '/tmp/cc/scratch' },
      { name: 'derived', kind: 'posix', dir: '/tmp/cc/derived' },
      { name: 'whole', kind: 's3', bucket: 'whole', prefix: '' },
      { name: 'arch', kind: 'posix', dir: '/srv/arch' },
      { name: 'era', kind: 's3', bucket: 'shared', prefix: 'p1' },
      { name: 'obs', kind: 's3', bucket: 'shared', prefix: 'p10/sub' },
    ]);
  });

  it('presigns for 15 minutes by default, durations with units up to 7 days', () => {
    expect(loadConfig('thredds-proxy', {}).s3Presign).toEqual({ expirySeconds: 900 });
    const set = (v: string) =>
      loadConfig('thredds-proxy', { THREDDS_S3_PRESIGN_EXPIRY: v }).s3Presign.expirySeconds;
    expect([set('1'), set('60s'), set('10m'), set('168h'), set('2000ms')]).toEqual([1, 60, 600, 604_800, 2]);
  });

  it('names a public S3 endpoint for presigned URLs only when set', () => {
    const s3 = { S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' };
    expect(loadConfig('thredds-proxy', s3).s3).not.toHaveProperty('public');
    expect(
      loadConfig('thredds-proxy', { ...s3, S3_PUBLIC_ENDPOINT: 'https://s3.example.org/' }).s3,
    ).toMatchObject({
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      public: { endPoint: 's3.example.org', port: 443, useSSL: true },
    });
  });

  it('parses S3 endpoint into client options', () => {
    const config = loadConfig('catalog', {
      S3_ENDPOINT: 'https://s3.example.org',
      S3_ACCESS_KEY: 'a',
      S3_SECRET_KEY: 'b',
    });
    expect(config.s3).toMatchObject({ endPoint: 's3.example.org', port: 443, useSSL: true });
  });
});
