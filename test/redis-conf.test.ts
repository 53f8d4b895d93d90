import { mkdirSync, readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { Duration, Testing } from 'cdk8s';
import { createCluster, createSentinel } from 'redis';
import { RedisCluster, RedisClusterProps, ScaledApi } from '../lib';
import { renderRedisReadinessCheck } from '../lib/redis/redis-conf';
import { cacheClientFromEnv } from '../service/src/cache/client';
import { Manifest } from './support/manifest-checks';
import { freePort, ProcessGroup, run, waitFor } from './support/processes';
import {
  clusterNodesEnv, infoField, redisCli, RedisNode, runClusterCreate, settledSentinelMaster, startRedisCluster, startRedisNode, startSentinelGroup,
  TEST_REDIS_PASSWORD, TEST_SENTINEL_PASSWORD, testAclPasswords,
} from './support/redis';

jest.setTimeout(120_000);

const CLUSTER_NODE_TIMEOUT_MS = 5000;
// A node pings a peer at the latest half a node timeout after its last pong and flags it after a
// node timeout without answer, so detection takes up to 1.5 node timeouts; then the replica waits
// 500-1000 ms (rank 0), wins the vote, and the others learn of it within a few gossip rounds. The
// rest is room for a loaded CI machine (8.5 s seen there in all).
const FAILOVER_MARGIN_MS = CLUSTER_NODE_TIMEOUT_MS / 2 + 4000;

describe('a Redis Cluster from the rendered redis.conf and cluster-create script', () => {
  const group = new ProcessGroup();
  let nodes: RedisNode[] = [];
  afterAll(() => group.cleanup());

  const clusterNodes = async (port: number) => (await redisCli(port, ['cluster', 'nodes'])).trim().split('\n').map(line => {
    const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
    return { id, address, role: flags.includes('master') ? 'master' : 'replica', failed: flags.includes('fail'), masterId, slots };
  });

  const withClusterClient = async (port: number, use: (client: ReturnType<typeof createCluster>) => Promise<void>) => {
    const client = createCluster({
      rootNodes: [{ url: `redis://127.0.0.1:${port}` }],
      defaults: { password: TEST_REDIS_PASSWORD, socket: { connectTimeout: 1000, reconnectStrategy: false } },
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await use(client);
    } finally {
      client.destroy();
    }
  };

  const waitForReplicasInSync = async (all: RedisNode[]) => {
    for (const node of all) {
      await waitFor(`the replica of ${node.port} to be in sync`, async () => {
        const replication = await redisCli(node.port, ['info', 'replication']);
        if (infoField(replication, 'role') !== 'master') return true;
        const offset = /slave0:.*offset=(\d+)/.exec(replication)?.[1];
        return offset !== undefined && offset === infoField(replication, 'master_repl_offset');
      });
    }
  };

  test('six nodes form 3 masters with 1 replica each, covering all 16384 slots', async () => {
    const started = Date.now();
    nodes = await startRedisCluster(group, 6, 1, CLUSTER_NODE_TIMEOUT_MS);
    console.warn(`six nodes started and the cluster created in ${Date.now() - started} ms`);
    const info = await redisCli(nodes[0].port, ['cluster', 'info']);
    expect(infoField(info, 'cluster_state')).toBe('ok');
    expect(infoField(info, 'cluster_slots_assigned')).toBe('16384');
    expect(infoField(info, 'cluster_slots_ok')).toBe('16384');
    const members = await clusterNodes(nodes[0].port);
    const masters = members.filter(m => m.role === 'master');
    expect(masters).toHaveLength(3);
    for (const master of masters) expect(members.filter(m => m.masterId === master.id)).toHaveLength(1);
    // Every node passes the readiness check once its replica has synced (diskless sync waits 5 s first).
    const env = { ...process.env, ...testAclPasswords('cluster') };
    for (const node of nodes) {
      await waitFor(`${node.port} to be ready`, () => run('sh', ['-c', renderRedisReadinessCheck(node.port)], { env }).then(() => true, () => false), 30_000);
    }
  });

  test('nodes announce the configured host name, not only an address', async () => {
    const slots = await redisCli(nodes[0].port, ['cluster', 'shards']);
    expect(slots).toContain('hostname');
    expect(slots).toContain('127.0.0.1');
  });

  test('running the create script again changes nothing', async () => {
    const before = (await clusterNodes(nodes[0].port)).map(n => `${n.id} ${n.role} ${n.masterId}`).sort();
    const output = await runClusterCreate(group, nodes.map(n => n.port), 1);
    expect(output).toContain('the cluster exists');
    expect((await clusterNodes(nodes[0].port)).map(n => `${n.id} ${n.role} ${n.masterId}`).sort()).toEqual(before);
  });

  test('every node restarted at once on a new address finds its peers again, and no key is lost', async () => {
    // GIVEN keys on every shard, acknowledged by the replicas
    const keys = Array.from({ length: 200 }, (_, i) => `moved:${i}`);
    await withClusterClient(nodes[0].port, async client => {
      for (const key of keys) await client.set(key, `value of ${key}`);
    });
    await waitForReplicasInSync(nodes);
    const ids = (await clusterNodes(nodes[0].port)).map(n => `${n.id} ${n.role}`).sort();

    // WHEN every node stops (a node-pool upgrade) and comes back on a new port, standing in for a new pod IP
    await Promise.all(nodes.map(n => n.stop('SIGTERM')));
    const ports = await Promise.all(nodes.map(() => freePort()));
    await Promise.all(nodes.map((n, i) => n.restart({ port: ports[i], env: clusterNodesEnv(ports) })));

    // THEN every node sees all six at their new addresses, the cluster is ok, and every key is there
    const formedMs = await waitFor('the cluster to form again at the new addresses', async () => {
      for (const node of nodes) {
        const view = await clusterNodes(node.port);
        const atNewAddresses = view.filter(m => ports.some(p => m.address.startsWith(`127.0.0.1:${p}@`)) && !m.failed);
        if (atNewAddresses.length !== 6) return undefined;
        if (infoField(await redisCli(node.port, ['cluster', 'info']), 'cluster_state') !== 'ok') return undefined;
      }
      return Date.now();
    }, 60_000, 250);
    expect(formedMs).toBeGreaterThan(0);
    expect((await clusterNodes(nodes[0].port)).map(n => `${n.id} ${n.role}`).sort()).toEqual(ids);
    await withClusterClient(nodes[0].port, async client => {
      expect(await Promise.all(keys.map(key => client.get(key)))).toEqual(keys.map(key => `value of ${key}`));
    });
    expect(await runClusterCreate(group, nodes.map(n => n.port), 1)).toContain('the cluster exists');
  });

  test('killing a master promotes its replica within the node timeout plus a margin, and keys survive', async () => {
    // GIVEN keys written through a cluster client and acknowledged by the replicas
    const client = createCluster({
      rootNodes: [{ url: `redis://127.0.0.1:${nodes[0].port}` }],
      defaults: { password: TEST_REDIS_PASSWORD, socket: { connectTimeout: 1000, reconnectStrategy: retries => Math.min(retries * 100, 1000) } },
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `key:${i}`);
      for (const key of keys) await client.set(key, `value of ${key}`);
      await waitForReplicasInSync(nodes);
      const members = await clusterNodes(nodes[0].port);
      const victim = members.find(m => m.role === 'master' && !m.address.includes(`:${nodes[0].port}@`))!;
      const victimNode = nodes.find(n => victim.address.includes(`:${n.port}@`))!;
      const replica = members.find(m => m.masterId === victim.id)!;

      // WHEN the master is killed
      const killedAt = Date.now();
      await victimNode.stop('SIGKILL');

      // THEN its replica is promoted and the cluster is ok again
      const recoveryMs = await waitFor('the replica to be promoted and cluster_state ok', async () => {
        const view = await clusterNodes(nodes[0].port);
        const promoted = view.find(m => m.id === replica.id)?.role === 'master';
        const ok = infoField(await redisCli(nodes[0].port, ['cluster', 'info']), 'cluster_state') === 'ok';
        return promoted && ok ? Date.now() - killedAt : undefined;
      }, CLUSTER_NODE_TIMEOUT_MS + FAILOVER_MARGIN_MS + 10_000, 100);
      console.warn(`failover after killing a master: ${recoveryMs} ms (cluster-node-timeout ${CLUSTER_NODE_TIMEOUT_MS} ms)`);
      expect(recoveryMs).toBeLessThanOrEqual(CLUSTER_NODE_TIMEOUT_MS + FAILOVER_MARGIN_MS);
      // A client connecting now learns the new topology from the nodes and finds every key.
      await withClusterClient(nodes[0].port, async reader => {
        expect(await Promise.all(keys.map(key => reader.get(key)))).toEqual(keys.map(key => `value of ${key}`));
      });
    } finally {
      client.destroy();
    }
  });

  test('a node whose volume was lost comes back blank: the create script forgets the failed node and joins it as a replica of the master left without one', async () => {
    // GIVEN the master killed above, failed over, and its pod back on the same address with an empty volume
    const failed = (await clusterNodes(nodes[0].port)).filter(m => m.failed);
    expect(failed).toHaveLength(1);
    const lost = nodes.find(n => failed[0].address.startsWith(`127.0.0.1:${n.port}@`))!;
    rmSync(join(lost.dir, 'data'), { recursive: true, force: true });
    mkdirSync(join(lost.dir, 'data'));
    await lost.restart();
    expect(infoField(await redisCli(lost.port, ['cluster', 'info']), 'cluster_known_nodes')).toBe('1');

    // WHEN the Job's script runs again
    const output = await runClusterCreate(group, nodes.map(n => n.port), 1);

    // THEN the failed node is forgotten by every member, and the blank one replicates the orphaned master
    expect(output).toContain(`forgetting ${failed[0].id}`);
    expect(output).toContain(`joining 127.0.0.1:${lost.port} as a replica`);
    for (const node of nodes) {
      const view = await clusterNodes(node.port);
      expect({ port: node.port, ids: view.map(m => m.id), failed: view.filter(m => m.failed).length })
        .toEqual({ port: node.port, ids: expect.not.arrayContaining([failed[0].id]), failed: 0 });
    }
    const members = await clusterNodes(nodes[0].port);
    const masters = members.filter(m => m.role === 'master');
    expect(masters).toHaveLength(3);
    for (const master of masters) expect(members.filter(m => m.masterId === master.id)).toHaveLength(1);
    expect(await runClusterCreate(group, nodes.map(n => n.port), 1)).toContain('every node is a member: nothing to create or join');
  });

  test('blank nodes that would have to be masters (more shards) are refused: the script adds no shard and says so', async () => {
    // GIVEN two more nodes, blank, beside the cluster of 3 masters: 8 nodes are 4 shards with 1 replica each
    const ports = [...nodes.map(n => n.port), await freePort(), await freePort()];
    const extra = await Promise.all(ports.slice(6).map(port => startRedisNode(group, { mode: 'cluster', clusterNodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS, port, env: clusterNodesEnv(ports) })));
    // WHEN the script runs over the 8 nodes
    const failure = await runClusterCreate(group, ports, 1).then(() => 'succeeded', (e: Error) => e.message);
    // THEN it exits non-zero naming the shortfall and the runbook, and the blank nodes stay out of the cluster
    expect(failure).toContain(`127.0.0.1:${extra[0].port} is blank, and the cluster has 3 masters serving slots of the 4 asked for`);
    expect(failure).toContain('docs/runbooks/alerts.md#redisclusterslotsfailed');
    expect((await clusterNodes(nodes[0].port))).toHaveLength(6);
    await Promise.all(extra.map(n => n.stop()));
  });
});

describe('Sentinel mode from the rendered configs and start scripts', () => {
  const group = new ProcessGroup();
  afterAll(() => group.cleanup());
  let started: Awaited<ReturnType<typeof startSentinelGroup>>;
  let newMasterPort: number;

  test('stopping the master makes the Sentinels elect a replica that a Sentinel client reaches', async () => {
    // GIVEN a master, two replicas following it through the start script, and three Sentinels
    started = await startSentinelGroup(group, { replicas: 2, sentinels: 3, quorum: 2, downAfterMs: 1000 });
    const { masterName, master, replicas, sentinels } = started;
    await waitFor('both replicas to sync', async () =>
      infoField(await redisCli(master.port, ['info', 'replication']), 'connected_slaves') === '2', 20_000);
    await waitFor('the Sentinels to know the replicas', async () =>
      (await redisCli(sentinels[0].port, ['sentinel', 'replicas', masterName], TEST_SENTINEL_PASSWORD)).split('\n').filter(l => l === 'name').length === 2, 20_000);
    const client = createSentinel({
      name: masterName,
      sentinelRootNodes: sentinels.map(s => ({ host: '127.0.0.1', port: s.port })),
      nodeClientOptions: { username: 'app', password: TEST_REDIS_PASSWORD, socket: { connectTimeout: 1000 } },
      sentinelClientOptions: { password: TEST_SENTINEL_PASSWORD },
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.set('before', 'failover');
      for (const replica of replicas) {
        await waitFor('the replica to have the key', async () => (await redisCli(replica.port, ['get', 'before'])) === 'failover\n');
      }
      // WHEN the master stops
      const stoppedAt = Date.now();
      await master.stop('SIGKILL');
      // THEN one of the replicas becomes master
      newMasterPort = await settledSentinelMaster(sentinels, masterName, master.port, (port, args) => redisCli(port, args, TEST_SENTINEL_PASSWORD));
      console.warn(`sentinel failover, until every Sentinel names the new master: ${Date.now() - stoppedAt} ms (down-after 1000 ms)`);
      expect(replicas.map(r => r.port)).toContain(newMasterPort);
      expect(infoField(await redisCli(newMasterPort, ['info', 'replication']), 'role')).toBe('master');
      // AND the Sentinel client writes to it and reads the data written before
      await waitFor('the client to write to the new master', async () => {
        try {
          return (await client.set('after', 'failover')) === 'OK';
        } catch {
          return false;
        }
      }, 20_000, 200);
      expect(await client.get('before')).toBe('failover');
      expect(await redisCli(newMasterPort, ['get', 'after'])).toBe('failover\n');
    } finally {
      await client.destroy();
    }
  });

  test('after the failover, a restarted Sentinel and the restarted old master ask the Sentinels (with their password) and follow the new master', async () => {
    const { masterName, master, sentinels } = started;
    const askedMaster = async (port: number) =>
      (await redisCli(port, ['--raw', 'sentinel', 'get-master-addr-by-name', masterName], TEST_SENTINEL_PASSWORD)).trim().split('\n').join(' ');
    // WHEN a Sentinel restarts while the old master is still down
    await sentinels[0].stop();
    await sentinels[0].restart();
    // THEN it monitors the new master, which its peers named: the old one's address, where nothing answers, would never teach it otherwise
    expect(readFileSync(sentinels[0].confFile, 'utf8')).toMatch(new RegExp(`^sentinel monitor ${masterName} 127\\.0\\.0\\.1 ${newMasterPort} 2$`, 'm'));
    expect(await askedMaster(sentinels[0].port)).toBe(`127.0.0.1 ${newMasterPort}`);
    // WHEN the old master's pod comes back (its INITIAL_MASTER is itself)
    await master.restart();
    // THEN its start script made it a replica of the new master, rather than a second master
    expect(readFileSync(join(master.dir, 'run', 'redis.conf'), 'utf8')).toContain(`\nreplicaof 127.0.0.1 ${newMasterPort}\n`);
    await waitFor('the old master to sync from the new one', async () => {
      const replication = await redisCli(master.port, ['info', 'replication']);
      return infoField(replication, 'role') === 'slave' && infoField(replication, 'master_port') === String(newMasterPort)
        && infoField(replication, 'master_link_status') === 'up';
    }, 20_000);
    expect(await redisCli(master.port, ['get', 'after'])).toBe('failover\n');
  });
});

describe('standalone mode from the construct\'s own redis.conf and start script', () => {
  const group = new ProcessGroup();
  afterAll(() => group.cleanup());

  test('the readiness check passes a master and fails a replica whose master link is down, until it is a master again', async () => {
    // GIVEN a Redis started by the rendered start script, and the rendered readiness check against it
    const node = await startRedisNode(group, { mode: 'standalone' });
    const ready = () => run('sh', ['-c', renderRedisReadinessCheck(node.port)], { env: { ...process.env, ...testAclPasswords('standalone') } })
      .then(() => true, () => false);
    expect(await ready()).toBe(true);
    // WHEN it follows a master that does not answer (a replica before or during its full sync)
    await redisCli(node.port, ['replicaof', '127.0.0.1', String(await freePort())]);
    // THEN it is not ready, and is again once it no longer follows anyone
    expect(await ready()).toBe(false);
    await redisCli(node.port, ['replicaof', 'no', 'one']);
    expect(await ready()).toBe(true);
  });

  /** The construct's config and the env it gives the API, synthesized with the guides' settings. */
  function synthStandalone(props: Pick<RedisClusterProps, 'savePoints'> = {
    savePoints: [{ after: Duration.minutes(15), changes: 1 }, { after: Duration.minutes(5), changes: 10 }, { after: Duration.minutes(1), changes: 10_000 }],
  }) {
    const chart = Testing.chart();
    const cache = new RedisCluster(chart, 'cache', { mode: 'standalone', tcpKeepalive: Duration.seconds(300), ...props });
    new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache });
    const api = Testing.synth(chart).find(m => m.kind === 'Deployment' && m.metadata.name === 'test-api')!;
    const env: Manifest[] = api.spec.template.spec.containers[0].env;
    return { redisConf: cache.redisConf, redisUrl: env.find(e => e.name === 'REDIS_URL')!.value as string };
  }

  test('redis-server runs the rendered config with the props\' values, and the service\'s cache client connects by REDIS_URL', async () => {
    // GIVEN redis-server started from the construct's redis.conf by the standalone start script
    const { redisConf, redisUrl } = synthStandalone();
    const node = await startRedisNode(group, { mode: 'standalone', redisConf });
    expect(await redisCli(node.port, ['config', 'get', 'tcp-keepalive'])).toBe('tcp-keepalive\n300\n');
    expect(await redisCli(node.port, ['config', 'get', 'save'])).toBe('save\n900 1 300 10 60 10000\n');
    expect(infoField(await redisCli(node.port, ['info', 'server']), 'redis_mode')).toBe('standalone');
    // The password the start script added is required ('' sends none; redis-cli prints the NOAUTH error on stderr).
    expect(await redisCli(node.port, ['ping'], '')).not.toContain('PONG');
    // WHEN the service builds its client from the injected URL (the pod's host swapped for the test server) and the password beside it
    const url = new URL(redisUrl);
    expect([url.protocol, url.username, url.password, url.port]).toEqual(['redis:', '', '', '6379']);
    url.host = `127.0.0.1:${node.port}`;
    const client = cacheClientFromEnv({ REDIS_URL: url.toString(), REDIS_PASSWORD: TEST_REDIS_PASSWORD })!;
    try {
      await waitFor('the cache client to connect', async () => client.ping().then(() => true, () => false));
      // THEN it writes and reads through the server
      await client.set('standalone:key', 'value', 60);
      expect(await client.get('standalone:key')).toBe('value');
      expect(await redisCli(node.port, ['ttl', 'standalone:key'])).toMatch(/^(59|60)\n$/);
    } finally {
      await client.close();
    }
  });

  test('without save points RDB is off, and the AOF still keeps a key through a restart', async () => {
    const node = await startRedisNode(group, { mode: 'standalone', redisConf: synthStandalone({ savePoints: [] }).redisConf });
    expect(await redisCli(node.port, ['config', 'get', 'save'])).toBe('save\n\n');
    await redisCli(node.port, ['set', 'survives', 'restart']);
    await node.stop('SIGTERM');
    await node.restart();
    expect(await redisCli(node.port, ['get', 'survives'])).toBe('restart\n');
  });
});
