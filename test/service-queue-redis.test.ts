import { Testing } from 'cdk8s';
import { RedisCluster } from '../lib';
import { MaxmemoryPolicy } from '../lib/core/endpoints';
import { ReadThroughCache } from '../service/src/cache/cache';
import { cacheClientFromEnv } from '../service/src/cache/client';
import { itemKey } from '../service/src/cache/keys';
import { closeQuietly, queueConnectionFromEnv } from '../service/src/queue/connection';
import { JobProducer } from '../service/src/queue/producer';
import { workerSettingsFromEnv } from '../service/src/queue/settings';
import { QueueWorkers } from '../service/src/queue/worker';
import { ProcessGroup, waitFor } from './support/processes';
import { infoField, redisCli, startRedisNode, startSentinelGroup, TEST_REDIS_PASSWORD, TEST_SENTINEL_PASSWORD } from './support/redis';

// The queue on real Redis servers: what an eviction policy does to BullMQ's keys next to the
// cache's, and jobs through a Sentinel-managed master. Producer and workers run in-process on the
// connections the env contract opens; the jobs need no database.
const group = new ProcessGroup();
afterAll(() => group.cleanup(), 30_000);

const JOBS = 200;

/** A standalone Redis run from the RedisCluster's rendered redis.conf, with a small maxmemory. */
async function startBroker(maxmemoryPolicy: MaxmemoryPolicy) {
  const broker = new RedisCluster(Testing.chart(), 'cache', { mode: 'standalone', maxmemory: '8Mi', maxmemoryPolicy });
  const node = await startRedisNode(group, { mode: 'standalone', redisConf: broker.redisConf });
  return { node, env: { REDIS_URL: `redis://127.0.0.1:${node.port}`, REDIS_PASSWORD: TEST_REDIS_PASSWORD } };
}

/** Fills the cache with 20 KB values (bounded: at most 40 MB, five times maxmemory) until Redis has evicted 100 keys. */
async function fillCache(cache: ReadThroughCache, port: number): Promise<number> {
  const value = 'x'.repeat(20_000);
  let evicted = 0;
  for (let i = 0; i < 2000 && evicted < 100; i++) {
    await cache.getOrLoad(itemKey(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`), ['items'], async () => value);
    if (i % 20 === 19) {
      await cache.invalidate(itemKey(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`), ['items'], '0/16');
      evicted = Number(infoField(await redisCli(port, ['info', 'stats']), 'evicted_keys'));
    }
  }
  return evicted;
}

/**
 * Every key outside the queues' `{hscale}` prefix, with its TTL in seconds (-1: none), read in one
 * script: a redis-cli per key (hundreds of processes) took the test past its bound on a loaded machine.
 */
async function cacheKeyTtls(port: number): Promise<Map<string, number>> {
  const script = `local out, cursor = {}, '0'
    repeat
      local page = redis.call('SCAN', cursor, 'COUNT', 1000)
      cursor = page[1]
      for _, key in ipairs(page[2]) do
        if string.sub(key, 1, 8) ~= '{hscale}' then table.insert(out, key); table.insert(out, redis.call('TTL', key)) end
      end
    until cursor == '0'
    return out`;
  const lines = (await redisCli(port, ['eval', script, '0'])).split('\n').filter(line => line !== '');
  const ttls = new Map<string, number>();
  for (let i = 0; i + 1 < lines.length; i += 2) ttls.set(lines[i], Number(lines[i + 1]));
  return ttls;
}

