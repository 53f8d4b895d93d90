import { readFileSync } from 'fs';
import { Testing } from 'cdk8s';
import { createClient } from 'redis';
import { RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { tlsFiles } from '../lib/core/tls';
import { RedisScriptTls, renderRedisConf, renderRedisReadinessCheck, renderSentinelConf } from '../lib/redis/redis-conf';
import { cacheClientFromEnv, CacheClient } from '../service/src/cache/client';
import { queueConnectionFromEnv } from '../service/src/queue/connection';
import { findObject } from './support/find';
import { Manifest } from './support/manifest-checks';
import { ProcessGroup, run, sleep, waitFor } from './support/processes';
import {
  infoField, redisCli, RedisNode, sentinelEvents, settledSentinelMaster, startRedisCluster, startSentinelGroup, TEST_REDIS_PASSWORD, TEST_SENTINEL_PASSWORD,
  testAclPasswords,
} from './support/redis';
import { certificateFingerprint, makeCertificates, renewCertificate, servedFingerprint } from './support/tls';

jest.setTimeout(180_000);

const group = new ProcessGroup();
afterAll(() => group.cleanup());

let dir: string;
let tls: RedisScriptTls;
let ca: string;
let otherCa: string;
let nodes: RedisNode[];

beforeAll(async () => {
  dir = group.tempDir('hscale-redis-tls-');
  // The reload loops check every second here (60 s in a pod).
  tls = { files: await makeCertificates(dir), checkSeconds: 1 };
  ca = readFileSync(tls.files.caFile, 'utf8');
  otherCa = readFileSync(`${dir}/other-ca.crt`, 'utf8');
  // Six nodes from the rendered redis.conf, start script and ACL, joined by the rendered cluster-create script, all over TLS.
  nodes = await startRedisCluster(group, 6, 1, 5000, tls);
});

const cli = (node: RedisNode, args: string[]) => redisCli(node.port, args, TEST_REDIS_PASSWORD, undefined, tls.files.caFile);

/** The env RedisCluster's `tls` gives a client in cluster mode, on the test's nodes. */
const clusterEnv = (caPem: string) => ({
  REDIS_CLUSTER_NODES: nodes.map(n => `127.0.0.1:${n.port}`).join(','), REDIS_USERNAME: 'app', REDIS_PASSWORD: TEST_REDIS_PASSWORD, REDIS_TLS_CA: caPem,
});

test('the rendered configs serve TLS only and replicate, gossip and watch over TLS', () => {
  const files = tlsFiles('/etc/redis-tls');
  const conf = renderRedisConf({
    port: 6379, bind: '*', dir: '/data', cluster: true, clusterNodeTimeoutMs: 5000, maxmemoryBytes: 1, maxmemoryPolicy: 'noeviction',
    appendonly: true, appendfsync: 'everysec', savePoints: [], tcpKeepaliveSeconds: 60, tls: files,
  });
  expect(conf).toMatch(/^port 0\ntls-port 6379\n/m);
  for (const line of [
    'tls-cert-file /etc/redis-tls/tls.crt', 'tls-key-file /etc/redis-tls/tls.key', 'tls-ca-cert-file /etc/redis-tls/ca.crt',
    'tls-auth-clients no', 'tls-protocols "TLSv1.2 TLSv1.3"', 'tls-replication yes', 'tls-cluster yes',
  ]) expect(conf.split('\n')).toContain(line);
  const sentinel = renderSentinelConf({
    port: 26379, bind: '*', dir: '/run', masterName: 'm', quorum: 2, downAfterMs: 5000, failoverTimeoutMs: 60_000, parallelSyncs: 1, tls: files,
  });
  expect(sentinel).toMatch(/^port 0\ntls-port 26379\n/m);
  expect(sentinel.split('\n')).toEqual(expect.arrayContaining(['tls-replication yes', 'tls-cert-file /etc/redis-tls/tls.crt']));
});

test('the cluster-create script forms the cluster over TLS, every replica syncs over TLS, and the readiness check passes', async () => {
  expect(infoField(await cli(nodes[0], ['cluster', 'info']), 'cluster_state')).toBe('ok');
  // No plain port is open, so every replica's link to its master is a TLS connection.
  expect((await cli(nodes[0], ['config', 'get', 'port'])).split('\n')[1]).toBe('0');
  const replicas: RedisNode[] = [];
  for (const node of nodes) {
    if (infoField(await cli(node, ['info', 'replication']), 'role') === 'slave') replicas.push(node);
  }
  expect(replicas).toHaveLength(3);
  for (const replica of replicas) {
    await waitFor(`${replica.port} to sync`, async () => infoField(await cli(replica, ['info', 'replication']), 'master_link_status') === 'up');
  }
  const env = { ...process.env, ...testAclPasswords('cluster', true) };
  await run('sh', ['-c', renderRedisReadinessCheck(replicas[0].port, tls)], { env });
});

type QueueConnection = NonNullable<ReturnType<typeof queueConnectionFromEnv>>;

/**
 * The service's cache client (node-redis) writes and reads `cacheKey`, and its queue connection
 * (ioredis) writes `queueKey`, both over verified TLS from `env`; `readQueueKey` reads it back another way.
 */
async function expectServiceClientsOverTls(env: NodeJS.ProcessEnv, cacheKey: string, queueKey: string, readQueueKey: (queue: QueueConnection) => Promise<string | null>) {
  const cache = cacheClientFromEnv(env)!;
  const queue = queueConnectionFromEnv(env, 'producer')!;
  try {
    await waitFor('the cache client to write and read over TLS', async () => {
      await cache.set(cacheKey, 'one', 600).catch(() => undefined);
      return (await cache.get(cacheKey).catch(() => null)) === 'one';
    });
    // A producer's connection fails commands until it is connected: wait for it.
    await waitFor('the queue connection to answer over TLS', async () => (await queue.ping().catch(() => undefined)) === 'PONG');
    expect(await queue.set(queueKey, 'two')).toBe('OK');
    expect(await readQueueKey(queue)).toBe('two');
  } finally {
    await cache.close();
    queue.disconnect();
  }
}

test('the service\'s cache client (node-redis) and queue connection (ioredis) connect over verified TLS from the wiring\'s env', async () => {
  await expectServiceClientsOverTls(clusterEnv(ca), 'tls:{a}', 'tls:{q}', queue => queue.get('tls:{q}'));
});

test('a plain client is refused, and so is TLS from a client that trusts another CA', async () => {
  const attempt = async (socket: Record<string, unknown>) => {
    const client = createClient({ username: 'app', password: TEST_REDIS_PASSWORD, socket: { host: '127.0.0.1', port: nodes[0].port, connectTimeout: 3000, reconnectStrategy: false, ...socket } });
    client.on('error', () => undefined);
    return client.connect().then(async () => {
      await client.destroy();
      return 'connected';
    }, (error: Error) => error.message);
  };
  expect(await attempt({})).not.toBe('connected');
  expect(await attempt({ tls: true, ca: otherCa })).toMatch(/self[- ]signed certificate|unable to verify|unable to get local issuer/);
  expect(await attempt({ tls: true, ca })).toBe('connected');
  // The service refuses a CA that is not a certificate.
  expect(() => cacheClientFromEnv(clusterEnv('not a certificate'))).toThrow('REDIS_TLS_CA must be a PEM certificate');
});

test('a renewed certificate is served by every node within the reload loop\'s interval, without a restart, and the cluster stays up', async () => {
  // GIVEN every node serving the first certificate
  const first = certificateFingerprint(readFileSync(tls.files.certFile, 'utf8'));
  for (const node of nodes) expect(await servedFingerprint(node.port)).toBe(first);
  const pids = await Promise.all(nodes.map(async node => (await cli(node, ['info', 'server'])).match(/^process_id:(\d+)/m)![1]));
  // WHEN the Secret is renewed (a new key and certificate from the same CA)
  await renewCertificate(dir);
  const renewed = certificateFingerprint(readFileSync(tls.files.certFile, 'utf8'));
  expect(renewed).not.toBe(first);
  // THEN each node serves the new one, the same process, and clients still get through
  for (const node of nodes) {
    await waitFor(`${node.port} to serve the renewed certificate`, async () => (await servedFingerprint(node.port)) === renewed, 15_000, 250);
  }
  expect(await Promise.all(nodes.map(async node => (await cli(node, ['info', 'server'])).match(/^process_id:(\d+)/m)![1]))).toEqual(pids);
  expect(infoField(await cli(nodes[0], ['cluster', 'info']), 'cluster_state')).toBe('ok');
  let cache: CacheClient | undefined;
  try {
    cache = cacheClientFromEnv(clusterEnv(ca))!;
    await waitFor('the cache client to read over the renewed TLS', async () => {
      await cache!.set('tls:{b}', 'renewed', 60).catch(() => undefined);
      return (await cache!.get('tls:{b}').catch(() => null)) === 'renewed';
    });
  } finally {
    await cache?.close();
  }
});

const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('RedisCluster tls (cluster): the nodes mount the Secret, the exporter and the Job its CA alone, clients and KEDA verify against the CA', () => {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', { tls: { secretName: 'cache-tls' } });
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache });
  new WorkerPool(chart, 'worker', { image: 'example/worker:1.0.0', broker: new RedisCluster(chart, 'queue', { mode: 'sentinel', maxmemoryPolicy: 'noeviction', tls: { secretName: 'queue-tls' } }), queues: ['jobs'] });
  const manifests = Testing.synth(chart);
  const pod = findObject(manifests, 'StatefulSet', 'test-cache').spec.template.spec;
  expect(pod.volumes).toEqual(expect.arrayContaining([
    { name: 'tls', secret: { secretName: 'cache-tls', defaultMode: 0o440 } },
    { name: 'tls-ca', secret: { secretName: 'cache-tls', defaultMode: 0o444, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
  ]));
  const [redis, exporter] = pod.containers;
  expect(redis.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/redis-tls', readOnly: true });
  expect(redis.readinessProbe.exec.command[2]).toContain('redis-cli --tls --cacert /etc/redis-tls/ca.crt --user exporter');
  expect(envOf(redis).REDIS_CERTIFICATES_PASSWORD).toEqual({ secretKeyRef: { name: 'test-cache-auth', key: 'certificates-password' } });
  expect(exporter.volumeMounts).toEqual([{ name: 'tls-ca', mountPath: '/etc/redis-tls', readOnly: true }]);
  expect(envOf(exporter)).toMatchObject({ REDIS_ADDR: 'rediss://localhost:6379', REDIS_EXPORTER_TLS_CA_CERT_FILE: '/etc/redis-tls/ca.crt' });
  const job = findObject(manifests, 'Job', cache.createJob!.name).spec.template.spec;
  expect(job.volumes).toContainEqual(expect.objectContaining({ name: 'tls-ca' }));
  expect(job.volumes).not.toContainEqual(expect.objectContaining({ name: 'tls' }));
  const config = findObject(manifests, 'ConfigMap', 'test-cache').data;
  expect(config['redis.conf']).toContain('tls-cluster yes');
  expect(config['users.acl']).toMatch(/^user certificates on #\{REDIS_CERTIFICATES_PASSWORD\} resetkeys resetchannels -@all \+config\|set$/m);
  expect(config['start.sh']).toContain('config set tls-cert-file /etc/redis-tls/tls.crt tls-key-file /etc/redis-tls/tls.key tls-ca-cert-file /etc/redis-tls/ca.crt');
  expect(config['create-cluster.sh']).toContain('redis-cli --tls --cacert /etc/redis-tls/ca.crt --user operator --cluster create');
  expect(cache.generatableSecrets[0].randomKeys).toContain('certificates-password');
  const api = envOf(findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0]);
  expect(api.REDIS_TLS_CA).toEqual({ secretKeyRef: { name: 'cache-tls', key: 'ca.crt' } });
  // The queue's Redis (sentinel mode): Sentinels serve TLS with the Secret, KEDA turns TLS on and reads the CA.
  const sentinel = findObject(manifests, 'StatefulSet', 'test-queue-sentinel').spec.template.spec;
  expect(sentinel.containers[0].volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/redis-tls', readOnly: true });
  expect(findObject(manifests, 'ConfigMap', 'test-queue').data['sentinel.conf']).toMatch(/^port 0\ntls-port 26379$/m);
  const worker = envOf(findObject(manifests, 'Deployment', 'test-worker').spec.template.spec.containers[0]);
  expect(worker.REDIS_TLS_CA).toEqual({ secretKeyRef: { name: 'queue-tls', key: 'ca.crt' } });
  expect(findObject(manifests, 'ScaledObject').spec.triggers[0].metadata.enableTLS).toBe('true');
  expect(findObject(manifests, 'TriggerAuthentication').spec.secretTargetRef).toContainEqual({ parameter: 'ca', name: 'queue-tls', key: 'ca.crt' });
});

test('RedisCluster tls (standalone): clients get a rediss:// URL', () => {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', { mode: 'standalone', tls: { secretName: 'cache-tls' } });
  expect(Object.fromEntries(cache.clientEnv.map(e => [e.name, e.value]))).toMatchObject({ REDIS_URL: 'rediss://test-cache-0.test-cache-nodes.default.svc.cluster.local:6379' });
});

test('throws error, when tls names no valid Secret', () => {
  expect(() => new RedisCluster(Testing.chart(), 'cache', { tls: { secretName: 'Not_A_Name' } })).toThrow(/'tls.secretName'.*Not_A_Name/);
});

describe('Sentinel mode over TLS, from the rendered configs and start scripts', () => {
  let sentinelDir: string;
  let sentinelTls: RedisScriptTls;
  let sentinelCa: string;
  let started: Awaited<ReturnType<typeof startSentinelGroup>>;
  let newMaster: RedisNode;

  beforeAll(async () => {
    // A CA of its own: the cluster's renewal above leaves this group's files alone.
    sentinelDir = group.tempDir('hscale-sentinel-tls-');
    sentinelTls = { files: await makeCertificates(sentinelDir), checkSeconds: 1 };
    sentinelCa = readFileSync(sentinelTls.files.caFile, 'utf8');
    started = await startSentinelGroup(group, { replicas: 2, sentinels: 3, quorum: 2, downAfterMs: 1000, tls: sentinelTls });
  });

  const otherSentinelCa = () => readFileSync(`${sentinelDir}/other-ca.crt`, 'utf8');
  const cli = (port: number, args: string[], password = TEST_REDIS_PASSWORD) => redisCli(port, args, password, undefined, sentinelTls.files.caFile);
  const askSentinel = (port: number, args: string[]) => cli(port, args, TEST_SENTINEL_PASSWORD);
  const sentinelEnv = (caPem: string) => ({
    REDIS_SENTINELS: started.sentinels.map(s => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_MASTER: started.masterName,
    REDIS_SENTINEL_PASSWORD: TEST_SENTINEL_PASSWORD, REDIS_USERNAME: 'app', REDIS_PASSWORD: TEST_REDIS_PASSWORD, REDIS_TLS_CA: caPem,
  });

  test('the replicas sync and the Sentinels find the master, its replicas and each other over TLS only; plain and untrusted clients are refused', async () => {
    const { master, sentinels, masterName } = started;
    expect((await cli(master.port, ['config', 'get', 'port'])).split('\n')[1]).toBe('0');
    await waitFor('both replicas to sync over TLS', async () => infoField(await cli(master.port, ['info', 'replication']), 'connected_slaves') === '2');
    for (const sentinel of sentinels) {
      await waitFor(`Sentinel ${sentinel.port} to know the replicas and the other Sentinels`, async () => {
        const view = await askSentinel(sentinel.port, ['sentinel', 'master', masterName]);
        return /num-slaves\n2\n/.test(view) && /num-other-sentinels\n2\n/.test(view) && /flags\nmaster\n/.test(view);
      }, 30_000);
    }
    // Sentinels listen on TLS only: a plain client and one that trusts another CA get no answer.
    expect(await redisCli(sentinels[0].port, ['ping'], TEST_SENTINEL_PASSWORD).catch((e: Error) => e.message)).not.toContain('PONG');
    expect(await redisCli(sentinels[0].port, ['ping'], TEST_SENTINEL_PASSWORD, undefined, `${sentinelDir}/other-ca.crt`).catch((e: Error) => e.message))
      .toMatch(/certificate verify failed|SSL_connect failed/);
    expect(await askSentinel(sentinels[0].port, ['ping'])).toBe('PONG\n');
  });

  test('the service\'s node-redis and ioredis Sentinel clients verify the Sentinels and the master against the CA, and refuse another CA', async () => {
    await expectServiceClientsOverTls(sentinelEnv(sentinelCa), 'tls:sentinel', 'tls:queue', async () => (await cli(started.master.port, ['get', 'tls:queue'])).trim());
    // The same env with another CA: ioredis never gets past the Sentinels' TLS handshake (it reports only a closed connection).
    const untrusted = queueConnectionFromEnv(sentinelEnv(otherSentinelCa()), 'producer')!;
    const errors: string[] = [];
    untrusted.on('error', (error: Error) => errors.push(error.message));
    try {
      await waitFor('the untrusted connection to give up on every Sentinel twice', async () => errors.filter(e => e.startsWith('All sentinels are unreachable')).length >= 2);
      expect(untrusted.status).not.toBe('ready');
      expect(await untrusted.ping().catch((e: Error) => e.message)).not.toBe('PONG');
    } finally {
      untrusted.disconnect();
    }
    await waitFor('the untrusted connection to end', async () => untrusted.status === 'end');
    // ioredis leaves each failed Sentinel attempt's connect timer (connectTimeout, 2 s) running: let them run out, or they hold jest open.
    await sleep(2500);
  });

  test('a failover runs over TLS: the Sentinels promote a replica, the service\'s cache client follows it, and the old master restarted by its start script follows it too', async () => {
    const { master, replicas } = started;
    // The service's client is connected before the failover, as a running API's is.
    const cache = cacheClientFromEnv(sentinelEnv(sentinelCa))!;
    try {
      await waitFor('the cache client to write through the Sentinels', async () => {
        await cache.set('tls:before', 'failover', 600).catch(() => undefined);
        return (await cli(master.port, ['get', 'tls:before'])) === 'failover\n';
      });
      await waitFor('the replicas to have the keys', async () => {
        for (const replica of replicas) if ((await cli(replica.port, ['mget', 'tls:queue', 'tls:before'])) !== 'two\nfailover\n') return false;
        return true;
      });
      await failOverAndRejoin(cache);
    } finally {
      await cache.close();
    }
  });

  async function failOverAndRejoin(cache: CacheClient) {
    const { master, replicas, sentinels, masterName } = started;
    // WHEN the master is killed
    await master.stop('SIGKILL');
    // THEN the Sentinels agree on a replica over TLS
    const newPort = await settledSentinelMaster(sentinels, masterName, master.port, askSentinel);
    newMaster = replicas.find(r => r.port === newPort)!;
    await waitFor('the promoted replica to be master', async () => infoField(await cli(newMaster.port, ['info', 'replication']), 'role') === 'master');
    // AND the cache client finds it through the Sentinels and writes to it over verified TLS (2.6-9.5 s after the kill at load 15-17)
    await waitFor('the cache client to write to the new master', async () => {
      await cache.set('tls:after', 'failover', 600).catch(() => undefined);
      return (await cli(newMaster.port, ['get', 'tls:after'])) === 'failover\n';
    }, 30_000, 200);
    // WHEN the old master's pod comes back: its start script asks the Sentinels over TLS, with their password
    await master.restart();
    // THEN it replicates the new master and has what was written before
    const replicaOf = /^replicaof .*$/m.exec(readFileSync(`${master.dir}/run/redis.conf`, 'utf8'))?.[0];
    const expected = `replicaof 127.0.0.1 ${newPort}`;
    expect({ replicaOf, sentinelEvents: replicaOf === expected ? [] : sentinelEvents(sentinels) }).toEqual({ replicaOf: expected, sentinelEvents: [] });
    await waitFor('the old master to sync from the new one over TLS', async () => {
      const replication = await cli(master.port, ['info', 'replication']);
      return infoField(replication, 'master_port') === String(newPort) && infoField(replication, 'master_link_status') === 'up';
    });
    expect(await cli(master.port, ['mget', 'tls:queue', 'tls:after'])).toBe('two\nfailover\n');
  }

  test('a renewed certificate: every Redis serves it from the same process; the Sentinels restart on it one at a time, and a restarted one serves it and names the master', async () => {
    const { master, replicas, sentinels, masterName } = started;
    const redisNodes = [master, ...replicas];
    const pid = async (node: RedisNode) => infoField(await cli(node.port, ['info', 'server']), 'process_id');
    const pids = await Promise.all(redisNodes.map(pid));
    // WHEN the Secret is renewed
    await renewCertificate(sentinelDir);
    const renewed = certificateFingerprint(readFileSync(sentinelTls.files.certFile, 'utf8'));
    // THEN each Redis serves the new certificate within the loop's interval, without a restart
    for (const node of redisNodes) {
      await waitFor(`${node.port} to serve the renewed certificate`, async () => (await servedFingerprint(node.port)) === renewed, 15_000, 250);
    }
    expect(await Promise.all(redisNodes.map(pid))).toEqual(pids);
    // AND Sentinel 0 exits at once (Sentinel cannot re-read its files), while 1 and 2 wait 30 s and 60 s, so a quorum stays
    await waitFor('Sentinel 0 to exit on the renewal', async () => !sentinels[0].running(), 15_000, 250);
    expect([sentinels[1].running(), sentinels[2].running()]).toEqual([true, true]);
    // WHEN the kubelet starts it again
    await sentinels[0].restart();
    // THEN it serves the renewed certificate and names the current master, which it asked its peers for
    expect(await servedFingerprint(sentinels[0].port)).toBe(renewed);
    expect((await askSentinel(sentinels[0].port, ['--raw', 'sentinel', 'get-master-addr-by-name', masterName])).trim().split('\n'))
      .toEqual(['127.0.0.1', String(newMaster.port)]);
  });
});
