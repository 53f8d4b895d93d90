import { createClient, createCluster } from 'redis';
import { KNOWN_METRICS } from '../lib/monitoring/known-metrics';
import { JobHandler } from '../service/src/queue/worker';
import { RunningWorker, startWorker } from '../service/src/worker-app';
import { startReplicatedPostgres, ReplicatedPostgres } from './support/postgres';
import { freePort, ProcessGroup, sleep, waitFor } from './support/processes';
import { RedisNode, startRedisCluster, TEST_REDIS_PASSWORD } from './support/redis';

// The reference queue worker on a primary + 1 replica and a 6-node Redis Cluster, as WorkerPool wires it.
const group = new ProcessGroup();
let pg: ReplicatedPostgres;
let redis: RedisNode[];
let queueClient: ReturnType<typeof createCluster>;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startReplicatedPostgres(group, 1), startRedisCluster(group, 6, 1, 2000)]);
  queueClient = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${redis[0].port}` }], defaults: { password: TEST_REDIS_PASSWORD } });
  queueClient.on('error', () => undefined);
  await queueClient.connect();
}, 180_000);

afterAll(async () => {
  queueClient?.destroy();
  await group.cleanup();
}, 60_000);

/** The env WorkerPool injects, for one queue. */
const workerEnv = (queue: string) => ({
  WORKER_QUEUE: queue, METRICS_PORT: '0', DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: pg.replicaHosts,
  REDIS_CLUSTER_NODES: redis.map(n => `127.0.0.1:${n.port}`).join(','), REDIS_PASSWORD: TEST_REDIS_PASSWORD,
});

async function metricsText(worker: RunningWorker): Promise<string> {
  return (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
}

const itemsNamed = async (prefix: string) => Number(await pg.primary.sql(`select count(*) from items where name like '${prefix}%'`, 'app'));

test('jobs pushed to the queue become items, and the metrics count them by outcome', async () => {
  // GIVEN a worker on a queue, and 20 good jobs, one malformed and one of an unknown type
  const worker = await startWorker(workerEnv('{jobs}:create'));
  try {
    const jobs = [
      ...Array.from({ length: 20 }, (_, i) => JSON.stringify({ type: 'items.create', name: `queued ${i}`, payload: { i } })),
      'not json', JSON.stringify({ type: 'items.explode' }),
    ];
    // WHEN they are pushed
    await queueClient.rPush('{jobs}:create', jobs);
    // THEN every good job becomes an item, the bad ones are rejected, and the queue drains
    await waitFor('20 items', async () => await itemsNamed('queued ') === 20, 20_000, 100);
    await waitFor('the queue to drain', async () => await queueClient.lLen('{jobs}:create') === 0);
    const text = await metricsText(worker);
    expect(text).toMatch(/^worker_jobs_total\{type="items.create",outcome="done"\} 20$/m);
    expect(text).toMatch(/^worker_jobs_total\{type="unknown",outcome="rejected"\} 1$/m);
    expect(text).toMatch(/^worker_jobs_total\{type="items.explode",outcome="rejected"\} 1$/m);
    expect(text).toMatch(/^worker_active 1$/m);
    // The names the dashboards chart for workers are the ones this worker exports.
    for (const name of KNOWN_METRICS['hscale-worker']) expect(text).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  } finally {
    await worker.stop();
  }
}, 60_000);

test('stop lets the job in hand finish and takes no other', async () => {
  // GIVEN a worker whose jobs take 500 ms, and 5 jobs queued
  const finished: number[] = [];
  const slow: Record<string, JobHandler> = {
    slow: async job => {
      await sleep(500);
      finished.push(job.n as number);
    },
  };
  const worker = await startWorker(workerEnv('{jobs}:slow'), slow);
  await queueClient.rPush('{jobs}:slow', Array.from({ length: 5 }, (_, n) => JSON.stringify({ type: 'slow', n })));
  await waitFor('the first job to be taken', async () => await queueClient.lLen('{jobs}:slow') === 4, 10_000, 20);

  // WHEN the worker is stopped with a job in hand
  await worker.stop();

  // THEN that job finished, and the other 4 are still queued for the next worker
  expect(finished).toEqual([0]);
  expect(await queueClient.lLen('{jobs}:slow')).toBe(4);
}, 60_000);

test('a worker started while its Redis is unreachable waits, and takes jobs once it is there', async () => {
  // GIVEN a worker whose Redis port has nothing listening yet
  const port = await freePort();
  const env = { ...workerEnv('late'), REDIS_CLUSTER_NODES: '', REDIS_PASSWORD: '', REDIS_URL: `redis://127.0.0.1:${port}` };
  const worker = await startWorker(env);
  const client = createClient({ url: env.REDIS_URL });
  client.on('error', () => undefined);
  try {
    await sleep(500);
    expect(await metricsText(worker)).toMatch(/^worker_active 1$/m);
    // WHEN Redis starts there and a job arrives
    group.spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitFor('redis to answer', async () => {
      if (!client.isOpen) await client.connect();
      return (await client.ping()) === 'PONG';
    }, 10_000, 100);
    await client.rPush('late', JSON.stringify({ type: 'items.create', name: 'late job' }));
    // THEN the worker takes it
    await waitFor('the late job to become an item', async () => await itemsNamed('late job') === 1, 15_000, 100);
  } finally {
    client.destroy();
    await worker.stop();
  }
}, 40_000);

test('throws error, when WORKER_QUEUE or the Redis contract is missing', async () => {
  await expect(startWorker({ ...workerEnv('q'), WORKER_QUEUE: '' })).rejects.toThrow('WORKER_QUEUE must name the Redis list the worker takes jobs from');
  await expect(startWorker({ WORKER_QUEUE: 'q', DATABASE_URL: pg.databaseUrl }))
    .rejects.toThrow('a worker needs its queue\'s Redis: set REDIS_CLUSTER_NODES, REDIS_SENTINELS or REDIS_URL');
});