test.each([
  ['volatile-lru', 'the cache\'s keys are evicted and every waiting job survives'],
  ['allkeys-lru', 'waiting jobs are evicted with the cache\'s keys (why a WorkerPool refuses such a broker)'],
] as const)('under maxmemory with %s: %s', async (policy, _outcome) => {
  // GIVEN 200 waiting jobs and a cache on one Redis of 8 MiB
  const { node, env } = await startBroker(policy);
  const connection = queueConnectionFromEnv(env, 'producer')!;
  const producer = new JobProducer(connection, ['evict']);
  const cache = new ReadThroughCache(cacheClientFromEnv(env), 3600, 2000);
  try {
    await waitFor('the producer connection', async () => connection.status === 'ready', 10_000);
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) ids.push(await producer.add('evict', 'items.create', { name: `job ${i}`, payload: {} }));
    await waitFor('the cache connection', async () => (await cache.ping().then(() => true, () => false)), 10_000);

    // WHEN the cache writes five times maxmemory
    const evicted = await fillCache(cache, node.port);

    // THEN Redis evicted keys; every key the cache wrote carries a TTL (tags and write markers too)
    expect(evicted).toBeGreaterThanOrEqual(100);
    const ttls = await cacheKeyTtls(node.port);
    expect(ttls.size).toBeGreaterThan(0);
    expect([...ttls].filter(([, ttl]) => !(ttl > 0))).toEqual([]);
    const waiting = Number(await redisCli(node.port, ['llen', '{hscale}:evict:wait']));
    const states = await Promise.all(ids.map(async id => (await producer.status(id))?.state ?? 'lost'));
    // Each policy has its own expectation; the test runs once per policy, so each branch runs.
    /* eslint-disable jest/no-conditional-expect */
    if (policy === 'volatile-lru') {
      // ... and no queue key was touched: the wait list and every job are whole.
      expect(waiting).toBe(JOBS);
      expect(states.filter(state => state !== 'waiting')).toEqual([]);
    } else {
      expect(states.filter(state => state === 'lost').length + (JOBS - waiting)).toBeGreaterThan(0);
    }
    /* eslint-enable jest/no-conditional-expect */
  } finally {
    await cache.close();
    await producer.close();
    closeQuietly(connection);
  }
}, 60_000);

/** Adds `count` jobs named `<prefix> <i>`, retrying each add (bounded) while the master changes; returns their ids. */
async function addJobs(producer: JobProducer, queue: string, prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(await waitFor(`job ${prefix} ${i} added`, () => producer.add(queue, 'items.create', { name: `${prefix} ${i}`, payload: {} }).catch(() => undefined), 20_000, 200));
  }
  return ids;
}

test('over Redis Sentinel, jobs enqueued by the producer complete on a worker connected with the Sentinel env, also after a failover', async () => {
  // GIVEN a master with a replica and 3 Sentinels, and the env WorkerPool injects for them
  const sentinel = await startSentinelGroup(group, { replicas: 1, sentinels: 3, quorum: 2, downAfterMs: 1000 });
  const env = {
    REDIS_SENTINELS: sentinel.sentinels.map(s => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_MASTER: sentinel.masterName,
    REDIS_USERNAME: 'app', REDIS_PASSWORD: TEST_REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD: TEST_SENTINEL_PASSWORD, WORKER_QUEUES: 'sentinel-jobs', WORKER_CONCURRENCY: '4',
  };
  const done = new Set<string>();
  const producerConnection = queueConnectionFromEnv(env, 'producer')!;
  const workerConnection = queueConnectionFromEnv(env, 'worker')!;
  const producer = new JobProducer(producerConnection, ['sentinel-jobs']);
  const workers = new QueueWorkers(workerConnection, workerSettingsFromEnv(env), {
    'items.create': async data => {
      done.add((data as { name: string }).name);
      return 'ok';
    },
  });
  try {
    await waitFor('the producer connection', async () => producerConnection.status === 'ready', 15_000);
    workers.start();

    // WHEN 100 jobs are enqueued
    const before = await addJobs(producer, 'sentinel-jobs', 'before', 100);

    // THEN each runs, and each is completed on the master the Sentinels name
    await waitFor('100 jobs done', async () => done.size === 100, 30_000, 100);
    expect(Number(await redisCli(sentinel.master.port, ['zcard', '{hscale}:sentinel-jobs:completed']))).toBe(100);

    // WHEN the master dies and the Sentinels promote the replica, and 100 more jobs are enqueued
    await sentinel.master.stop('SIGKILL');
    await waitFor('the replica promoted', async () => infoField(await redisCli(sentinel.replicas[0].port, ['info', 'replication']), 'role') === 'master', 30_000, 200);
    const after = await addJobs(producer, 'sentinel-jobs', 'after', 100);

    // THEN producer and worker follow the new master: every job of both rounds is completed there
    await waitFor('200 jobs done', async () => done.size === 200, 45_000, 100);
    const states = await Promise.all([...before, ...after].map(async id => (await producer.status(id))?.state));
    expect(states.filter(state => state !== 'completed')).toEqual([]);
  } finally {
    // Without waiting for jobs in hand: a failed test must not wait on a Redis that is gone.
    await workers.close(true);
    await producer.close();
    closeQuietly(producerConnection);
    closeQuietly(workerConnection);
  }
}, 120_000);
