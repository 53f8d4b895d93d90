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
import { ProcessGroup, run, waitFor } from './support/processes';
import { infoField, redisCli, RedisNode, startRedisCluster, TEST_REDIS_PASSWORD, testAclPasswords } from './support/redis';
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

test('the service\'s cache client (node-redis) and queue connection (ioredis) connect over verified TLS from the wiring\'s env', async () => {
  const cache = cacheClientFromEnv(clusterEnv(ca))!;
  const queue = queueConnectionFromEnv(clusterEnv(ca), 'producer')!;
  try {
    await waitFor('the cache client to write and read over TLS', async () => {
      await cache.set('tls:{a}', 'one', 60).catch(() => undefined);
      return (await cache.get('tls:{a}').catch(() => null)) === 'one';
    });
    // A producer's connection fails commands until it is connected: wait for it.
    await waitFor('the queue connection to answer over TLS', async () => (await queue.ping().catch(() => undefined)) === 'PONG');
    expect(await queue.set('tls:{q}', 'two')).toBe('OK');
    expect(await queue.get('tls:{q}')).toBe('two');
  } finally {
    await cache.close();
    queue.disconnect();
  }
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
