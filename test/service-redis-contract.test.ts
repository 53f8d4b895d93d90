import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { queueRedisContractFromEnv, redisContractFromEnv } from '../service/src/redis-contract';

test('no Redis env, no contract', () => {
  expect(redisContractFromEnv({})).toBeUndefined();
});

test('a cluster, a Sentinel master and one server are read with the password', () => {
  expect(redisContractFromEnv({ REDIS_CLUSTER_NODES: 'r-0.r:6379, r-1.r:6380', REDIS_PASSWORD: 'pw' })).toEqual({
    mode: 'cluster', nodes: [{ host: 'r-0.r', port: 6379 }, { host: 'r-1.r', port: 6380 }], password: 'pw',
  });
  expect(redisContractFromEnv({ REDIS_SENTINELS: 's-0:26379', REDIS_SENTINEL_MASTER: 'mymaster' })).toEqual({
    mode: 'sentinel', sentinels: [{ host: 's-0', port: 26379 }], masterName: 'mymaster', password: undefined,
  });
  expect(redisContractFromEnv({ REDIS_URL: 'redis://r:6379/0' })).toEqual({ mode: 'single', url: 'redis://r:6379/0', password: undefined });
});

test('a cluster wins over the others when several are set, as the constructs inject one', () => {
  expect(redisContractFromEnv({ REDIS_CLUSTER_NODES: 'r:6379', REDIS_URL: 'redis://x:1' })?.mode).toBe('cluster');
});

test('throws error, when REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER', () => {
  expect(() => redisContractFromEnv({ REDIS_SENTINELS: 's:26379' })).toThrow('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
});

test('throws error, when a node is not host:port or the URL is not redis://', () => {
  expect(() => redisContractFromEnv({ REDIS_CLUSTER_NODES: 'r:6379,r' })).toThrow('REDIS_CLUSTER_NODES entry "r" must be host:port');
  expect(() => redisContractFromEnv({ REDIS_CLUSTER_NODES: 'r:70000' })).toThrow('REDIS_CLUSTER_NODES entry "r:70000" must be host:port');
  expect(() => redisContractFromEnv({ REDIS_URL: 'r:6379' })).toThrow('REDIS_URL must be a redis:// or rediss:// URL');
});

test('the passwords may come from mounted files: REDIS_PASSWORD_FILE and QUEUE_REDIS_PASSWORD_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hscale-redis-'));
  try {
    writeFileSync(join(dir, 'cache'), 'cache-secret\n');
    writeFileSync(join(dir, 'queue'), 'queue-secret\n');
    const env = { REDIS_URL: 'redis://cache:6379', REDIS_PASSWORD_FILE: join(dir, 'cache'), QUEUE_REDIS_URL: 'redis://queue:6379', QUEUE_REDIS_PASSWORD_FILE: join(dir, 'queue') };
    expect(redisContractFromEnv(env)).toEqual({ mode: 'single', url: 'redis://cache:6379', password: 'cache-secret' });
    expect(queueRedisContractFromEnv(env)).toEqual({ mode: 'single', url: 'redis://queue:6379', password: 'queue-secret' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
