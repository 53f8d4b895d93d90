import { Testing } from 'cdk8s';
import { PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import {
  connectionBudgetViolation, leaderDemands, nestedDurationViolation, postgresMemoryViolation, redisMemoryViolation, replicaDemands,
} from '../lib/testing';

test('pools that fit max_connections minus the reserve pass, one more connection does not, with the arithmetic', () => {
  const pools = [{ client: 'api', pods: 20, perPod: 10 }, { client: 'exporter', pods: 1, perPod: 1 }];
  expect(connectionBudgetViolation({ server: 'the primary', maxConnections: 204, reserved: 3, pools })).toBeUndefined();
  expect(connectionBudgetViolation({ server: 'the primary', maxConnections: 203, reserved: 3, pools })).toBe(
    'the primary can be asked for api 20 × 10 + exporter 1 × 1 = 201 connections at the autoscalers\' maxima, more than ' +
    'max_connections (203) - superuser_reserved_connections (3) = 200: lower the pools or the maxima, raise \'maxConnections\' ' +
    '(with the memory it needs), or put PgBouncer between (engine \'cloudnative-pg\' with \'pooler\')');
});

test('shared_buffers plus a work_mem per connection must fit the memory limit', () => {
  const budget = { sharedBuffersBytes: 2 ** 30, workMemBytes: 4 * 2 ** 20, memoryLimitBytes: 4 * 2 ** 30 };
  expect(postgresMemoryViolation({ ...budget, maxConnections: 768 })).toBeUndefined();
  expect(postgresMemoryViolation({ ...budget, maxConnections: 1250 })).toBe(
    'shared_buffers (1024MiB) + max_connections (1250) × work_mem (4MiB) = 6024MiB is more than the memory limit (4096MiB): ' +
    'at peak the kernel kills PostgreSQL; lower \'maxConnections\' or \'workMem\', or raise \'resources.memoryLimit\'');
});

test('Redis maxmemory must fit the limit twice over when the server forks, once when it never does', () => {
  const budget = { maxmemoryBytes: 2 * 2 ** 30, memoryLimitBytes: 3 * 2 ** 30 };
  expect(redisMemoryViolation({ ...budget, forks: [] })).toBeUndefined();
  expect(redisMemoryViolation({ ...budget, forks: ['AOF rewrite', 'full sync to replicas'] })).toBe(
    'maxmemory (2048MiB) × 2 = 4096MiB, as it forks for AOF rewrite, full sync to replicas and a fork may copy every page, ' +
    'is more than the memory limit (3072MiB): at peak the kernel kills Redis; lower \'maxmemory\' or raise \'resources.memoryLimit\'');
  expect(redisMemoryViolation({ ...budget, memoryLimitBytes: 4 * 2 ** 30, forks: ['AOF rewrite'] })).toBeUndefined();
  expect(redisMemoryViolation({ ...budget, memoryLimitBytes: 2 ** 30, forks: [] })).toBe(
    'maxmemory (2048MiB) is more than the memory limit (1024MiB): at peak the kernel kills Redis; lower \'maxmemory\' or raise \'resources.memoryLimit\'');
});

test('an inner duration must end before the outer one', () => {
  const d = { inner: '\'jobTimeout\' (300s)', outer: '\'terminationGracePeriod\' (120s)', because: 'a job in hand is killed mid-run' };
  expect(nestedDurationViolation({ ...d, innerSeconds: 119, outerSeconds: 120 })).toBeUndefined();
  expect(nestedDurationViolation({ ...d, innerSeconds: 120, outerSeconds: 120 })).toBe(
    '\'jobTimeout\' (300s) must be shorter than \'terminationGracePeriod\' (120s): a job in hand is killed mid-run');
});

function chartWithPools(maxConnections: number, replicas: number) {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', { replicas, maxConnections });
  const broker = new RedisCluster(chart, 'queue', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', maxReplicas: 20, database: db, databasePool: { primarySize: 10, replicaSize: 5 } });
  new WorkerPool(chart, 'workers', { image: 'example/api:1.0.0', queues: ['jobs'], broker, database: db, maxReplicas: 10 });
  return chart;
}

test('throws error, when the API and the workers at their maxima exceed the primary\'s connections', () => {
  // Patroni members: 20 × 10 + 10 × 10, each pod's replica check on the leader (every member is a read target),
  // the exporter and Patroni = 332 on the leader; 20 × 5 + 10 × 10 + 1 + 1 = 202 on each replica.
  expect(() => Testing.synth(chartWithPools(334, 2))).toThrow(
    'test/db: the primary can be asked for test/api 20 × 10 + test/api replica check 20 × 1 + test/workers 10 × 10 + test/workers replica check 10 × 1 '
    + '+ exporter 1 × 1 + Patroni 1 × 1 = 332 connections');
  expect(() => Testing.synth(chartWithPools(335, 2))).not.toThrow();
  expect(() => Testing.synth(chartWithPools(204, 2))).toThrow(
    'test/db: each replica can be asked for test/api 20 × 5 + test/workers 10 × 10 + exporter 1 × 1 + Patroni 1 × 1 = 202 connections');
});

test('the leader is asked for each client\'s primary pool, and one connection per pod for the replica check when it is a read target too', () => {
  const clients = [{ client: 'api', pods: 20, primaryPerPod: 10, replicaPerPod: 5 }, { client: 'pooler-rw', pods: 2, primaryPerPod: 25, replicaPerPod: 0 }];
  expect(leaderDemands(clients, true)).toEqual([
    { client: 'api', pods: 20, perPod: 10 }, { client: 'api replica check', pods: 20, perPod: 1 }, { client: 'pooler-rw', pods: 2, perPod: 25 },
  ]);
  expect(leaderDemands(clients, false)).toEqual([{ client: 'api', pods: 20, perPod: 10 }, { client: 'pooler-rw', pods: 2, perPod: 25 }]);
  expect(replicaDemands(clients)).toEqual([{ client: 'api', pods: 20, perPod: 5 }, { client: 'pooler-rw', pods: 2, perPod: 0 }]);
});

test('throws error, when max_connections × work_mem and shared_buffers exceed the memory limit', () => {
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { engine: 'statefulset', maxConnections: 1250 })).toThrow(
    'test/db: \'maxConnections\' (1250) is over the memory budget: shared_buffers (1024MiB) + /dev/shm (256MiB) + max_connections (1250) × work_mem (4MiB) = 6280MiB ' +
    'is more than the memory limit (4096MiB)');
});

