import { cacheClientFromEnv } from '../../service/src/cache/client';
import { sleep, stopChild, waitFor, withTimeout } from '../../test/support/processes';
import { redisCli, TEST_REDIS_PASSWORD } from '../../test/support/redis';
import { BenchContext, Scenario } from '../support/context';
import { HttpClient, loops } from '../support/http';
import { keySlot } from '../support/slots';
import { serviceEnv, Stack, startService } from '../support/stack';
import { median } from '../support/stats';

const REPEATS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOAD_CONCURRENCY = 8;
const POLL_MS = 20;

const progress = (what: string) => process.stderr.write(`bench:   failover: ${what}\n`);

interface Outage { ms: number; failed: number; crashed?: string }

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

/** The first lines of what a process printed when it died (the error, not the whole log). */
const crashReport = (output: string) => output.split('\n').filter(line => line && !line.startsWith('{')).slice(0, 4).join(' ').slice(0, 300);

/**
 * Stops the replica (immediate: a crash) under read load on a service process of its own, and
 * times until the service reports it ejected; then restarts the replica. A service that dies
 * meanwhile is recorded (its error), not waited for.
 */
async function replicaEjection(stack: Stack): Promise<Outage> {
  const service = await startService(stack, serviceEnv(stack, { cache: false, readPolicy: 'replicas' }));
  const client = new HttpClient(service.url, LOAD_CONCURRENCY);
  const alive = () => service.child.exitCode === null && service.child.signalCode === null;
  const healthy = async () => (await client.json<ReplicaStatus>('/api/v1/scaling/replication/status')).replicas[0].healthy;
  try {
    await waitFor('the replica to take reads', healthy, 30_000);
    const outage = await underLoad(client, stack.items.slice(0, 1000), async () => {
      const stopped = performance.now();
      const stopping = stack.pg.replicas[0].stop('immediate');
      await waitFor('the replica to be ejected or the service to exit', async () => !alive() || !(await healthy()), 30_000, POLL_MS);
      const ms = performance.now() - stopped;
      await stopping;
      return alive() ? ms : NaN;
    });
    const crashed = alive() ? undefined : crashReport(service.output());
    progress(`replica ejected after ${outage.ms.toFixed(0)} ms, ${outage.failed} failed${crashed ? `; the service exited: ${crashed}` : ''}; restarting it`);
    await stack.pg.restartReplica(0);
    if (!crashed) await waitFor('the replica to be readmitted', healthy, 60_000, 100);
    return { ...outage, crashed };
  } finally {
    client.close();
    await stopChild(service.child);
  }
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

/** How long the service's client is given, after the cluster has failed over, to write to the slots again. */
const CLIENT_GRACE_MS = 10_000;

interface RedisOutage extends Outage {
  /** Until a fresh client (redis-cli -c on a live node) writes to the killed master's slots. */
  clusterMs: number;
  /** Until the service's own long-lived cluster client does; NaN when it did not within CLIENT_GRACE_MS after the cluster. */
  clientMs: number;
}

/** A key in one of `ranges`' slots. */
function keyInSlots(ranges: Array<[number, number]>): string {
  for (let i = 0; i < 1_000_000; i++) {
    const slot = keySlot(`bench:failover:${i}`);
    if (ranges.some(([a, b]) => slot >= a && slot <= b)) return `bench:failover:${i}`;
  }
  throw new Error('no key found in the slots');
}

/**
 * Kills a cluster master (SIGKILL) and times until writes to its slots succeed again: from a
 * fresh client (the cluster's own failover) and from the service's long-lived client; then
 * restarts the node (it rejoins as a replica).
 */
async function redisFailover(stack: Stack, client: HttpClient): Promise<RedisOutage> {
  const [master] = await liveMasters(stack);
  const key = keyInSlots(master.ranges);
  const livePort = stack.redis.find(n => n.port !== master.port)!.port;
  const cache = cacheClientFromEnv({ REDIS_CLUSTER_NODES: stack.redisNodes, REDIS_PASSWORD: TEST_REDIS_PASSWORD })!;
  const node = stack.redis.find(n => n.port === master.port)!;
  let clusterMs = NaN;
  let clientMs = NaN;
  try {
    await waitFor('the cache client to write', async () => { await cache.set(key, 'before', 60); return true; }, 20_000);
    const outage = await underLoad(client, stack.items.slice(0, 1000), async () => {
      const killed = performance.now();
      await node.stop('SIGKILL');
      const overdue = () => performance.now() - killed > 60_000 || performance.now() - killed - clusterMs > CLIENT_GRACE_MS;
      while (Number.isNaN(clientMs) && !overdue()) {
        const [fresh, own] = await Promise.all([
          Number.isNaN(clusterMs) ? redisCli(livePort, ['-c', 'set', key, 'fresh']).then(out => out.trim() === 'OK', () => false) : true,
          withTimeout(cache.set(key, 'own', 60), 1000).then(() => true, () => false),
        ]);
        if (fresh && Number.isNaN(clusterMs)) clusterMs = performance.now() - killed;
        if (own) clientMs = performance.now() - killed;
        await sleep(POLL_MS);
      }
      return clusterMs;
    });
    progress(`cluster failed over after ${clusterMs.toFixed(0)} ms, the service's client wrote after ${clientMs.toFixed(0)} ms, ${outage.failed} failed; restarting the node`);
    await node.restart();
    await waitFor('the restarted node to rejoin', async () =>
      (await redisCli(master.port, ['cluster', 'info'])).includes('cluster_state:ok'), 30_000, 200);
    return { ...outage, clusterMs, clientMs };
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
    const cachedClient = new HttpClient(direct.cached.url, LOAD_CONCURRENCY);
    try {
      const ejections: Outage[] = [];
      for (let i = 0; i < REPEATS; i++) ejections.push(await replicaEjection(stack));
      const failovers: RedisOutage[] = [];
      for (let i = 0; i < REPEATS; i++) failovers.push(await redisFailover(stack, cachedClient));
      const ejectedMs = ejections.filter(o => !o.crashed).map(o => o.ms);
      const crashes = ejections.flatMap(o => (o.crashed ? [o.crashed] : []));
      const stuck = failovers.filter(o => Number.isNaN(o.clientMs));
      const sum = (outages: Outage[]) => outages.reduce((n, o) => n + o.failed, 0);
      return {
        figures: [
          { name: 'replica ejection time (crash to no reads)', value: median(ejectedMs), unit: 'ms', runs: ejectedMs },
          { name: 'failed reads during replica crashes', value: sum(ejections), unit: '', goal: { op: '<=', target: 0 } },
          { name: 'service processes that exited during replica crashes', value: crashes.length, unit: '', goal: { op: '<=', target: 0 }, note: crashes[0] },
          { name: 'Redis Cluster failover time (master killed to a fresh client writing its slots)', value: median(failovers.map(o => o.clusterMs)), unit: 'ms', runs: failovers.map(o => o.clusterMs) },
          {
            name: 'service cache client writing those slots again', value: stuck.length > 0 ? null : median(failovers.map(o => o.clientMs)), unit: 'ms', runs: failovers.map(o => o.clientMs),
            note: stuck.length > 0 ? `did not within ${CLIENT_GRACE_MS / 1000} s after the cluster in ${stuck.length} of ${failovers.length} repeats` : undefined,
          },
          { name: 'failed cached reads during Redis failovers', value: sum(failovers), unit: '', goal: { op: '<=', target: 0 } },
        ],
        method: [
          `Replica: a service process of its own (cache off) per repeat, under ${LOAD_CONCURRENCY} read loops; the replica is stopped with pg_ctl -m immediate; ejection is when /api/v1/scaling/replication/status (polled every ${POLL_MS} ms) says unhealthy. Restarted and readmitted between repeats; ${REPEATS} repeats.`,
          `Redis: a master of the 3+3 cluster (cluster-node-timeout 5000 ms, the RedisCluster default) is SIGKILLed; a fresh client (redis-cli -c on a live node) and the service's own long-lived cluster client (service/src/cache/client.ts) each retry a SET to a key in its slots; the cluster's failover time is the fresh client's first success, the service client gets ${CLIENT_GRACE_MS / 1000} s more. Meanwhile the cached service serves ${LOAD_CONCURRENCY} read loops. The node is restarted (it rejoins as a replica) between repeats; ${REPEATS} repeats.`,
        ],
      };
    } catch (error) {
      const exited = Object.entries(direct).filter(([, backend]) => backend.child.exitCode !== null || backend.child.signalCode !== null);
      if (exited.length === 0) throw error;
      throw new Error(`${String(error)}; backends that exited: ${exited.map(([name, b]) => `${name} (${b.child.exitCode ?? b.child.signalCode}): ${b.output().slice(-1500)}`).join('; ')}`);
    } finally {
      cachedClient.close();
    }
  },
};
