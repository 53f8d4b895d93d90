import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, loadConfig, packageVersion, serviceConfigFromEnv } from '../service/src/config';
import { databaseConfigFromEnv } from '../service/src/db/config';

test('the defaults are those of the contract', () => {
  expect(serviceConfigFromEnv({})).toEqual({
    port: 8000, adminToken: undefined, bodyLimit: '100kb', shutdownTimeoutMs: 20_000, shutdownDelayMs: 0,
    cacheDefaultTtlSeconds: 300, cacheTimeoutMs: 250, version: packageVersion(), metricsPrefix: undefined,
  });
});

test('without SERVICE_VERSION the version is the package\'s', () => {
  expect(packageVersion()).toBe(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);
  expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
});

test('env values are read', () => {
  expect(serviceConfigFromEnv({
    PORT: '9000', ADMIN_TOKEN: 't', BODY_LIMIT: '1mb', SHUTDOWN_TIMEOUT_MS: '5000', SHUTDOWN_DELAY_MS: '100', CACHE_DEFAULT_TTL: '60', CACHE_TIMEOUT_MS: '50',
    SERVICE_VERSION: '2.3.0-rc.1+sha.5114f85', METRICS_PREFIX: 'fastnext', PG_POOL_SIZE: '20',
  })).toEqual({
    port: 9000, adminToken: 't', bodyLimit: '1mb', shutdownTimeoutMs: 5000, shutdownDelayMs: 100, cacheDefaultTtlSeconds: 60, cacheTimeoutMs: 50,
    version: '2.3.0-rc.1+sha.5114f85', metricsPrefix: 'fastnext', guidePoolSize: 20,
  });
});

test('throws error, when PG_POOL_SIZE is zero', () => {
  expect(() => serviceConfigFromEnv({ PG_POOL_SIZE: '0' })).toThrow('PG_POOL_SIZE ("0") must be an integer from 1 to 1000');
});

test('throws error, when PORT is not a port', () => {
  expect(() => serviceConfigFromEnv({ PORT: '80a' })).toThrow('PORT ("80a") must be an integer from 1 to 65535');
});

test('throws error, when CACHE_DEFAULT_TTL is zero', () => {
  expect(() => serviceConfigFromEnv({ CACHE_DEFAULT_TTL: '0' })).toThrow('CACHE_DEFAULT_TTL ("0") must be an integer from 1 to 86400');
});

test('throws error, when BODY_LIMIT is not a size', () => {
  expect(() => serviceConfigFromEnv({ BODY_LIMIT: 'big' })).toThrow('BODY_LIMIT ("big") must be a size such as 100kb or 1mb');
});

test.each(['1.0 beta', '-1', 'v'.repeat(65), 'a\nb'])('throws error, when SERVICE_VERSION is %j', version => {
  expect(() => serviceConfigFromEnv({ SERVICE_VERSION: version }))
    .toThrow(`SERVICE_VERSION (${JSON.stringify(version)}) must be 1 to 64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit, e.g. 1.4.2`);
});

test.each(['9lives', 'fast-next', 'fast:next', 'p'.repeat(65)])('throws error, when METRICS_PREFIX is %j', prefix => {
  expect(() => serviceConfigFromEnv({ METRICS_PREFIX: prefix }))
    .toThrow(`METRICS_PREFIX (${JSON.stringify(prefix)}) must be 1 to 64 letters, digits or '_', not starting with a digit, e.g. fastnext`);
});

test('the pool bounds and the pool timeout are read from env, with SQLAlchemy\'s 30 s timeout by default', () => {
  const url = 'postgres://app@db-rw:5432/app';
  expect(databaseConfigFromEnv({ DATABASE_URL: url })).toMatchObject({ primaryPoolMax: 10, replicaPoolMax: 10, poolTimeoutMs: 30_000, poolPipeline: 8 });
  expect(databaseConfigFromEnv({ DATABASE_URL: url, PG_POOL_MAX: '60', PG_REPLICA_POOL_MAX: '30', PG_POOL_TIMEOUT_MS: '10000', PG_POOL_PIPELINE: '8' }))
    .toMatchObject({ primaryPoolMax: 60, replicaPoolMax: 30, poolTimeoutMs: 10_000, poolPipeline: 8 });
});

test.each([['0'], ['600001'], ['1.5']])('throws error, when PG_POOL_TIMEOUT_MS is %s', raw => {
  expect(() => databaseConfigFromEnv({ DATABASE_URL: 'postgres://app@db-rw:5432/app', PG_POOL_TIMEOUT_MS: raw }))
    .toThrow(`PG_POOL_TIMEOUT_MS (${JSON.stringify(raw)}) must be an integer from 1 to 600000`);
});

test('loadConfig reads every part once: the service, the database, the Redis contract, the queues and the worker', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://app@db-rw:5432/app', REDIS_URL: 'redis://r:6379', WORKER_QUEUES: 'a,b', CACHE_DEFAULT_TTL: '60' });
  expect(config.service.cacheDefaultTtlSeconds).toBe(60);
  expect(config.database?.primaryUrl).toBe('postgres://app@db-rw:5432/app');
  expect(config.redis).toEqual({ mode: 'single', url: 'redis://r:6379', password: undefined });
  expect(config.queues).toEqual(['a', 'b']);
  expect(config.worker?.queues).toEqual(['a', 'b']);
});

test('loadConfig needs no database nor queues (the enqueue CLI has neither), and one shutdown default serves the API and the worker', () => {
  const config = loadConfig({});
  expect([config.database, config.redis, config.worker, config.queues]).toEqual([undefined, undefined, undefined, []]);
  expect(config.service.shutdownTimeoutMs).toBe(DEFAULT_SHUTDOWN_TIMEOUT_MS);
});

test('the queue gets its own Redis from QUEUE_REDIS_* when the chart names one, and the cache\'s otherwise', () => {
  const cache = { REDIS_CLUSTER_NODES: 'cache-0:6379,cache-1:6379', REDIS_PASSWORD: 'cache-pw' };
  const queue = { QUEUE_REDIS_SENTINELS: 'queue-sentinel:26379', QUEUE_REDIS_SENTINEL_MASTER: 'hscale', QUEUE_REDIS_PASSWORD: 'queue-pw' };

  const apart = loadConfig({ ...cache, ...queue });
  expect(apart.redis).toEqual({ mode: 'cluster', nodes: [{ host: 'cache-0', port: 6379 }, { host: 'cache-1', port: 6379 }], password: 'cache-pw' });
  expect(apart.queueRedis).toEqual({ mode: 'sentinel', sentinels: [{ host: 'queue-sentinel', port: 26379 }], masterName: 'hscale', password: 'queue-pw' });

  expect(loadConfig(cache).queueRedis).toEqual(loadConfig(cache).redis);
});

test('throws error, when the queue\'s Redis env is malformed, naming the prefixed variable', () => {
  expect(() => loadConfig({ QUEUE_REDIS_SENTINELS: 'queue-sentinel:26379' }))
    .toThrow('QUEUE_REDIS_SENTINEL_MASTER must name the master when QUEUE_REDIS_SENTINELS is set');
  expect(() => loadConfig({ QUEUE_REDIS_URL: 'http://queue:6379' })).toThrow('QUEUE_REDIS_URL must be a redis:// or rediss:// URL');
});

test('the admin token may come from a mounted file (ADMIN_TOKEN_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hscale-admin-'));
  try {
    writeFileSync(join(dir, 'token'), 'admin-from-file\n');
    expect(serviceConfigFromEnv({ ADMIN_TOKEN_FILE: join(dir, 'token') }).adminToken).toBe('admin-from-file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
