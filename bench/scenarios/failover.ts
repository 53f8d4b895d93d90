import { cacheClientFromEnv } from '../../service/src/cache/client';
import { sleep, waitFor, withTimeout } from '../../test/support/processes';
import { redisCli, TEST_REDIS_PASSWORD } from '../../test/support/redis';
import { BenchContext, Scenario } from '../support/context';
import { HttpClient, loops } from '../support/http';
import { keySlot } from '../support/slots';
import { Stack } from '../support/stack';
import { median } from '../support/stats';

const REPEATS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOAD_CONCURRENCY = 8;
const POLL_MS = 20;

interface Outage { ms: number; failed: number }

/**
 * Reads through `client` from LOAD_CONCURRENCY loops while `outage` runs (it resolves with the
 * outage's duration), and for a second after; counts the requests that did not get a 200.
 */
async function underLoad(client: HttpClient, ids: string[], outage: () => Promise<number>): Promise<Outage> {
  let done = false;
  let failed = 0;
  const requests = loops(LOAD_CONCURRENCY, 1_000_000, () => done, async i => {
    const reply = await client.send('GET', `/api/v1/items/${ids[i % ids.length]}`);
    if (reply.status !== 200) failed++;
  });
  await sleep(300);
  try {
    const ms = await outage();
    await sleep(1000);
    return { ms, failed };
  } finally {
    done = true;
    await requests;
  }
}

type ReplicaStatus = { replicas: Array<{ name: string; healthy: boolean }> };

/** Stops the replica (immediate: a crash) and times until the service reports it ejected; then restarts it. */
async function replicaEjection(stack: Stack, client: HttpClient): Promise<Outage> {
  const healthy = async () => (await client.json<ReplicaStatus>('/api/v1/scaling/replication/status')).replicas[0].healthy;
  await waitFor('the replica to take reads', healthy, 30_000);
  const outage = await underLoad(client, stack.items.slice(0, 1000), async () => {
    const stopped = performance.now();
    const stopping = stack.pg.replicas[0].stop('immediate');
    await waitFor('the replica to be ejected', async () => !(await healthy()), 30_000, POLL_MS);
    const ms = performance.now() - stopped;
    await stopping;
    return ms;
  });
  await stack.pg.restartReplica(0);
  await waitFor('the replica to be readmitted', healthy, 60_000, 100);
  return outage;
}

/** The nodes `cluster nodes` lists as live masters with slots: port and slot ranges. */
async function liveMasters(stack: Stack): Promise<Array<{ port: number; ranges: Array<[number, number]> }>> {
  const alive = stack.redis.map(n => n.port);
  for (const port of alive) {
    const listing = await redisCli(port, ['cluster', 'nodes']).catch(() => '');
    if (!listing) continue;
    return listing.trim().split('\n').map(line => line.split(' ')).filter(f => f[2].includes('master') && !f[2].includes('fail') && f.length > 8)
      .map(f => ({
        port: Number(f[1].split('@')[0].split(':')[1]),
        ranges: f.slice(8).filter(s => /^\d/.test(s)).map(s => s.split('-').map(Number) as [number, number]).map(([a, b]) => [a, b ?? a] as [number, number]),
      }));
  }
  throw new Error('no Redis node answered CLUSTER NODES');
}

/** Kills a cluster master (SIGKILL) and times until a write to one of its slots succeeds again; then restarts it. */
async function redisFailover(stack: Stack, client: HttpClient): Promise<Outage> {
  const [master] = await liveMasters(stack);
  let key = '';
  for (let i = 0; !key && i < 100_000; i++) {
    const slot = keySlot(`bench:failover:${i}`);
    if (master.ranges.some(([a, b]) => slot >= a && slot <= b)) key = `bench:failover:${i}`;
  }
  const cache = cacheClientFromEnv({ REDIS_CLUSTER_NODES: stack.redisNodes, REDIS_PASSWORD: TEST_REDIS_PASSWORD })!;
  const node = stack.redis.find(n => n.port === master.port)!;
  try {
    await waitFor('the cache client to write', async () => { await cache.set(key, 'before', 60); return true; }, 20_000);
    const outage = await underLoad(client, stack.items.slice(0, 1000), async () => {
      const killed = performance.now();
      await node.stop('SIGKILL');
      for (let i = 0; i < 10_000; i++) {
        const ok = await withTimeout(cache.set(key, `after ${i}`, 60), 1000).then(() => true, () => false);
        if (ok) return performance.now() - killed;
        await sleep(POLL_MS);
      }
      throw new Error(`writes to slot of ${key} never succeeded after the master on ${master.port} was killed`);
    });
    await node.restart();
    await waitFor('the restarted node to rejoin', async () =>
      (await redisCli(master.port, ['cluster', 'info'])).includes('cluster_state:ok'), 30_000, 200);
    return outage;
  } finally {
    await cache.close();
  }
}

/** Replica ejection and Redis Cluster failover times, with the failed requests of a read load during each. */
export const failover: Scenario = {
  id: 'failover',
  title: '6 failover',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const { direct } = await context.backends();
    const replicaClient = new HttpClient(direct.replica.url, LOAD_CONCURRENCY);
    const cachedClient = new HttpClient(direct.cached.url, LOAD_CONCURRENCY);
    try {
      const ejections: Outage[] = [];
      for (let i = 0; i < REPEATS; i++) ejections.push(await replicaEjection(stack, replicaClient));
      const failovers: Outage[] = [];
      for (let i = 0; i < REPEATS; i++) failovers.push(await redisFailover(stack, cachedClient));
      const sum = (outages: Outage[]) => outages.reduce((n, o) => n + o.failed, 0);
      return {
        figures: [
          { name: 'replica ejection time (crash to no reads)', value: median(ejections.map(o => o.ms)), unit: 'ms', runs: ejections.map(o => o.ms) },
          { name: 'failed reads during replica crashes', value: sum(ejections), unit: '', goal: { op: '<=', target: 0 } },
          { name: 'Redis failover time (master killed to writes in its slots)', value: median(failovers.map(o => o.ms)), unit: 'ms', runs: failovers.map(o => o.ms) },
          { name: 'failed cached reads during Redis failovers', value: sum(failovers), unit: '', goal: { op: '<=', target: 0 } },
        ],
        method: [
          `Replica: the service (cache off) under ${LOAD_CONCURRENCY} read loops; the replica is stopped with pg_ctl -m immediate; ejection is when /api/v1/scaling/replication/status (polled every ${POLL_MS} ms) says unhealthy. Restarted and readmitted between repeats; ${REPEATS} repeats.`,
          `Redis: a master of the 3+3 cluster (cluster-node-timeout 5000 ms, the RedisCluster default) is SIGKILLed; the service's own cluster client (service/src/cache/client.ts) retries a SET to a key in its slots every ${POLL_MS} ms; failover time is the first success. Meanwhile the cached service serves ${LOAD_CONCURRENCY} read loops. The node is restarted (it rejoins as a replica) between repeats; ${REPEATS} repeats.`,
        ],
      };
    } finally {
      replicaClient.close();
      cachedClient.close();
    }
  },
};
