import { Testing } from 'cdk8s';
import { PgReplicaSet, RedisCluster, ScaledApi, ScaledApiProps, WorkerPool, WorkerPoolProps } from '../lib';
import { redisSize, redisUrl } from '../lib/core/wiring-env';
import { findObject } from './support/find';
import { Manifest } from './support/manifest-checks';

/** The API container's env, in order, of an API wired by `props(chart)`. */
function apiEnv(props: (chart: ReturnType<typeof Testing.chart>) => Partial<ScaledApiProps>): Array<{ name: string; value?: string }> {
  const chart = Testing.chart();
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', ...props(chart) });
  return findObject(Testing.synth(chart), 'Deployment').spec.template.spec.containers[0].env.map((e: Manifest) => ({ name: e.name, value: e.value }));
}

/** The worker container's env, in order, of a pool on a noeviction broker, wired by `props(chart)`. */
function workerEnv(props: (chart: ReturnType<typeof Testing.chart>) => Partial<WorkerPoolProps>): Array<{ name: string; value?: string }> {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'queue', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
  new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker, ...props(chart) });
  return findObject(Testing.synth(chart), 'Deployment').spec.template.spec.containers[0].env.map((e: Manifest) => ({ name: e.name, value: e.value }));
}

const valueOf = (env: Array<{ name: string; value?: string }>, name: string) => env.find(e => e.name === name)?.value;

test('each fact comes from the wiring: the database\'s primary and port, the cache\'s first node and maxmemory, the autoscaler\'s bounds', () => {
  const env = apiEnv(chart => ({
    database: new PgReplicaSet(chart, 'db', {}),
    cache: new RedisCluster(chart, 'cache', { maxmemory: '512Mi' }),
    minReplicas: 4, maxReplicas: 12, cpuUtilization: 60, memoryUtilization: false,
    wiringEnv: { databaseHost: 'DB_HOST', databasePort: 'DB_PORT', databaseName: 'DB_NAME', cacheHost: 'CACHE_HOST', cachePort: 'CACHE_PORT',
      cacheEnabled: 'CACHE_ON', cacheMaxSize: 'CACHE_MAX', autoscalingEnabled: 'AUTOSCALE', minReplicas: 'MIN', maxReplicas: 'MAX', cpuUtilization: 'CPU' },
  }));
  expect(valueOf(env, 'DATABASE_URL')).toContain(`@${valueOf(env, 'DB_HOST')}:${valueOf(env, 'DB_PORT')}/$(PGDATABASE)`);
  expect(valueOf(env, 'DB_NAME')).toBe('$(PGDATABASE)');
  expect(`${valueOf(env, 'CACHE_HOST')}:${valueOf(env, 'CACHE_PORT')}`).toBe(valueOf(env, 'REDIS_CLUSTER_NODES')!.split(',')[0]);
  expect(['CACHE_ON', 'CACHE_MAX', 'AUTOSCALE', 'MIN', 'MAX', 'CPU'].map(name => valueOf(env, name))).toEqual(['true', '512mb', 'true', '4', '12', '60']);
});