test('with the patroni engine (the default) Patroni\'s own process counts in the PostgreSQL budget: 688 connections fit 4Gi, 689 do not', () => {
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { maxConnections: 689 })).toThrow(
    'test/db: \'maxConnections\' (689) is over the memory budget: shared_buffers (1024MiB) + /dev/shm (256MiB) + Patroni (64MiB) + max_connections (689) × work_mem (4MiB) = 4100MiB ' +
    'is more than the memory limit (4096MiB)');
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { maxConnections: 688 })).not.toThrow();
});

test('the memory-backed /dev/shm counts in the PostgreSQL budget: 705 connections fit 4Gi without it, not with it', () => {
  const budget = { sharedBuffersBytes: 2 ** 30, workMemBytes: 4 * 2 ** 20, memoryLimitBytes: 4 * 2 ** 30, maxConnections: 705 };
  expect(postgresMemoryViolation(budget)).toBeUndefined();
  expect(postgresMemoryViolation({ ...budget, sharedMemoryBytes: 256 * 2 ** 20 })).toContain('+ /dev/shm (256MiB) + max_connections (705) × work_mem (4MiB) = 4100MiB');
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { engine: 'statefulset', maxConnections: 705 })).toThrow('= 4100MiB is more than the memory limit (4096MiB)');
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { engine: 'statefulset', maxConnections: 704 })).not.toThrow();
});

test('throws error, when the memory request is below shared_buffers', () => {
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { sharedBuffers: '2GB', resources: { memoryRequest: '1Gi' } })).toThrow(
    'test/db: \'resources.memoryRequest\' ("1Gi") must be at least \'sharedBuffers\' (2GB), which PostgreSQL holds from its start');
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { sharedBuffers: '2GB', resources: { memoryRequest: '2Gi' } })).not.toThrow();
});