test('a URL expands the password var of its link, which comes earlier in the env, so Kubernetes can expand it', () => {
  const env = apiEnv(chart => ({
    cache: new RedisCluster(chart, 'cache', { mode: 'standalone' }),
    queueBroker: new RedisCluster(chart, 'queue', { mode: 'sentinel', replicas: 1, sentinels: 3, maxmemoryPolicy: 'noeviction' }),
    wiringEnv: { cacheUrl: 'REDIS_CACHE_URL', queueUrl: 'BROKER_URL', cacheEnabled: 'CACHE_ENABLED' },
  }));
  expect(valueOf(env, 'REDIS_CACHE_URL')).toBe(valueOf(env, 'REDIS_URL')!.replace('redis://', 'redis://:$(REDIS_PASSWORD)@'));
  expect(valueOf(env, 'BROKER_URL')).toMatch(/^sentinel:\/\/:\$\(QUEUE_REDIS_PASSWORD\)@test-queue-sentinel-0\.[^;]+:26379;sentinel:\/\//);
  const index = (name: string) => env.findIndex(e => e.name === name);
  expect(index('QUEUE_REDIS_PASSWORD')).toBeLessThan(index('BROKER_URL'));
  expect(index('REDIS_PASSWORD')).toBeLessThan(index('REDIS_CACHE_URL'));
});

test('without a queue Redis of its own the queue URL is the cache\'s, and a cluster\'s URL seeds its first node', () => {
  expect(redisUrl([{ name: 'REDIS_CLUSTER_NODES', value: 'a:6379,b:6379' }], '')).toBe('redis://:$(REDIS_PASSWORD)@a:6379');
  const env = apiEnv(chart => ({ cache: new RedisCluster(chart, 'cache', {}), wiringEnv: { cacheUrl: 'A', queueUrl: 'B' } }));
  expect(valueOf(env, 'B')).toBe(valueOf(env, 'A'));
});

test('a pool gets the same facts: the broker\'s URL as the queue\'s, the cache\'s beside it, its own autoscaler\'s bounds', () => {
  // GIVEN a pool whose broker is its only Redis
  const alone = workerEnv(() => ({ minReplicas: 2, maxReplicas: 8, wiringEnv: { cacheUrl: 'REDIS_URL_OF_APP', queueUrl: 'CELERY_BROKER_URL', minReplicas: 'MIN', maxReplicas: 'MAX' } }));
  // THEN both URLs are the broker's, in REDIS_*
  expect(valueOf(alone, 'CELERY_BROKER_URL')).toBe(valueOf(alone, 'REDIS_URL')!.replace('redis://', 'redis://:$(REDIS_PASSWORD)@'));
  expect(valueOf(alone, 'REDIS_URL_OF_APP')).toBe(valueOf(alone, 'CELERY_BROKER_URL'));
  expect([valueOf(alone, 'MIN'), valueOf(alone, 'MAX')]).toEqual(['2', '8']);
  // GIVEN a pool with a cache of its own, scaled on CPU
  const beside = workerEnv(chart => ({
    cache: new RedisCluster(chart, 'cache', { mode: 'sentinel', replicas: 1, sentinels: 3 }), autoscalerKind: 'cpu', cpuUtilization: 60,
    wiringEnv: { cacheUrl: 'REDIS_URL_OF_APP', queueUrl: 'CELERY_BROKER_URL', cpuUtilization: 'CPU' },
  }));
  // THEN the queue's URL is the broker's under QUEUE_, the cache's is the cache's Sentinels
  expect(valueOf(beside, 'CELERY_BROKER_URL')).toBe(valueOf(beside, 'QUEUE_REDIS_URL')!.replace('redis://', 'redis://:$(QUEUE_REDIS_PASSWORD)@'));
  expect(valueOf(beside, 'REDIS_URL_OF_APP')).toMatch(/^sentinel:\/\/:\$\(REDIS_PASSWORD\)@test-cache-sentinel-0\./);
  expect(valueOf(beside, 'CPU')).toBe('60');
});

test('throws error, when a pool scaled by KEDA is asked for its CPU target', () => {
  expect(() => workerEnv(() => ({ wiringEnv: { cpuUtilization: 'TARGET_CPU_PERCENT' } }))).toThrow(
    'test/jobs: \'wiringEnv.cpuUtilization\' ("TARGET_CPU_PERCENT") needs a CPU target (a WorkerPool\'s autoscalerKind \'cpu\'), which is absent here');
});

test('sizes are in Redis\'s units, the largest that divides them', () => {
  expect([2 * 1024 ** 3, 1536 * 1024 ** 2, 1000].map(redisSize)).toEqual(['2gb', '1536mb', '1000']);
});

test.each<[string, (chart: ReturnType<typeof Testing.chart>) => Partial<ScaledApiProps>, string]>([
  ['a fact needs a database the API has not', () => ({ wiringEnv: { databaseHost: 'POSTGRES_SERVER' } }),
    'test/api: \'wiringEnv.databaseHost\' ("POSTGRES_SERVER") needs \'database\', which is absent here'],
  ['the memory target is asked of an API that scales on CPU only', () => ({ memoryUtilization: false, wiringEnv: { memoryUtilization: 'TARGET_MEMORY_PERCENT' } }),
    'test/api: \'wiringEnv.memoryUtilization\' ("TARGET_MEMORY_PERCENT") needs a memory target (a ScaledApi\'s \'memoryUtilization\'), which is absent here'],
  ['a name is not an env var name', () => ({ wiringEnv: { minReplicas: 'MIN-REPLICAS' } }),
    'test/api: \'wiringEnv.minReplicas\' ("MIN-REPLICAS") must be an env var name'],
  ['a name is set by env too', () => ({ env: { MIN_REPLICAS: '3' }, wiringEnv: { minReplicas: 'MIN_REPLICAS' } }),
    'test/api: \'env\' ("MIN_REPLICAS") is set twice'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => apiEnv(props)).toThrow(message);
});
